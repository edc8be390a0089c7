/* wg_device.c - a WireGuard device as a sans-IO state machine.
 *
 * Implements the contract of wg_device.h: the data plane of the whitepaper
 * (J. A. Donenfeld, "WireGuard: Next Generation Kernel Network Tunnel")
 * §5.3 (cookies under load), §5.4 (handshake, transport data and its
 * padding, replay window), §6 (timers, rekeying, keypair rotation) and
 * cryptokey routing (§2), with the rules the Linux kernel's
 * drivers/net/wireguard (send.c, receive.c, peer.c, noise.c, netlink.c)
 * adds where the paper is silent: which keypair a responder may use before
 * confirmation, previous/current/next rotation, staged-packet limits, rx/tx
 * byte accounting on whole UDP payloads, endpoint roaming, and the order of
 * timer hooks. The cryptography, mac/cookie, replay, allowed-IPs,
 * rate-limit and timer logic live in their own pure modules; this file only
 * wires them together, owns the tables and turns every input into outputs
 * on an internal FIFO that elk_wg_dev_poll() drains.
 *
 * Deliberate simplifications, all noted where they occur: transport
 * plaintext is padded to 16 bytes and clamped to the MTU only when one was
 * configured (ELK_DEV_MTU); our own source address is not tracked, so
 * "clear endpoint source" is a no-op; under-load detection counts
 * handshake messages in a sliding one-second window instead of measuring a
 * queue.
 */
#include "wg_device.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_allowedips.h"
#include "wg_cookie.h"
#include "wg_noise.h"
#include "wg_proto.h"
#include "wg_ratelimit.h"
#include "wg_replay.h"

#define NSEC ELK_WG_NSEC_PER_SEC
#define INDEX_BUCKETS 4096u	/* power of two */
#define PEER_BUCKETS 256u	/* power of two */
/* Outputs waiting for poll(). A peer's staged packets take one slot, so
 * this bounds handshake messages and cookie replies, not data. */
#define OUTQ_LEN 1024u
#define DEFAULT_MAX_STAGED 128	/* the kernel's MAX_STAGED_PACKETS */
#define DEFAULT_UNDER_LOAD 1000
/* wg_noise.c rounds TAI64N nanoseconds down to this; stepping a peer's
 * timestamp by at least this much keeps it strictly increasing. */
#define TAI64N_GRAIN (1ull << 24)

enum idx_kind { IDX_HANDSHAKE, IDX_KEYPAIR };

struct peer;
struct keypair;

/* One live local index: the sender index of a handshake in flight or the
 * receiver index of a keypair. Embedded in its owner. */
struct idx_entry {
	struct idx_entry *next;
	uint32_t index;
	enum idx_kind kind;
	struct peer *peer;
	struct keypair *kp;
};

struct keypair {
	struct idx_entry entry;
	struct elk_wg_noise_keypair k;
	struct elk_wg_replay replay;
	uint64_t birth;
	uint64_t send_counter;	/* next nonce */
	bool can_send;		/* false once the identity changed */
};

struct staged {
	struct staged *next;
	size_t len;		/* 0: a keepalive */
	uint8_t data[];
};

struct peer {
	struct peer *next;	/* all peers, in order of creation */
	struct peer *hnext;	/* public-key hash bucket */
	uint8_t pub[ELK_WG_KEY_LEN];
	struct elk_wg_noise_handshake hs;
	struct elk_wg_cookie_maker cookie;
	struct idx_entry hs_entry;
	bool hs_indexed;
	struct keypair *prev, *cur, *nextkp;
	struct staged *staged_head, *staged_tail;
	uint32_t n_staged;
	bool flush_queued;
	struct sockaddr_storage ep;
	socklen_t eplen;	/* 0: no endpoint */
	uint64_t rx_bytes, tx_bytes;
	uint64_t last_hs_wall;	/* ns since the epoch, 0: never */
	uint64_t last_ts_wall;	/* of the last initiation's timestamp */
	uint16_t keepalive;
	struct elk_wg_timers timers;
};

enum task_kind { TASK_DEAD, TASK_MSG, TASK_FLUSH };

struct task {
	enum task_kind kind;
	struct peer *peer;	/* NULL for cookie replies */
	size_t len;
	socklen_t addrlen;
	struct sockaddr_storage addr;
	uint8_t msg[ELK_WG_INITIATION_SIZE];
};

struct elk_wg_dev {
	struct elk_wg_dev_cfg cfg;
	struct elk_wg_noise_identity id;
	struct elk_wg_cookie_checker checker;
	struct elk_wg_ratelimit rl;
	struct elk_wg_allowedips aips;
	struct peer *peers, *peers_tail;
	size_t n_peers;
	struct peer *pbucket[PEER_BUCKETS];
	struct idx_entry *ibucket[INDEX_BUCKETS];
	struct task *q;
	unsigned q_head, q_len;
	uint16_t listen_port;
	uint32_t fwmark, mtu;
	int64_t wall_off;	/* wall clock minus monotonic clock */
	/* under-load estimate: handshake messages in this and the last
	 * whole second of the monotonic clock */
	uint64_t load_sec, last_under_load;
	uint32_t load_cur, load_prev;
	bool was_under_load;
};

void elk_wg_dev_default_cfg(struct elk_wg_dev_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	elk_wg_timers_default_cfg(&cfg->timers);
	cfg->under_load_per_sec = DEFAULT_UNDER_LOAD;
	cfg->ratelimit_per_sec = ELK_WG_RATELIMIT_DEFAULT_PACKETS_PER_SECOND;
	cfg->ratelimit_burst = ELK_WG_RATELIMIT_DEFAULT_BURST;
	cfg->max_staged = DEFAULT_MAX_STAGED;
}

static uint64_t wall_ns(const struct elk_wg_dev *d, uint64_t now)
{
	return (uint64_t)((int64_t)now + d->wall_off);
}

/* ---- index table ------------------------------------------------------ */

static struct idx_entry **ibucket(struct elk_wg_dev *d, uint32_t index)
{
	/* Indices are our own random numbers: their low bits hash well. */
	return &d->ibucket[index & (INDEX_BUCKETS - 1)];
}

static struct idx_entry *idx_find(struct elk_wg_dev *d, uint32_t index)
{
	struct idx_entry *e;

	for (e = *ibucket(d, index); e; e = e->next)
		if (e->index == index)
			return e;
	return NULL;
}

static void idx_add(struct elk_wg_dev *d, struct idx_entry *e)
{
	struct idx_entry **b = ibucket(d, e->index);

	e->next = *b;
	*b = e;
}

