/* wg_ratelimit.h - per-source rate limiter for WireGuard handshake messages.
 *
 * Under load, handshake messages cost a Curve25519 computation each, so the
 * whitepaper (§5.3) has the receiver bound the work any one source can ask
 * for.  This follows the Linux kernel's drivers/net/wireguard/ratelimiter.c:
 * a token bucket per source address (a whole /64 for IPv6, since one host
 * can own that many addresses), 20 packets a second with a burst of 5, in a
 * keyed-hash table of bounded size whose idle entries are collected.
 * Time is passed in (nanoseconds, any monotonic origin) so that callers and
 * tests control it.
 */
#ifndef ELK_WG_RATELIMIT_H
#define ELK_WG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define ELK_WG_RATELIMIT_DEFAULT_PACKETS_PER_SECOND 20
#define ELK_WG_RATELIMIT_DEFAULT_BURST 5
#define ELK_WG_RATELIMIT_DEFAULT_TABLE_SIZE 4096
#define ELK_WG_RATELIMIT_DEFAULT_MAX_ENTRIES (8 * 4096)
/* Entries idle this long are forgotten; by then their bucket is full again,
 * so forgetting them changes no decision. */
#define ELK_WG_RATELIMIT_DEFAULT_IDLE_NS 1000000000ull

struct elk_wg_ratelimit_cfg {
	uint32_t packets_per_second;	/* > 0 */
	uint32_t burst;			/* > 0 */
	uint32_t table_size;		/* buckets, power of two */
	uint32_t max_entries;		/* sources tracked at once, > 0 */
	uint64_t idle_ns;		/* also the collection period */
};

struct elk_wg_rl_entry;

struct elk_wg_ratelimit {
	struct elk_wg_ratelimit_cfg cfg;
	uint64_t cost_ns, tokens_max, next_gc;
	uint32_t *heads;		/* bucket -> first entry index */
	struct elk_wg_rl_entry *pool;
	uint32_t free_head, nr_entries;
	unsigned char hash_key[16];
};

/* Fills in the defaults above. */
void elk_wg_ratelimit_default_cfg(struct elk_wg_ratelimit_cfg *cfg);

/* cfg may be NULL for the defaults.  -EINVAL, -ENOMEM or -EIO (no
 * randomness for the hash key). */
int elk_wg_ratelimit_init(struct elk_wg_ratelimit *rl,
			  const struct elk_wg_ratelimit_cfg *cfg);
void elk_wg_ratelimit_free(struct elk_wg_ratelimit *rl);

/* May one more handshake message from this source be processed at now?
 * 0 if so; -EAGAIN if the source is over its rate; -ENOSPC if the table is
 * full of other sources; -EAFNOSUPPORT.  addr: 4 or 16 bytes, network order.
 */
int elk_wg_ratelimit_allow(struct elk_wg_ratelimit *rl, int family,
			   const uint8_t *addr, uint64_t now);

/* Forget sources idle for longer than idle_ns; allow() also does this at
 * most once per idle_ns, so calling it is optional.  Returns how many. */
int elk_wg_ratelimit_gc(struct elk_wg_ratelimit *rl, uint64_t now);

/* Sources currently tracked. */
uint32_t elk_wg_ratelimit_count(const struct elk_wg_ratelimit *rl);

#endif
