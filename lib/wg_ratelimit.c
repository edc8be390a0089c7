/* wg_ratelimit.c - token-bucket limiter per source for handshake messages.
 *
 * Same policy as the Linux kernel's WireGuard ratelimiter.c (whitepaper
 * §5.3 asks for one): each source has a bucket holding at most burst
 * packets' worth of time, refilled by elapsed time, a packet costs
 * 1/packets_per_second; a newly seen source starts with a full bucket.
 * Entries come from a fixed pool so a flood of spoofed sources cannot grow
 * memory: when the pool is exhausted new sources are refused until idle
 * entries are collected.  The bucket index is SipHash (crypto_shorthash)
 * under a random key, so that an attacker cannot aim sources at one chain.
 */
#include "wg_ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#define NONE UINT32_MAX
#define NSEC_PER_SEC 1000000000ull

struct elk_wg_rl_entry {
	uint64_t last_ns, tokens;
	uint8_t key[9];		/* family tag, 4 or 8 address bytes */
	uint32_t next;		/* chain in bucket, or free list */
};

void elk_wg_ratelimit_default_cfg(struct elk_wg_ratelimit_cfg *cfg)
{
	cfg->packets_per_second = ELK_WG_RATELIMIT_DEFAULT_PACKETS_PER_SECOND;
	cfg->burst = ELK_WG_RATELIMIT_DEFAULT_BURST;
	cfg->table_size = ELK_WG_RATELIMIT_DEFAULT_TABLE_SIZE;
	cfg->max_entries = ELK_WG_RATELIMIT_DEFAULT_MAX_ENTRIES;
	cfg->idle_ns = ELK_WG_RATELIMIT_DEFAULT_IDLE_NS;
}

int elk_wg_ratelimit_init(struct elk_wg_ratelimit *rl,
			  const struct elk_wg_ratelimit_cfg *cfg)
{
	struct elk_wg_ratelimit_cfg def;
	uint32_t i;

	memset(rl, 0, sizeof(*rl));
	if (!cfg) {
		elk_wg_ratelimit_default_cfg(&def);
		cfg = &def;
	}
	if (!cfg->packets_per_second || !cfg->burst || !cfg->max_entries ||
	    cfg->max_entries == NONE || !cfg->table_size ||
	    (cfg->table_size & (cfg->table_size - 1)) || !cfg->idle_ns ||
	    cfg->packets_per_second > NSEC_PER_SEC)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;

	rl->cfg = *cfg;
	rl->cost_ns = NSEC_PER_SEC / cfg->packets_per_second;
	rl->tokens_max = rl->cost_ns * cfg->burst;
	rl->heads = malloc(cfg->table_size * sizeof(*rl->heads));
	rl->pool = malloc(cfg->max_entries * sizeof(*rl->pool));
	if (!rl->heads || !rl->pool) {
		elk_wg_ratelimit_free(rl);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->table_size; i++)
		rl->heads[i] = NONE;
	for (i = 0; i < cfg->max_entries; i++)
		rl->pool[i].next = i + 1 < cfg->max_entries ? i + 1 : NONE;
	rl->free_head = 0;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	return 0;
}

void elk_wg_ratelimit_free(struct elk_wg_ratelimit *rl)
{
	free(rl->heads);
	free(rl->pool);
	memset(rl, 0, sizeof(*rl));
}

int elk_wg_ratelimit_gc(struct elk_wg_ratelimit *rl, uint64_t now)
{
	int freed = 0;

	for (uint32_t b = 0; b < rl->cfg.table_size; b++) {
		uint32_t *link = &rl->heads[b];

		while (*link != NONE) {
			struct elk_wg_rl_entry *e = &rl->pool[*link];
			uint32_t idx = *link;

			if (now > e->last_ns &&
			    now - e->last_ns > rl->cfg.idle_ns) {
				*link = e->next;
				e->next = rl->free_head;
				rl->free_head = idx;
				rl->nr_entries--;
				freed++;
			} else {
				link = &e->next;
			}
		}
	}
	rl->next_gc = now + rl->cfg.idle_ns;
	return freed;
}

int elk_wg_ratelimit_allow(struct elk_wg_ratelimit *rl, int family,
			   const uint8_t *addr, uint64_t now)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint8_t key[9] = { 0 };
	struct elk_wg_rl_entry *e;
	uint32_t b, idx;
	uint64_t tokens;

	if (family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, addr, 4);
	} else if (family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, addr, 8);	/* the whole /64 */
	} else {
		return -EAFNOSUPPORT;
	}
	if (now >= rl->next_gc)
		elk_wg_ratelimit_gc(rl, now);

	crypto_shorthash(h, key, sizeof(key), rl->hash_key);
	memcpy(&b, h, sizeof(b));
	b &= rl->cfg.table_size - 1;

	for (idx = rl->heads[b]; idx != NONE; idx = e->next) {
		e = &rl->pool[idx];
		if (memcmp(e->key, key, sizeof(key)))
			continue;
		/* The burst lives in the bucket's capacity, not the rate:
		 * a source idle long enough gets burst packets at once. */
		tokens = e->tokens;
		if (now > e->last_ns) {
			tokens += now - e->last_ns;
			e->last_ns = now;
		}
		if (tokens > rl->tokens_max)
			tokens = rl->tokens_max;
		if (tokens < rl->cost_ns) {
			e->tokens = tokens;
			return -EAGAIN;
		}
		e->tokens = tokens - rl->cost_ns;
		return 0;
	}

	if (rl->free_head == NONE)
		return -ENOSPC;
	idx = rl->free_head;
	e = &rl->pool[idx];
	rl->free_head = e->next;
	memcpy(e->key, key, sizeof(key));
	e->last_ns = now;
	e->tokens = rl->tokens_max - rl->cost_ns;
	e->next = rl->heads[b];
	rl->heads[b] = idx;
	rl->nr_entries++;
	return 0;
}

uint32_t elk_wg_ratelimit_count(const struct elk_wg_ratelimit *rl)
{
	return rl->nr_entries;
}