static void idx_del(struct elk_wg_dev *d, struct idx_entry *e)
{
	struct idx_entry **pp;

	for (pp = ibucket(d, e->index); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			return;
		}
	}
}

/* Random so an observer learns nothing from them (§5.4.2), unique so a
 * packet names one handshake or keypair. */
static uint32_t idx_new(struct elk_wg_dev *d)
{
	uint32_t i;

	do
		i = randombytes_random();
	while (idx_find(d, i));
	return i;
}

static void hs_unindex(struct elk_wg_dev *d, struct peer *p)
{
	if (p->hs_indexed) {
		idx_del(d, &p->hs_entry);
		p->hs_indexed = false;
	}
}

static void hs_index(struct elk_wg_dev *d, struct peer *p, uint32_t index)
{
	hs_unindex(d, p);
	p->hs_entry.index = index;
	p->hs_entry.kind = IDX_HANDSHAKE;
	p->hs_entry.peer = p;
	p->hs_entry.kp = NULL;
	idx_add(d, &p->hs_entry);
	p->hs_indexed = true;
}

/* ---- peer table ------------------------------------------------------- */

static struct peer **pbucket(struct elk_wg_dev *d, const uint8_t pub[ELK_WG_KEY_LEN])
{
	/* Only configured keys are stored, so a chosen key can only make
	 * its own lookup slower. */
	return &d->pbucket[elk_wg_le32_get(pub) & (PEER_BUCKETS - 1)];
}

static struct peer *peer_find(struct elk_wg_dev *d, const uint8_t pub[ELK_WG_KEY_LEN])
{
	struct peer *p;

	for (p = *pbucket(d, pub); p; p = p->hnext)
		if (!sodium_memcmp(p->pub, pub, ELK_WG_KEY_LEN))
			return p;
	return NULL;
}

/* ---- keypairs (kernel noise.c rules) ---------------------------------- */

static void kp_free(struct elk_wg_dev *d, struct keypair *kp)
{
	if (!kp)
		return;
	idx_del(d, &kp->entry);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

static void keys_clear(struct elk_wg_dev *d, struct peer *p)
{
	kp_free(d, p->prev);
	kp_free(d, p->cur);
	kp_free(d, p->nextkp);
	p->prev = p->cur = p->nextkp = NULL;
}

/* The initiator may use its new keypair at once: it knows the responder
 * has it. The responder parks its own in `next` until the initiator's
 * first packet on it proves the initiator has it too. */
static void keypair_add(struct elk_wg_dev *d, struct peer *p, struct keypair *kp)
{
	if (kp->k.is_initiator) {
		kp_free(d, p->prev);
		if (p->nextkp) {
			p->prev = p->nextkp;
			p->nextkp = NULL;
			kp_free(d, p->cur);
		} else {
			p->prev = p->cur;
		}
		p->cur = kp;
	} else {
		kp_free(d, p->nextkp);
		p->nextkp = kp;
		/* current becomes previous once next is confirmed */
		kp_free(d, p->prev);
		p->prev = NULL;
	}
}

/* True if kp was the unconfirmed next keypair, now current. */
static bool keypair_confirm(struct elk_wg_dev *d, struct peer *p, struct keypair *kp)
{
	if (p->nextkp != kp)
		return false;
	kp_free(d, p->prev);
	p->prev = p->cur;
	p->cur = kp;
	p->nextkp = NULL;
	return true;
}

static struct keypair *keypair_derive(struct elk_wg_dev *d, struct peer *p, uint64_t now)
{
	struct keypair *kp = calloc(1, sizeof(*kp));

	if (!kp) {
		elk_wg_noise_handshake_clear(&p->hs);
		hs_unindex(d, p);
		return NULL;
	}
	if (elk_wg_noise_derive_keypair(&p->hs, &kp->k)) {
		sodium_memzero(kp, sizeof(*kp));
		free(kp);
		hs_unindex(d, p);
		return NULL;
	}
	/* The handshake's index now names the keypair. */
	hs_unindex(d, p);
	elk_wg_replay_init(&kp->replay);
	kp->birth = now;
	kp->can_send = true;
	kp->entry.index = kp->k.local_index;
	kp->entry.kind = IDX_KEYPAIR;
	kp->entry.peer = p;
	kp->entry.kp = kp;
	idx_add(d, &kp->entry);
	keypair_add(d, p, kp);
	return kp;
}

static bool aged(uint64_t now, uint64_t birth, uint64_t age)
{
	return now < birth || now - birth >= age;
}

static bool can_send(const struct elk_wg_dev *d, const struct keypair *kp, uint64_t now)
{
	return kp && kp->can_send && kp->send_counter < ELK_WG_REJECT_AFTER_MESSAGES &&
	       !aged(now, kp->birth, d->cfg.timers.reject_after_time);
}

/* ---- staged packets --------------------------------------------------- */

static void staged_pop(struct peer *p)
{
	struct staged *s = p->staged_head;

	if (!s)
		return;
	p->staged_head = s->next;
	if (!p->staged_head)
		p->staged_tail = NULL;
	p->n_staged--;
	sodium_memzero(s->data, s->len);
	free(s);
}

static void staged_purge(struct peer *p)
{
	while (p->staged_head)
		staged_pop(p);
}

static int stage(struct elk_wg_dev *d, struct peer *p, const uint8_t *pkt, size_t len)
{
	struct staged *s = malloc(sizeof(*s) + len);

	if (!s)
		return -ENOMEM;
	s->next = NULL;
	s->len = len;
	if (len)
		memcpy(s->data, pkt, len);
	/* Like the kernel: the newest packets are the ones worth keeping. */
	while (p->n_staged >= d->cfg.max_staged)
		staged_pop(p);
	if (p->staged_tail)
		p->staged_tail->next = s;
	else
		p->staged_head = s;
	p->staged_tail = s;
	p->n_staged++;
	return 0;
}

/* ---- output queue ----------------------------------------------------- */

static struct task *q_push(struct elk_wg_dev *d)
{
	struct task *t;

	if (d->q_len == OUTQ_LEN)
		return NULL;
	t = &d->q[(d->q_head + d->q_len++) % OUTQ_LEN];
	t->kind = TASK_DEAD;
	t->peer = NULL;
	t->len = 0;
	t->addrlen = 0;
	return t;
}

static void q_pop(struct elk_wg_dev *d)
{
	struct task *t = &d->q[d->q_head];

	sodium_memzero(t->msg, sizeof(t->msg));
	t->kind = TASK_DEAD;
	d->q_head = (d->q_head + 1) % OUTQ_LEN;
	d->q_len--;
}

static int q_msg(struct elk_wg_dev *d, struct peer *p, const uint8_t *msg, size_t len,
		 const struct sockaddr_storage *to, socklen_t tolen)
{
	struct task *t;

	if (!tolen)
		return -EHOSTUNREACH;
	t = q_push(d);
	if (!t)
		return -ENOBUFS;
	t->kind = TASK_MSG;
	t->peer = p;
	memcpy(t->msg, msg, len);
	t->len = len;
	memcpy(&t->addr, to, tolen);
	t->addrlen = tolen;
	return 0;
}

static void q_flush(struct elk_wg_dev *d, struct peer *p)
{
	struct task *t;

	if (p->flush_queued)
		return;
	t = q_push(d);
	if (!t)
		return;	/* retried on the next send_staged */
	t->kind = TASK_FLUSH;
	t->peer = p;
	p->flush_queued = true;
}

static void q_forget_peer(struct elk_wg_dev *d, struct peer *p)
{
	for (unsigned i = 0; i < d->q_len; i++) {
		struct task *t = &d->q[(d->q_head + i) % OUTQ_LEN];

		if (t->peer == p) {
			t->kind = TASK_DEAD;
			t->peer = NULL;
		}
	}
}

/* ---- timers ----------------------------------------------------------- */

static void send_initiation(struct elk_wg_dev *d, struct peer *p, uint64_t now);
static void send_keepalive(struct elk_wg_dev *d, struct peer *p, uint64_t now);

static void zero_keys(struct elk_wg_dev *d, struct peer *p)
{
	keys_clear(d, p);
	elk_wg_noise_handshake_clear(&p->hs);
	hs_unindex(d, p);
}

static void apply_actions(struct elk_wg_dev *d, struct peer *p, unsigned act, uint64_t now)
{
	if (act & ELK_WG_ACT_PURGE_STAGED)
		staged_purge(p);
	if (act & ELK_WG_ACT_ZERO_KEYS)
		zero_keys(d, p);
	/* ELK_WG_ACT_EXPIRE_KEYPAIR needs nothing: every use of a keypair
	 * checks its age. ELK_WG_ACT_CLEAR_ENDPOINT_SRC neither: the caller
	 * picks our source address. */
	if (act & ELK_WG_ACT_SEND_INITIATION)
		send_initiation(d, p, now);
	if (act & ELK_WG_ACT_SEND_KEEPALIVE)
		send_keepalive(d, p, now);
}

static void timer_event(struct elk_wg_dev *d, struct peer *p,
			enum elk_wg_timer_event_type type, uint64_t send_counter, uint64_t now)
{
	struct elk_wg_timer_event ev = {
		.type = type,
		.random = randombytes_random(),
		.send_counter = send_counter,
		.persistent_keepalive = p->keepalive,
	};
	unsigned act = 0;

	if (elk_wg_timers_event(&p->timers, &d->cfg.timers, now, &ev, &act))
		return;
	apply_actions(d, p, act, now);
}

/* ---- sending ---------------------------------------------------------- */

static size_t padded_len(const struct elk_wg_dev *d, size_t len)
{
	size_t padded = (len + ELK_WG_PADDING_MULTIPLE - 1) & ~(size_t)(ELK_WG_PADDING_MULTIPLE - 1);

	/* §5.4.6 pads to 16; the kernel never pads past the MTU. We know the
	 * MTU only if it was configured. */
	if (d->mtu && padded > d->mtu)
		padded = len > d->mtu ? len : d->mtu;
	return padded;
}

/* Encrypt plain (which may sit anywhere, even inside out) as one transport
 * message on p's current keypair. Returns the message length, or 0 if it
 * does not fit in cap. */
static size_t seal(const struct elk_wg_dev *d, struct keypair *kp, const uint8_t *plain,
		   size_t len, uint8_t *out, size_t cap)
{
	struct elk_wg_msg_transport_header *h = (struct elk_wg_msg_transport_header *)out;
	size_t padded = padded_len(d, len);
	uint8_t *body = out + ELK_WG_TRANSPORT_HEADER_SIZE;

	if (cap < ELK_WG_TRANSPORT_HEADER_SIZE + padded + ELK_WG_AUTHTAG_LEN)
		return 0;
	if (len)
		memmove(body, plain, len);
	memset(body + len, 0, padded - len);
	elk_wg_le32_put(h->type, ELK_WG_MSG_TRANSPORT_DATA);
	elk_wg_le32_put(h->receiver, kp->k.remote_index);
	elk_wg_le64_put(h->counter, kp->send_counter);
	elk_wg_aead_encrypt(body, body, padded, NULL, 0, kp->send_counter, kp->k.send_key);
	kp->send_counter++;
	return ELK_WG_TRANSPORT_HEADER_SIZE + padded + ELK_WG_AUTHTAG_LEN;
}

/* Send one packet on the current keypair, which the caller checked. */
static struct elk_wg_result send_data(struct elk_wg_dev *d, struct peer *p, const uint8_t *pkt,
				      size_t len, uint8_t *out, size_t cap, uint64_t now)
{
	struct elk_wg_result r = { 0 };
	size_t n;

	if (!p->eplen) {
		r.dropped = -EHOSTUNREACH;
		return r;
	}
	n = seal(d, p->cur, pkt, len, out, cap);
	if (!n) {
		r.dropped = -EMSGSIZE;
		return r;
	}
	r.op = ELK_WG_TO_NETWORK;
	r.len = n;
	memcpy(&r.addr, &p->ep, p->eplen);
	r.addrlen = p->eplen;
	p->tx_bytes += n;
	timer_event(d, p, len ? ELK_WG_TEV_DATA_SENT : ELK_WG_TEV_KEEPALIVE_SENT,
		    p->cur->send_counter, now);
	return r;
}

static void send_staged(struct elk_wg_dev *d, struct peer *p, uint64_t now)
{
	if (!p->n_staged)
		return;
	if (can_send(d, p->cur, now))
		q_flush(d, p);
	else
		timer_event(d, p, ELK_WG_TEV_WANT_HANDSHAKE, 0, now);
}

/* Kernel semantics: staged data doubles as the keepalive; only with
 * nothing staged does an empty packet go out. */
static void send_keepalive(struct elk_wg_dev *d, struct peer *p, uint64_t now)
{
	if (!p->n_staged && stage(d, p, NULL, 0))
		return;
	send_staged(d, p, now);
}

static void make_timestamp(struct elk_wg_dev *d, struct peer *p, uint64_t now,
			   uint8_t ts[ELK_WG_TIMESTAMP_LEN])
{
	uint64_t w = wall_ns(d, now);

	/* The responder takes only strictly newer timestamps, and a clock
	 * can step back or two initiations fall in one grain. */
	if (p->last_ts_wall && w < p->last_ts_wall + TAI64N_GRAIN)
		w = p->last_ts_wall + TAI64N_GRAIN;
	p->last_ts_wall = w;
	elk_wg_tai64n(ts, w / NSEC, (uint32_t)(w % NSEC));
}

static void send_initiation(struct elk_wg_dev *d, struct peer *p, uint64_t now)
{
	uint8_t msg[ELK_WG_INITIATION_SIZE], ts[ELK_WG_TIMESTAMP_LEN];
	uint32_t index;

	if (!d->id.has_identity)
		return;
	hs_unindex(d, p);
	index = idx_new(d);
	make_timestamp(d, p, now, ts);
	if (elk_wg_noise_create_initiation(&p->hs, &d->id, index, ts, msg))
		return;
	hs_index(d, p, index);
	elk_wg_cookie_add_macs(&p->cookie, msg, sizeof(msg), now);
	/* Without an endpoint it goes nowhere, yet counts as sent, as in the
	 * kernel: the retransmit timer keeps trying. */
	q_msg(d, p, msg, sizeof(msg), &p->ep, p->eplen);
	sodium_memzero(msg, sizeof(msg));
	timer_event(d, p, ELK_WG_TEV_HANDSHAKE_INITIATED, 0, now);
}

/* ---- poll ------------------------------------------------------------- */

/* Next staged packet of the flush task at the head of the queue. True with
 * *r filled when a datagram was produced. */
static bool flush_one(struct elk_wg_dev *d, struct peer *p, uint8_t *out, size_t cap,
		      uint64_t now, struct elk_wg_result *r)
{
	struct staged *s = p->staged_head;

	if (!s || !can_send(d, p->cur, now)) {
		p->flush_queued = false;
		q_pop(d);
		if (s)
			timer_event(d, p, ELK_WG_TEV_WANT_HANDSHAKE, 0, now);
		return false;
	}
	/* Detached first: send_data's timer actions may touch the queue. */
	p->staged_head = s->next;
	if (!p->staged_head)
		p->staged_tail = NULL;
	p->n_staged--;
	if (!p->staged_head) {
		/* ours is still the head: actions only append */
		p->flush_queued = false;
		q_pop(d);
	}
	*r = send_data(d, p, s->data, s->len, out, cap, now);
	sodium_memzero(s->data, s->len);
	free(s);
	return r->op != ELK_WG_NOTHING;
}

struct elk_wg_result elk_wg_dev_poll(struct elk_wg_dev *d, uint8_t *out, size_t cap,
				     uint64_t now_ns)
{
	struct elk_wg_result r = { 0 };

	while (d->q_len) {
		struct task *t = &d->q[d->q_head];

		switch (t->kind) {
		case TASK_MSG:
			if (cap < t->len) {
				q_pop(d);
				r.dropped = -ENOBUFS;
				continue;
			}
			memset(&r, 0, sizeof(r));
			memcpy(out, t->msg, t->len);
			r.op = ELK_WG_TO_NETWORK;
			r.len = t->len;
			memcpy(&r.addr, &t->addr, t->addrlen);
			r.addrlen = t->addrlen;
			if (t->peer)
				t->peer->tx_bytes += t->len;
			q_pop(d);
			return r;
		case TASK_FLUSH:
			if (flush_one(d, t->peer, out, cap, now_ns, &r))
				return r;
			continue;
		case TASK_DEAD:
			q_pop(d);
			continue;
		}
	}
	r.op = ELK_WG_NOTHING;
	return r;
}

/* ---- encapsulate ------------------------------------------------------ */

struct elk_wg_result elk_wg_dev_encapsulate(struct elk_wg_dev *d, const uint8_t *pkt, size_t len,
					    uint8_t *out, size_t cap, uint64_t now_ns)
{
	struct elk_wg_result r = { 0 };
	struct peer *p;
	int family, dropped = 0;
	const uint8_t *dst;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		family = AF_INET;
		dst = pkt + 16;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		family = AF_INET6;
		dst = pkt + 24;
	} else {
		r.dropped = -EINVAL;
		return r;
	}
	p = elk_wg_allowedips_lookup(&d->aips, family, dst);
	if (!p || !p->eplen) {
		r.dropped = -EHOSTUNREACH;
		return r;
	}
	/* Straight out if nothing is queued ahead of it, so the common
	 * case copies once and allocates nothing. */
	if (!p->n_staged && can_send(d, p->cur, now_ns)) {
		r = send_data(d, p, pkt, len, out, cap, now_ns);
		if (r.op != ELK_WG_NOTHING || r.dropped)
			return r;
	}
	if (stage(d, p, pkt, len))
		dropped = -ENOMEM;
	send_staged(d, p, now_ns);
	r = elk_wg_dev_poll(d, out, cap, now_ns);
	r.dropped = dropped;
	return r;
}

/* ---- decapsulate ------------------------------------------------------ */

/* A_m of §5.4.7 (address then port, network order) and the bare IP for the
 * rate limiter. */
static int src_bytes(const struct sockaddr *sa, socklen_t salen, uint8_t buf[18],
		     size_t *buflen, int *family)
{
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(buf, &s4->sin_addr, 4);
		memcpy(buf + 4, &s4->sin_port, 2);
		*buflen = 6;
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(buf, &s6->sin6_addr, 16);
		memcpy(buf + 16, &s6->sin6_port, 2);
		*buflen = 18;
		*family = AF_INET6;
		return 0;
	}
	return -EAFNOSUPPORT;
}

static bool src_ok(const struct sockaddr *src, socklen_t srclen)
{
	uint8_t a[18];
	size_t alen;
	int family;

	return !src_bytes(src, srclen, a, &alen, &family);
}

/* Roaming (§2): the endpoint follows the last authenticated packet. The
 * caller checked src with src_ok(). */
static void set_endpoint(struct peer *p, const struct sockaddr *src, socklen_t srclen)
{
	socklen_t n = src->sa_family == AF_INET ? (socklen_t)sizeof(struct sockaddr_in)
						: (socklen_t)sizeof(struct sockaddr_in6);

	(void)srclen;
	memset(&p->ep, 0, sizeof(p->ep));
	memcpy(&p->ep, src, n);
	p->eplen = n;
}

static bool under_load(struct elk_wg_dev *d, uint64_t now)
{
	uint64_t sec = now / NSEC, frac = now % NSEC, est;

	if (sec != d->load_sec) {
		d->load_prev = sec == d->load_sec + 1 ? d->load_cur : 0;
		d->load_cur = 0;
		d->load_sec = sec;
	}
	if (d->load_cur < UINT32_MAX)
		d->load_cur++;
	if (!d->cfg.under_load_per_sec)
		return false;
	/* The last second's messages: this second's plus the share of the
	 * previous one still inside the window. */
	est = d->load_cur + (uint64_t)d->load_prev * (NSEC - frac) / NSEC;
	if (est > d->cfg.under_load_per_sec) {
		d->was_under_load = true;
		d->last_under_load = now;
		return true;
	}
	/* Stay under load a second longer, as the kernel does, so a flood
	 * that pauses does not flip the state back and forth. */
	return d->was_under_load && !aged(now, d->last_under_load, NSEC);
}

static int rx_initiation(struct elk_wg_dev *d, const struct sockaddr *src, socklen_t srclen,
			 const uint8_t *pkt, size_t len, uint64_t now)
{
	struct elk_wg_noise_initiation_ctx ctx;
	uint8_t msg[ELK_WG_RESPONSE_SIZE];
	struct peer *p;
	int ret;

	if (elk_wg_noise_consume_initiation_begin(&d->id, pkt, &ctx))
		return -EBADMSG;
	p = peer_find(d, ctx.remote_static);
	if (!p) {
		sodium_memzero(&ctx, sizeof(ctx));
		return -ENOKEY;
	}
	ret = elk_wg_noise_consume_initiation_finish(&p->hs, &d->id, &ctx, now);
	if (ret)
		return ret == -EKEYREJECTED ? -ENOKEY : ret;
	/* finish() replaced any initiation of ours in flight */
	hs_unindex(d, p);
	set_endpoint(p, src, srclen);
	p->rx_bytes += len;
	timer_event(d, p, ELK_WG_TEV_HANDSHAKE_INITIATION_RECEIVED, 0, now);

	ret = elk_wg_noise_create_response(&p->hs, &d->id, idx_new(d), msg);
	if (ret) {
		elk_wg_noise_handshake_clear(&p->hs);
		return ret;
	}
	elk_wg_cookie_add_macs(&p->cookie, msg, sizeof(msg), now);
	if (!keypair_derive(d, p, now)) {
		sodium_memzero(msg, sizeof(msg));
		return -ENOMEM;
	}
	q_msg(d, p, msg, sizeof(msg), &p->ep, p->eplen);
	sodium_memzero(msg, sizeof(msg));
	timer_event(d, p, ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT, 0, now);
	return 0;
}

static int rx_response(struct elk_wg_dev *d, const struct sockaddr *src, socklen_t srclen,
		       const uint8_t *pkt, size_t len, uint64_t now)
{
	const struct elk_wg_msg_response *m = (const struct elk_wg_msg_response *)pkt;
	struct idx_entry *e = idx_find(d, elk_wg_le32_get(m->receiver));
	struct peer *p;
	int ret;

	if (!e || e->kind != IDX_HANDSHAKE)
		return -ENOKEY;
	p = e->peer;
	ret = elk_wg_noise_consume_response(&p->hs, &d->id, pkt);
	if (ret)
		return ret == -EINVAL || ret == -ENOENT ? -ENOKEY : ret;
	if (!keypair_derive(d, p, now))
		return -ENOMEM;
	set_endpoint(p, src, srclen);
	p->rx_bytes += len;
	p->last_hs_wall = wall_ns(d, now);
	/* Its SEND_KEEPALIVE action confirms the keys to the responder,
	 * with staged data if there is any. */
	timer_event(d, p, ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED, 0, now);
	return 0;
}

static int rx_handshake(struct elk_wg_dev *d, const struct sockaddr *src, socklen_t srclen,
			const uint8_t *pkt, size_t len, uint64_t now)
{
	uint8_t a[18];
	size_t alen;
	int family;
	bool load;

	if (src_bytes(src, srclen, a, &alen, &family))
		return -EINVAL;
	load = under_load(d, now);
	if (!d->id.has_identity)
		return -ENOKEY;
	if (elk_wg_cookie_check_mac1(&d->checker, pkt, len))
		return -EBADMSG;
	if (load) {
		/* A source address that has to prove itself (mac2) is also
		 * one that may not make us work more than its share. */
		if (elk_wg_ratelimit_allow(&d->rl, family, a, now))
			return -EBUSY;
		if (elk_wg_cookie_check_mac2(&d->checker, pkt, len, a, alen, now)) {
			struct task *t = q_push(d);

			if (!t)
				return -ENOBUFS;
			if (elk_wg_cookie_create_reply(&d->checker, t->msg, pkt, len, a, alen,
						       now)) {
				t->kind = TASK_DEAD;
				return -EINVAL;
			}
			t->kind = TASK_MSG;
			t->len = ELK_WG_COOKIE_REPLY_SIZE;
			memcpy(&t->addr, src, family == AF_INET ? sizeof(struct sockaddr_in)
								: sizeof(struct sockaddr_in6));
			t->addrlen = family == AF_INET ? sizeof(struct sockaddr_in)
						       : sizeof(struct sockaddr_in6);
			return 0;
		}
	}
	if (pkt[0] == ELK_WG_MSG_HANDSHAKE_INITIATION)
		return rx_initiation(d, src, srclen, pkt, len, now);
	return rx_response(d, src, srclen, pkt, len, now);
}

static int rx_cookie(struct elk_wg_dev *d, const uint8_t *pkt, uint64_t now)
{
	const struct elk_wg_msg_cookie_reply *m = (const struct elk_wg_msg_cookie_reply *)pkt;
	struct idx_entry *e = idx_find(d, elk_wg_le32_get(m->receiver));

	if (!e)
		return -ENOKEY;
	return elk_wg_cookie_consume_reply(&e->peer->cookie, pkt, now) ? -EBADMSG : 0;
}

/* The IP packet inside a transport message: its real length (without our
 * padding) and source address. */
static int inner_ip(const uint8_t *p, size_t len, size_t *iplen, int *family,
		    const uint8_t **srcaddr)
{
	size_t n;

	if (len >= 20 && p[0] >> 4 == 4) {
		n = (size_t)p[2] << 8 | p[3];
		if ((p[0] & 0xf) < 5 || n < (size_t)(p[0] & 0xf) * 4 || n > len)
			return -EINVAL;
		*family = AF_INET;
		*srcaddr = p + 12;
	} else if (len >= 40 && p[0] >> 4 == 6) {
		n = 40 + ((size_t)p[4] << 8 | p[5]);
		if (n > len)
			return -EINVAL;
		*family = AF_INET6;
		*srcaddr = p + 8;
	} else {
		return -EINVAL;
	}
	*iplen = n;
	return 0;
}

static int rx_data(struct elk_wg_dev *d, const struct sockaddr *src, socklen_t srclen,
		   const uint8_t *pkt, size_t len, uint8_t *out, size_t cap, uint64_t now,
		   size_t *delivered)
{
	const struct elk_wg_msg_transport_header *h = (const struct elk_wg_msg_transport_header *)pkt;
	struct idx_entry *e = idx_find(d, elk_wg_le32_get(h->receiver));
	size_t plen = len - ELK_WG_TRANSPORT_MIN_SIZE, iplen;
	const uint8_t *isrc;
	struct keypair *kp;
	struct peer *p;
	uint64_t counter = elk_wg_le64_get(h->counter);
	int family;

	*delivered = 0;
	if (!e || e->kind != IDX_KEYPAIR)
		return -ENOKEY;
	kp = e->kp;
	p = e->peer;
	if (aged(now, kp->birth, d->cfg.timers.reject_after_time))
		return -ENOKEY;
	if (elk_wg_replay_check(&kp->replay, counter))
		return -ESTALE;
	if (plen > cap)
		return -EMSGSIZE;
	if (!src_ok(src, srclen))
		return -EINVAL;
	if (elk_wg_aead_decrypt(out, pkt + ELK_WG_TRANSPORT_HEADER_SIZE,
				len - ELK_WG_TRANSPORT_HEADER_SIZE, NULL, 0, counter,
				kp->k.recv_key))
		return -EBADMSG;
	/* Only an authentic packet may move the window. */
	if (elk_wg_replay_update(&kp->replay, counter))
		return -ESTALE;
	if (keypair_confirm(d, p, kp)) {
		p->last_hs_wall = wall_ns(d, now);
		timer_event(d, p, ELK_WG_TEV_HANDSHAKE_COMPLETE, 0, now);
		send_staged(d, p, now);
	}
	set_endpoint(p, src, srclen);
	if (!plen) {
		p->rx_bytes += len;
		timer_event(d, p, ELK_WG_TEV_KEEPALIVE_RECEIVED, 0, now);
		return 0;
	}
	timer_event(d, p, ELK_WG_TEV_DATA_RECEIVED, 0, now);
	if (inner_ip(out, plen, &iplen, &family, &isrc))
		return -EINVAL;
	/* Cryptokey routing, inbound half: the peer may only speak for the
	 * addresses it is allowed. */
	if (elk_wg_allowedips_lookup(&d->aips, family, isrc) != p)
		return -EACCES;
	p->rx_bytes += len;
	*delivered = iplen;
	return 0;
}

struct elk_wg_result elk_wg_dev_decapsulate(struct elk_wg_dev *d, const struct sockaddr *src,
					    socklen_t srclen, const uint8_t *pkt, size_t len,
					    uint8_t *out, size_t cap, uint64_t now_ns)
{
	struct elk_wg_result r = { 0 };
	size_t delivered = 0;
	int ret;

	switch (elk_wg_msg_type(pkt, len)) {
	case ELK_WG_MSG_HANDSHAKE_INITIATION:
		ret = len == ELK_WG_INITIATION_SIZE ? rx_handshake(d, src, srclen, pkt, len, now_ns)
						    : -EINVAL;
		break;
	case ELK_WG_MSG_HANDSHAKE_RESPONSE:
		ret = len == ELK_WG_RESPONSE_SIZE ? rx_handshake(d, src, srclen, pkt, len, now_ns)
						  : -EINVAL;
		break;
	case ELK_WG_MSG_COOKIE_REPLY:
		ret = len == ELK_WG_COOKIE_REPLY_SIZE ? rx_cookie(d, pkt, now_ns) : -EINVAL;
		break;
	case ELK_WG_MSG_TRANSPORT_DATA:
		ret = len >= ELK_WG_TRANSPORT_MIN_SIZE
			      ? rx_data(d, src, srclen, pkt, len, out, cap, now_ns, &delivered)
			      : -EINVAL;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (delivered) {
		r.op = ELK_WG_TO_TUNNEL;
		r.len = delivered;
		return r;
	}
	r = elk_wg_dev_poll(d, out, cap, now_ns);
	r.dropped = ret;
	return r;
}

/* ---- tick ------------------------------------------------------------- */

struct elk_wg_result elk_wg_dev_tick(struct elk_wg_dev *d, uint8_t *out, size_t cap,
				     uint64_t now_ns)
{
	for (struct peer *p = d->peers; p; p = p->next)
		timer_event(d, p, ELK_WG_TEV_TICK, 0, now_ns);
	return elk_wg_dev_poll(d, out, cap, now_ns);
}

uint64_t elk_wg_dev_next_deadline(const struct elk_wg_dev *d)
{
	uint64_t best = UINT64_MAX, when;

	/* Outputs still queued (configure() can queue some): due now, and
	 * tick() hands them out. */
	if (d->q_len)
		return 0;
	for (const struct peer *p = d->peers; p; p = p->next)
		if (!elk_wg_timers_next_deadline(&p->timers, &when) && when < best)
			best = when;
	return best;
}

void elk_wg_dev_set_wall_clock(struct elk_wg_dev *d, uint64_t wall, uint64_t now_ns)
{
	d->wall_off = (int64_t)(wall - now_ns);
}

/* ---- lifetime --------------------------------------------------------- */

struct elk_wg_dev *elk_wg_dev_new(const struct elk_wg_dev_cfg *cfg)
{
	struct elk_wg_ratelimit_cfg rcfg;
	struct elk_wg_dev *d;

	if (sodium_init() < 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (cfg)
		d->cfg = *cfg;
	else
		elk_wg_dev_default_cfg(&d->cfg);
	if (!d->cfg.timers.rekey_timeout)
		d->cfg.timers.rekey_timeout = ELK_WG_TIMERS_DEFAULT_REKEY_TIMEOUT;
	if (!d->cfg.max_staged)
		d->cfg.max_staged = DEFAULT_MAX_STAGED;
	elk_wg_ratelimit_default_cfg(&rcfg);
	if (d->cfg.ratelimit_per_sec)
		rcfg.packets_per_second = d->cfg.ratelimit_per_sec;
	if (d->cfg.ratelimit_burst)
		rcfg.burst = d->cfg.ratelimit_burst;
	d->q = calloc(OUTQ_LEN, sizeof(*d->q));
	if (!d->q || elk_wg_ratelimit_init(&d->rl, &rcfg)) {
		free(d->q);
		free(d);
		return NULL;
	}
	elk_wg_allowedips_init(&d->aips);
	return d;
}

static void peer_remove(struct elk_wg_dev *d, struct peer *p)
{
	struct peer **pp;

	elk_wg_allowedips_remove_by_peer(&d->aips, p);
	q_forget_peer(d, p);
	keys_clear(d, p);
	hs_unindex(d, p);
	staged_purge(p);
	for (pp = pbucket(d, p->pub); *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	for (pp = &d->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	d->peers_tail = NULL;
	for (struct peer *q = d->peers; q; q = q->next)
		d->peers_tail = q;
	d->n_peers--;
	sodium_memzero(p, sizeof(*p));
	free(p);
}

void elk_wg_dev_free(struct elk_wg_dev *d)
{
	if (!d)
		return;
	while (d->peers)
		peer_remove(d, d->peers);
	elk_wg_allowedips_free(&d->aips);
	elk_wg_ratelimit_free(&d->rl);
	sodium_memzero(d->q, OUTQ_LEN * sizeof(*d->q));
	free(d->q);
	sodium_memzero(d, sizeof(*d));
	free(d);
}

/* ---- configuration ---------------------------------------------------- */

static int parse_endpoint(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (elk_endpoint_split(s, host, sizeof(host), &port))
		return -EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		char *scope = strchr(host, '%');

		/* fe80::1%eth0 or fe80::1%2: link-local peers need a scope */
		if (scope) {
			char *end;
			unsigned long idx;

			*scope++ = 0;
			idx = strtoul(scope, &end, 10);
			if (!*scope || *end)
				idx = if_nametoindex(scope);
			if (!idx || idx > UINT32_MAX)
				return -EINVAL;
			s6->sin6_scope_id = (uint32_t)idx;
		}
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(port);
			*len = sizeof(*s6);
			return 0;
		}
	}
	return -EINVAL;
}

static void format_endpoint(const struct peer *p, char out[ELK_ENDPOINT_MAX])
{
	char host[INET6_ADDRSTRLEN];

	if (p->ep.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&p->ep;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, ELK_ENDPOINT_MAX, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&p->ep;
		char scope[IF_NAMESIZE + 1] = "";

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		if (s6->sin6_scope_id && !if_indextoname(s6->sin6_scope_id, scope + 1))
			snprintf(scope + 1, sizeof(scope) - 1, "%u", s6->sin6_scope_id);
		if (s6->sin6_scope_id)
			scope[0] = '%';
		snprintf(out, ELK_ENDPOINT_MAX, "[%s%s]:%u", host, scope, ntohs(s6->sin6_port));
	}
}

/* Our sending keys were agreed under the old identity: stop sending on
 * them (receiving may go on) and allow a new handshake at once. */
static void expire_sending(struct peer *p)
{
	if (p->cur)
		p->cur->can_send = false;
	if (p->nextkp)
		p->nextkp->can_send = false;
	p->timers.sent_handshake = false;
}

static void set_private_key(struct elk_wg_dev *d, const uint8_t key[ELK_WG_KEY_LEN])
{
	struct peer *p, *n;

	if (d->id.has_identity ? !sodium_memcmp(d->id.private_key, key, ELK_WG_KEY_LEN)
			       : sodium_is_zero(key, ELK_WG_KEY_LEN))
		return;
	if (sodium_is_zero(key, ELK_WG_KEY_LEN)) {
		elk_wg_noise_identity_wipe(&d->id);
		elk_wg_cookie_checker_wipe(&d->checker);
	} else {
		elk_wg_noise_identity_init(&d->id, key);
		elk_wg_cookie_checker_init(&d->checker, d->id.public_key);
	}
	for (p = d->peers; p; p = n) {
		n = p->next;
		/* A peer with our own key is pointless (kernel rule). */
		if (d->id.has_identity &&
		    !sodium_memcmp(p->pub, d->id.public_key, ELK_WG_KEY_LEN)) {
			peer_remove(d, p);
			continue;
		}
		elk_wg_noise_handshake_update_identity(&p->hs, &d->id);
		hs_unindex(d, p);
		expire_sending(p);
	}
}

static void peer_link(struct elk_wg_dev *d, struct peer *p, const uint8_t pub[ELK_WG_KEY_LEN])
{
	struct peer **b = pbucket(d, pub);

	memcpy(p->pub, pub, ELK_WG_KEY_LEN);
	/* Errors (no identity yet, low-order key) leave a peer that cannot
	 * handshake, as the kernel keeps it. */
	elk_wg_noise_handshake_init(&p->hs, &d->id, pub, NULL);
	elk_wg_cookie_maker_init(&p->cookie, pub);
	elk_wg_timers_init(&p->timers);
	p->hnext = *b;
	*b = p;
	if (d->peers_tail)
		d->peers_tail->next = p;
	else
		d->peers = p;
	d->peers_tail = p;
	d->n_peers++;
}

static bool named(const struct elk_device *c, const struct peer *p)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (!(c->peers[i].flags & ELK_PEER_REMOVE) &&
		    !sodium_memcmp(c->peers[i].public_key, p->pub, ELK_WG_KEY_LEN))
			return true;
	return false;
}

static int validate(const struct elk_device *c, struct elk_err *e)
{
	uint8_t pub[ELK_KEY_LEN];

	if (c->flags & ELK_DEV_PRIVATE_KEY && !elk_key_is_zero(c->private_key) &&
	    elk_key_public(pub, c->private_key))
		return elk_errf(e, "private_key: not a usable Curve25519 key");
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct elk_peer *cp = &c->peers[i];
		struct sockaddr_storage ss;
		socklen_t sl;

		if (elk_key_is_zero(cp->public_key))
			return elk_errf(e, "peer %zu: public_key: all zero", i + 1);
		if (cp->flags & ELK_PEER_REMOVE)
			continue;
		if (cp->flags & ELK_PEER_ENDPOINT && parse_endpoint(cp->endpoint, &ss, &sl))
			return elk_errf(e, "peer %zu: endpoint: \"%.64s\" is not a numeric "
					"IP:PORT or [IPv6]:PORT", i + 1, cp->endpoint);
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			const struct elk_cidr *a = &cp->allowed_ips[j];

			if ((a->family != AF_INET && a->family != AF_INET6) ||
			    a->len > elk_family_bits(a->family))
				return elk_errf(e, "peer %zu: allowed IP %zu: bad prefix", i + 1,
						j + 1);
		}
	}
	return 0;
}

static int configure_peer(struct elk_wg_dev *d, const struct elk_peer *cp, struct peer **pool,
			  size_t *npool, uint64_t now, struct elk_err *e)
{
	struct peer *p = peer_find(d, cp->public_key);
	bool fresh = false;

	if (cp->flags & ELK_PEER_REMOVE) {
		if (p)
			peer_remove(d, p);
		return 0;
	}
	if (!p) {
		if (cp->flags & ELK_PEER_UPDATE_ONLY)
			return 0;
		if (d->id.has_identity &&
		    !sodium_memcmp(cp->public_key, d->id.public_key, ELK_WG_KEY_LEN))
			return 0;
		p = pool[--*npool];
		pool[*npool] = NULL;
		peer_link(d, p, cp->public_key);
		fresh = true;
	}
	if (cp->flags & ELK_PEER_PRESHARED_KEY &&
	    sodium_memcmp(p->hs.preshared_key, cp->preshared_key, ELK_WG_KEY_LEN)) {
		elk_wg_noise_handshake_set_psk(&p->hs, cp->preshared_key);
		/* Sessions keyed with the old PSK must not outlive it. */
		if (!fresh) {
			zero_keys(d, p);
			p->timers.sent_handshake = false;
		}
	}
	if (cp->flags & ELK_PEER_ENDPOINT)
		parse_endpoint(cp->endpoint, &p->ep, &p->eplen);
	if (cp->flags & ELK_PEER_REPLACE_ALLOWED_IPS)
		elk_wg_allowedips_remove_by_peer(&d->aips, p);
	if (cp->flags & (ELK_PEER_ALLOWED_IPS | ELK_PEER_REPLACE_ALLOWED_IPS)) {
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			const struct elk_cidr *a = &cp->allowed_ips[j];
			int ret = elk_wg_allowedips_insert(&d->aips, a->family, a->addr, a->len, p);

			if (ret)
				return elk_errf(e, "allowed IPs: %s", strerror(-ret)), ret;
		}
	}
	if (cp->flags & ELK_PEER_KEEPALIVE &&
	    (fresh || cp->persistent_keepalive_interval != p->keepalive)) {
		p->keepalive = cp->persistent_keepalive_interval;
		timer_event(d, p, ELK_WG_TEV_PERSISTENT_KEEPALIVE_SET, 0, now);
	}
	return 0;
}

int elk_wg_dev_configure(struct elk_wg_dev *d, const struct elk_device *change,
			 uint64_t now_ns, struct elk_err *e)
{
	struct peer **pool = NULL, *p, *n;
	size_t npool = 0;
	int ret;

	ret = validate(change, e);
	if (ret)
		return ret;
	/* Every peer this change might create, allocated up front so that
	 * running out of memory cannot leave it half applied. */
	if (change->n_peers) {
		pool = calloc(change->n_peers, sizeof(*pool));
		if (!pool)
			return elk_errf(e, "out of memory"), -ENOMEM;
	}
	for (size_t i = 0; i < change->n_peers; i++) {
		if (change->peers[i].flags & ELK_PEER_REMOVE)
			continue;
		pool[npool] = calloc(1, sizeof(struct peer));
		if (!pool[npool]) {
			elk_errf(e, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		npool++;
	}

	if (change->flags & ELK_DEV_PRIVATE_KEY)
		set_private_key(d, change->private_key);
	if (change->flags & ELK_DEV_LISTEN_PORT)
		d->listen_port = change->listen_port;
	if (change->flags & ELK_DEV_FWMARK)
		d->fwmark = change->fwmark;
	if (change->flags & ELK_DEV_MTU)
		d->mtu = change->mtu;
	if (change->flags & ELK_DEV_REPLACE_PEERS) {
		for (p = d->peers; p; p = n) {
			n = p->next;
			if (!named(change, p))
				peer_remove(d, p);
		}
	}
	for (size_t i = 0; i < change->n_peers && !ret; i++)
		ret = configure_peer(d, &change->peers[i], pool, &npool, now_ns, e);
out:
	for (size_t i = 0; i < npool; i++)
		free(pool[i]);
	free(pool);
	return ret;
}

/* ---- snapshot --------------------------------------------------------- */

struct aip_acc {
	struct elk_cidr *v;
	size_t n, cap;
};

static int aip_collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct aip_acc *a = ctx;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4;
		struct elk_cidr *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
	a->v[a->n].family = family;
	memcpy(a->v[a->n].addr, addr, family == AF_INET ? 4 : 16);
	a->v[a->n].len = cidr;
	a->n++;
	return 0;
}

int elk_wg_dev_snapshot(const struct elk_wg_dev *d, struct elk_device *out, int64_t **nsec)
{
	const struct peer *p;
	size_t i = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (nsec)
		*nsec = NULL;
	out->flags = ELK_DEV_LISTEN_PORT | ELK_DEV_FWMARK;
	if (d->id.has_identity) {
		out->flags |= ELK_DEV_PRIVATE_KEY;
		memcpy(out->private_key, d->id.private_key, ELK_KEY_LEN);
		memcpy(out->public_key, d->id.public_key, ELK_KEY_LEN);
	}
	if (d->mtu) {
		out->flags |= ELK_DEV_MTU;
		out->mtu = d->mtu;
	}
	out->listen_port = d->listen_port;
	out->fwmark = d->fwmark;
	if (d->n_peers) {
		out->peers = calloc(d->n_peers, sizeof(*out->peers));
		if (!out->peers)
			return -ENOMEM;
	}
	if (nsec) {
		*nsec = calloc(d->n_peers ? d->n_peers : 1, sizeof(**nsec));
		if (!*nsec) {
			elk_device_clear(out);
			return -ENOMEM;
		}
	}
	for (p = d->peers; p; p = p->next, i++) {
		struct elk_peer *op = &out->peers[i];
		struct aip_acc acc = { 0 };

		out->n_peers = i + 1;
		op->flags = ELK_PEER_KEEPALIVE | ELK_PEER_ALLOWED_IPS;
		memcpy(op->public_key, p->pub, ELK_KEY_LEN);
		memcpy(op->preshared_key, p->hs.preshared_key, ELK_KEY_LEN);
		if (!elk_key_is_zero(op->preshared_key))
			op->flags |= ELK_PEER_PRESHARED_KEY;
		if (p->eplen) {
			op->flags |= ELK_PEER_ENDPOINT;
			format_endpoint(p, op->endpoint);
		}
		op->persistent_keepalive_interval = p->keepalive;
		op->rx_bytes = p->rx_bytes;
		op->tx_bytes = p->tx_bytes;
		if (p->last_hs_wall) {
			op->last_handshake = (int64_t)(p->last_hs_wall / NSEC);
			if (nsec)
				(*nsec)[i] = (int64_t)(p->last_hs_wall % NSEC);
		}
		ret = elk_wg_allowedips_walk_peer(&d->aips, (void *)p, aip_collect, &acc);
		op->allowed_ips = acc.v;
		op->n_allowed_ips = acc.n;
		if (ret) {
			elk_device_clear(out);
			if (nsec) {
				free(*nsec);
				*nsec = NULL;
			}
			return -ENOMEM;
		}
	}
	return 0;
}
