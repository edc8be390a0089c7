/* test_wg_device.c - two (or three) WireGuard devices talking in one
 * process through a fake network and a fake clock: handshakes from either
 * side, data both ways over IPv4 and IPv6, keepalives, key confirmation,
 * PSKs, cryptokey routing in both directions, replay and tampering,
 * roaming, the timers (rekey, retransmission give-up, passive keepalive,
 * zeroing), cookies under load, incremental configuration and snapshots.
 * Run from the repo root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "t.h"
#include "wg_cookie.h"
#include "wg_device.h"
#include "wg_proto.h"

#define EQ(a, b, what)                              \
	do {                                        \
		long long eq_got_ = (long long)(a); \
		T_EQ_INT(eq_got_, (b), (what));     \
	} while (0)

#define S 1000000000ull
#define MS (S / 1000)
#define BUF 2048
#define MAXTUN 64
#define MAXHELD 64
#define WALL0 (1700000000ull * S)

static uint64_t now = 1000 * S;

struct side {
	const char *name;
	struct elk_wg_dev *d;
	struct sockaddr_in addr;	/* where the network sees us */
	struct sockaddr_in from;	/* source we send from (roaming) */
	uint8_t priv[32], pub[32];
	uint8_t tun[MAXTUN][BUF];
	size_t tunlen[MAXTUN];
	int ntun;
	int sent[5];			/* datagrams sent, by type */
	int last_drop;			/* of the last input */
	bool hold;			/* keep our datagrams in held[] */
	uint8_t held[MAXHELD][BUF];
	size_t heldlen[MAXHELD];
	int nheld;
	uint8_t last_data[BUF];		/* last transport datagram we sent */
	size_t last_data_len;
};

static struct side *sides[4];
static int nsides;
static bool net_down;
static int to_nowhere;			/* datagrams to unknown addresses */

static void mkaddr(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
}

static struct side *side_at(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

	if (ss->ss_family != AF_INET)
		return NULL;
	for (int i = 0; i < nsides; i++)
		if (sides[i]->addr.sin_addr.s_addr == a->sin_addr.s_addr &&
		    sides[i]->addr.sin_port == a->sin_port)
			return sides[i];
	return NULL;
}

static void drain(struct side *s);

static void deliver(struct side *dst, const struct sockaddr_in *src, const uint8_t *buf,
		    size_t len);

static void handle(struct side *s, struct elk_wg_result r, const uint8_t *out)
{
	struct side *dst;

	if (r.op == ELK_WG_TO_TUNNEL) {
		if (s->ntun < MAXTUN) {
			memcpy(s->tun[s->ntun], out, r.len);
			s->tunlen[s->ntun++] = r.len;
		}
		return;
	}
	if (r.op != ELK_WG_TO_NETWORK)
		return;
	if (out[0] < 5)
		s->sent[out[0]]++;
	if (out[0] == ELK_WG_MSG_TRANSPORT_DATA) {
		memcpy(s->last_data, out, r.len);
		s->last_data_len = r.len;
	}
	if (s->hold) {
		if (s->nheld < MAXHELD) {
			memcpy(s->held[s->nheld], out, r.len);
			s->heldlen[s->nheld++] = r.len;
		}
		return;
	}
	dst = side_at(&r.addr);
	if (!dst) {
		to_nowhere++;
		return;
	}
	if (!net_down)
		deliver(dst, &s->from, out, r.len);
}

static void deliver(struct side *dst, const struct sockaddr_in *src, const uint8_t *buf,
		    size_t len)
{
	uint8_t out[BUF];
	struct elk_wg_result r;

	r = elk_wg_dev_decapsulate(dst->d, (const struct sockaddr *)src, sizeof(*src), buf, len,
				   out, sizeof(out), now);
	dst->last_drop = r.dropped;
	handle(dst, r, out);
	drain(dst);
}

static void drain(struct side *s)
{
	uint8_t out[BUF];
	struct elk_wg_result r;

	for (;;) {
		r = elk_wg_dev_poll(s->d, out, sizeof(out), now);
		if (r.op == ELK_WG_NOTHING)
			break;
		handle(s, r, out);
	}
}

static struct elk_wg_result send_pkt(struct side *s, const uint8_t *pkt, size_t len)
{
	uint8_t out[BUF];
	struct elk_wg_result r;

	r = elk_wg_dev_encapsulate(s->d, pkt, len, out, sizeof(out), now);
	s->last_drop = r.dropped;
	handle(s, r, out);
	drain(s);
	return r;
}

static void tick(struct side *s)
{
	uint8_t out[BUF];
	struct elk_wg_result r = elk_wg_dev_tick(s->d, out, sizeof(out), now);

	handle(s, r, out);
	drain(s);
}

/* Let time pass in steps, ticking everyone. */
static void advance(uint64_t dt, uint64_t step)
{
	uint64_t end = now + dt;

	while (now < end) {
		now = now + step < end ? now + step : end;
		for (int i = 0; i < nsides; i++)
			tick(sides[i]);
	}
}

static void release_held(struct side *s)
{
	int n = s->nheld;

	s->nheld = 0;
	s->hold = false;
	/* held datagrams go to the one other side */
	for (int i = 0; i < n; i++)
		deliver(sides[0] == s ? sides[1] : sides[0], &s->from, s->held[i],
			s->heldlen[i]);
}

/* ---- IP packets ------------------------------------------------------ */

static size_t ip4(uint8_t *b, const char *src, const char *dst, size_t payload, uint8_t fill)
{
	size_t n = 20 + payload;

	memset(b, 0, 20);
	b[0] = 0x45;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	b[8] = 64;
	b[9] = 253;		/* experimental protocol */
	inet_pton(AF_INET, src, b + 12);
	inet_pton(AF_INET, dst, b + 16);
	memset(b + 20, fill, payload);
	return n;
}

static size_t ip6(uint8_t *b, const char *src, const char *dst, size_t payload, uint8_t fill)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	b[4] = (uint8_t)(payload >> 8);
	b[5] = (uint8_t)payload;
	b[6] = 59;		/* no next header */
	b[7] = 64;
	inet_pton(AF_INET6, src, b + 8);
	inet_pton(AF_INET6, dst, b + 24);
	memset(b + 40, fill, payload);
	return 40 + payload;
}

/* ---- configuration helpers ------------------------------------------- */

static struct elk_peer *chg_peer(struct elk_device *c, const uint8_t pub[32])
{
	struct elk_peer *p;

	c->peers = realloc(c->peers, (c->n_peers + 1) * sizeof(*c->peers));
	p = &c->peers[c->n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, pub, 32);
	return p;
}

static void peer_aip(struct elk_peer *p, const char *cidr)
{
	p->allowed_ips = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*p->allowed_ips));
	elk_cidr_parse(cidr, &p->allowed_ips[p->n_allowed_ips]);
	elk_cidr_mask(&p->allowed_ips[p->n_allowed_ips]);
	p->n_allowed_ips++;
	p->flags |= ELK_PEER_ALLOWED_IPS;
}

static void peer_ep(struct elk_peer *p, const char *ep)
{
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", ep);
	p->flags |= ELK_PEER_ENDPOINT;
}

static int apply(struct side *s, struct elk_device *c)
{
	struct elk_err e = { { 0 } };
	int ret = elk_wg_dev_configure(s->d, c, now, &e);

	elk_device_clear(c);
	drain(s);
	return ret;
}

static void test_cfg(struct elk_wg_dev_cfg *c)
{
	elk_wg_dev_default_cfg(c);
	c->timers.rekey_after_time = 12 * S;
	c->timers.reject_after_time = 18 * S;
	c->timers.rekey_attempt_time = 9 * S;
	c->timers.rekey_timeout = 1 * S;
	c->timers.keepalive_timeout = 2 * S;
	c->timers.jitter_max = 0;
}

static void side_init(struct side *s, const char *name, const char *ip,
		      const struct elk_wg_dev_cfg *cfg)
{
	struct elk_device c = { 0 };

	memset(s, 0, sizeof(*s));
	s->name = name;
	mkaddr(&s->addr, ip, 51820);
	s->from = s->addr;
	elk_key_generate_private(s->priv);
	elk_key_public(s->pub, s->priv);
	s->d = elk_wg_dev_new(cfg);
	T_CHECK(s->d != NULL, "%s: new", name);
	elk_wg_dev_set_wall_clock(s->d, WALL0, now);
	c.flags = ELK_DEV_PRIVATE_KEY | ELK_DEV_LISTEN_PORT;
	memcpy(c.private_key, s->priv, 32);
	c.listen_port = 51820;
	EQ(apply(s, &c), 0, "configure private key");
	sides[nsides++] = s;
}

static void side_free(struct side *s)
{
	elk_wg_dev_free(s->d);
}

static void reset_net(void)
{
	nsides = 0;
	net_down = false;
	to_nowhere = 0;
}

/* A (10.0.0.1, 192.168.1.0/24, fd00:1::/64) and B (10.0.0.2,
 * 192.168.2.0/24, fd00:2::/64), each knowing the other. psk may be NULL;
 * psk_b, when given, is B's (mismatched) view. */
static void pair(struct side *a, struct side *b, const uint8_t *psk, const uint8_t *psk_b)
{
	struct elk_wg_dev_cfg cfg;
	struct elk_device c = { 0 };
	struct elk_peer *p;

	reset_net();
	test_cfg(&cfg);
	side_init(a, "A", "10.0.0.1", &cfg);
	side_init(b, "B", "10.0.0.2", &cfg);

	p = chg_peer(&c, b->pub);
	peer_ep(p, "10.0.0.2:51820");
	peer_aip(p, "192.168.2.0/24");
	peer_aip(p, "fd00:2::/64");
	if (psk) {
		memcpy(p->preshared_key, psk, 32);
		p->flags |= ELK_PEER_PRESHARED_KEY;
	}
	EQ(apply(a, &c), 0, "configure A");

	p = chg_peer(&c, a->pub);
	peer_ep(p, "10.0.0.1:51820");
	peer_aip(p, "192.168.1.0/24");
	peer_aip(p, "fd00:1::/64");
	if (psk_b || psk) {
		memcpy(p->preshared_key, psk_b ? psk_b : psk, 32);
		p->flags |= ELK_PEER_PRESHARED_KEY;
	}
	EQ(apply(b, &c), 0, "configure B");
}

static bool got(struct side *s, const uint8_t *pkt, size_t len)
{
	for (int i = 0; i < s->ntun; i++)
		if (s->tunlen[i] == len && !memcmp(s->tun[i], pkt, len))
			return true;
	return false;
}

static int snap_peer(struct side *s, const uint8_t pub[32], struct elk_peer *out,
		     int64_t *nsec_out)
{
	struct elk_device d;
	int64_t *nsec;
	int found = 0;

	if (elk_wg_dev_snapshot(s->d, &d, &nsec))
		return -1;
	for (size_t i = 0; i < d.n_peers; i++) {
		if (!memcmp(d.peers[i].public_key, pub, 32)) {
			*out = d.peers[i];
			out->allowed_ips = NULL;
			if (nsec_out)
				*nsec_out = nsec[i];
			found = 1;
		}
	}
	free(nsec);
	elk_device_clear(&d);
	return found;
}

/* ---- tests ------------------------------------------------------------ */

static void test_basic(void)
{
	struct side a, b;
	uint8_t pkt[BUF], pkt2[BUF];
	size_t n, n2;
	struct elk_wg_result r;
	struct elk_peer sp;
	int64_t nsec = -1;

	pair(&a, &b, NULL, NULL);

	/* A starts: the packet is staged, an initiation goes out, the
	 * handshake completes and the packet follows. */
	n = ip4(pkt, "192.168.1.1", "192.168.2.7", 100, 0xab);
	a.hold = true;
	r = send_pkt(&a, pkt, n);
	EQ(r.op, ELK_WG_TO_NETWORK, "first packet gives a datagram");
	EQ(a.sent[1], 1, "one initiation");
	EQ(a.sent[4], 0, "no data before the handshake");
	EQ(a.nheld, 1, "only the initiation");
	/* B answers; hold its response and make B send data: it must not
	 * use the unconfirmed keypair. */
	b.hold = true;
	release_held(&a);
	EQ(b.sent[2], 1, "B responded");
	EQ(b.nheld, 1, "response held");
	n2 = ip4(pkt2, "192.168.2.7", "192.168.1.1", 33, 0xcd);
	r = send_pkt(&b, pkt2, n2);
	EQ(r.op, ELK_WG_NOTHING, "responder stages before confirmation");
	EQ(b.sent[4], 0, "responder sent no data before confirmation");
	EQ(b.sent[1], 0, "responder does not start its own handshake");
	release_held(&b);	/* response reaches A; A sends the staged packet */
	T_CHECK(got(&b, pkt, n), "B got A's packet intact");
	T_CHECK(got(&a, pkt2, n2), "A got B's staged packet after confirmation");
	EQ(a.sent[4], 1, "A's staged packet was the confirmation");

	/* IPv6 both ways, now directly. */
	n = ip6(pkt, "fd00:1::1", "fd00:2::9", 1, 0x11);
	r = send_pkt(&a, pkt, n);
	EQ(r.op, ELK_WG_TO_NETWORK, "v6 straight out");
	T_CHECK(got(&b, pkt, n), "B got v6");
	EQ(a.last_data_len, 16 + 48 + 16, "41-byte packet padded to 48");
	n = ip6(pkt, "fd00:2::9", "fd00:1::1", 1200, 0x22);
	send_pkt(&b, pkt, n);
	T_CHECK(got(&a, pkt, n), "A got v6 1240");
	EQ(a.sent[1] + b.sent[1], 1, "still one handshake");

	/* Keepalive: B received data and sends nothing; after
	 * keepalive_timeout it sends an empty packet, which A swallows. */
	n = ip4(pkt, "192.168.1.1", "192.168.2.7", 10, 1);
	send_pkt(&a, pkt, n);
	{
		int before = b.sent[4], tun_a = a.ntun;

		advance(3 * S, 100 * MS);
		EQ(b.sent[4], before + 1, "B sent a passive keepalive");
		EQ(b.last_data_len, 32, "keepalive is 32 bytes");
		EQ(a.ntun, tun_a, "keepalive delivers nothing");
		EQ(a.last_drop, 0, "keepalive accepted");
	}

	/* Snapshot: both sides agree on bytes, endpoint, handshake time. */
	T_CHECK(snap_peer(&a, b.pub, &sp, &nsec) == 1, "A knows B");
	{
		struct elk_peer sb;

		T_CHECK(snap_peer(&b, a.pub, &sb, NULL) == 1, "B knows A");
		EQ(sp.tx_bytes, sb.rx_bytes, "A tx == B rx");
		EQ(sp.rx_bytes, sb.tx_bytes, "A rx == B tx");
		T_CHECK(sp.tx_bytes > 148, "tx counted");
		T_EQ_STR(sb.endpoint, "10.0.0.1:51820", "B's endpoint for A");
		T_CHECK(sb.last_handshake >= (int64_t)(WALL0 / S), "B handshake time");
	}
	T_EQ_STR(sp.endpoint, "10.0.0.2:51820", "A's endpoint for B");
	T_CHECK(sp.last_handshake >= (int64_t)(WALL0 / S) &&
		sp.last_handshake < (int64_t)(WALL0 / S) + 100, "A handshake time");
	T_CHECK(nsec >= 0 && nsec < (int64_t)S, "nsec in range");

	side_free(&a);
	side_free(&b);
}

static void test_from_b_and_psk(void)
{
	struct side a, b;
	uint8_t pkt[BUF], psk[32], psk2[32];
	size_t n;

	randombytes_buf(psk, 32);
	randombytes_buf(psk2, 32);

	/* B starts, PSK on both sides. */
	pair(&a, &b, psk, NULL);
	n = ip4(pkt, "192.168.2.3", "192.168.1.4", 500, 7);
	send_pkt(&b, pkt, n);
	EQ(b.sent[1], 1, "B initiated");
	EQ(a.sent[2], 1, "A responded");
	T_CHECK(got(&a, pkt, n), "A got B's packet with PSK");
	n = ip4(pkt, "192.168.1.4", "192.168.2.3", 5, 8);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "B got A's answer with PSK");
	side_free(&a);
	side_free(&b);

	/* Mismatched PSK: nothing is ever delivered. */
	pair(&a, &b, psk, psk2);
	n = ip4(pkt, "192.168.1.4", "192.168.2.3", 5, 8);
	send_pkt(&a, pkt, n);
	advance(3 * S, 250 * MS);
	send_pkt(&a, pkt, n);
	n = ip4(pkt, "192.168.2.3", "192.168.1.4", 5, 8);
	send_pkt(&b, pkt, n);
	advance(3 * S, 250 * MS);
	EQ(a.ntun + b.ntun, 0, "mismatched PSK delivers nothing");
	EQ(a.sent[4] + b.sent[4], 0, "and sends no data");
	T_CHECK(a.sent[1] >= 2, "A kept retrying");
	side_free(&a);
	side_free(&b);
}

static void test_acl_replay_tamper(void)
{
	struct side a, b;
	uint8_t pkt[BUF], cap[BUF], bad[BUF];
	size_t n, clen;
	struct elk_wg_result r;
	int tun_b;

	pair(&a, &b, NULL, NULL);
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 3);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "session up");

	/* No route. */
	n = ip4(pkt, "192.168.1.1", "10.9.9.9", 20, 3);
	r = send_pkt(&a, pkt, n);
	EQ(r.op, ELK_WG_NOTHING, "no peer: nothing sent");
	EQ(r.dropped, -EHOSTUNREACH, "no peer: EHOSTUNREACH");
	n = ip6(pkt, "fd00:1::1", "fd00:3::1", 20, 3);
	r = send_pkt(&a, pkt, n);
	EQ(r.dropped, -EHOSTUNREACH, "no v6 peer: EHOSTUNREACH");
	r = send_pkt(&a, (const uint8_t *)"\x45", 1);
	EQ(r.dropped, -EINVAL, "runt packet");

	/* Inner source B may not use, sent by B to A. */
	tun_b = a.ntun;
	n = ip4(pkt, "192.168.9.9", "192.168.1.1", 20, 3);
	send_pkt(&b, pkt, n);
	EQ(a.last_drop, -EACCES, "spoofed inner source: EACCES");
	EQ(a.ntun, tun_b, "spoofed inner source not delivered");
	n = ip6(pkt, "fd00:1::5", "fd00:1::1", 20, 3);
	send_pkt(&b, pkt, n);
	EQ(a.last_drop, -EACCES, "v6 inner source of A's own range: EACCES");

	/* Replay. */
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 64, 9);
	send_pkt(&a, pkt, n);
	memcpy(cap, a.last_data, a.last_data_len);
	clen = a.last_data_len;
	tun_b = b.ntun;
	deliver(&b, &a.from, cap, clen);
	EQ(b.last_drop, -ESTALE, "replayed datagram: ESTALE");
	EQ(b.ntun, tun_b, "replay not delivered");

	/* Every bit of a fresh datagram flipped: always dropped. */
	send_pkt(&a, pkt, n);
	b.hold = false;
	memcpy(cap, a.last_data, a.last_data_len);
	clen = a.last_data_len;
	/* a.last_data was already delivered; rebuild a fresh undelivered
	 * one by holding A's output */
	a.hold = true;
	send_pkt(&a, pkt, n);
	a.hold = false;
	memcpy(cap, a.held[0], a.heldlen[0]);
	clen = a.heldlen[0];
	a.nheld = 0;
	tun_b = b.ntun;
	{
		int undropped = 0;

		for (size_t i = 0; i < clen; i++) {
			for (int bit = 0; bit < 8; bit++) {
				memcpy(bad, cap, clen);
				bad[i] ^= (uint8_t)(1u << bit);
				deliver(&b, &a.from, bad, clen);
				if (!b.last_drop)
					undropped++;
			}
		}
		EQ(undropped, 0, "every flipped datagram dropped");
	}
	EQ(b.ntun, tun_b, "nothing delivered from tampered datagrams");
	deliver(&b, &a.from, cap, clen);
	EQ(b.last_drop, 0, "the original still authenticates after the tampering");
	T_CHECK(got(&b, pkt, n), "and is delivered");
	deliver(&b, &a.from, cap, 10);
	EQ(b.last_drop, -EINVAL, "truncated transport");

	side_free(&a);
	side_free(&b);
}

static void test_roaming(void)
{
	struct side a, b;
	uint8_t pkt[BUF];
	size_t n;
	struct elk_peer sp;

	pair(&a, &b, NULL, NULL);
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 3);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "session up");

	/* A moves: it now sends from 10.0.0.99:4000, and is reachable there. */
	mkaddr(&a.from, "10.0.0.99", 4000);
	a.addr = a.from;
	send_pkt(&a, pkt, n);
	T_CHECK(snap_peer(&b, a.pub, &sp, NULL) == 1, "B knows A");
	T_EQ_STR(sp.endpoint, "10.0.0.99:4000", "B's endpoint followed A");
	n = ip4(pkt, "192.168.2.1", "192.168.1.1", 20, 4);
	send_pkt(&b, pkt, n);
	T_CHECK(got(&a, pkt, n), "B's reply reached A at its new address");

	/* Unauthenticated datagrams from elsewhere do not move it. */
	{
		struct sockaddr_in evil;
		uint8_t junk[64] = { 4 };

		mkaddr(&evil, "10.6.6.6", 666);
		deliver(&b, &evil, junk, sizeof(junk));
		T_CHECK(b.last_drop != 0, "junk dropped");
		snap_peer(&b, a.pub, &sp, NULL);
		T_EQ_STR(sp.endpoint, "10.0.0.99:4000", "junk did not move the endpoint");
	}
	side_free(&a);
	side_free(&b);
}

static void test_rekey(void)
{
	struct side a, b;
	uint8_t pkt[BUF];
	size_t n;
	int delivered = 0, sent = 0;

	pair(&a, &b, NULL, NULL);
	/* Traffic every 500 ms for 40 s (rekey after 12 s, reject 18 s):
	 * the session must roll over several times without losing data. */
	for (int i = 0; i < 80; i++) {
		n = ip4(pkt, "192.168.1.1", "192.168.2.1", 40, (uint8_t)i);
		send_pkt(&a, pkt, n);
		sent++;
		if (got(&b, pkt, n))
			delivered++;
		b.ntun = 0;
		advance(500 * MS, 100 * MS);
	}
	EQ(delivered, sent, "no data lost across rekeys");
	T_CHECK(a.sent[1] >= 3 && a.sent[1] <= 5, "A rekeyed on age (%d initiations)", a.sent[1]);
	EQ(b.sent[1], 0, "responder never rekeys on age");
	n = ip4(pkt, "192.168.2.1", "192.168.1.1", 40, 1);
	send_pkt(&b, pkt, n);
	T_CHECK(got(&a, pkt, n), "B still reaches A after the rekeys");
	side_free(&a);
	side_free(&b);
}

static void test_giveup_and_zero(void)
{
	struct side a, b;
	uint8_t pkt[BUF], pkt2[BUF], cap[BUF];
	size_t n, n2, clen;
	int inits;

	pair(&a, &b, NULL, NULL);
	net_down = true;
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 0x5a);
	send_pkt(&a, pkt, n);
	EQ(a.sent[1], 1, "first initiation");
	advance(15 * S, 100 * MS);
	/* attempt 9 s / timeout 1 s: the first plus 10 retries, as the
	 * kernel counts them (20 initiations with the defaults) */
	EQ(a.sent[1], 11, "initiations until giving up");
	inits = a.sent[1];
	advance(5 * S, 100 * MS);
	EQ(a.sent[1], inits, "no more after giving up");
	net_down = false;
	n2 = ip4(pkt2, "192.168.1.1", "192.168.2.1", 20, 0x77);
	send_pkt(&a, pkt2, n2);
	T_CHECK(got(&b, pkt2, n2), "new packet after reconnecting");
	T_CHECK(!got(&b, pkt, n), "the staged packet was dropped on giving up");

	/* Zeroing: capture a datagram, stay silent for 3 x reject. */
	a.hold = true;
	send_pkt(&a, pkt2, n2);
	a.hold = false;
	memcpy(cap, a.held[0], a.heldlen[0]);
	clen = a.heldlen[0];
	a.nheld = 0;
	advance(3 * 18 * S + 2 * S, 1 * S);
	EQ(elk_wg_dev_next_deadline(a.d), UINT64_MAX, "A: all timers idle after zeroing");
	EQ(elk_wg_dev_next_deadline(b.d), UINT64_MAX, "B: all timers idle after zeroing");
	deliver(&b, &a.from, cap, clen);
	EQ(b.last_drop, -ENOKEY, "old keys are gone");
	/* and a fresh session comes up on demand */
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "new session after zeroing");
	side_free(&a);
	side_free(&b);
}

static void test_under_load(void)
{
	struct elk_wg_dev_cfg cfg;
	struct side a, b;
	struct elk_device c = { 0 };
	struct elk_peer *p;
	struct elk_wg_cookie_maker m;
	uint8_t junk[ELK_WG_INITIATION_SIZE], pkt[BUF];
	struct sockaddr_in src;
	char ip[32];
	int cookies, answered;
	size_t n;

	reset_net();
	test_cfg(&cfg);
	cfg.under_load_per_sec = 5;
	side_init(&a, "A", "10.0.0.1", &cfg);
	side_init(&b, "B", "10.0.0.2", &cfg);
	p = chg_peer(&c, b.pub);
	peer_ep(p, "10.0.0.2:51820");
	peer_aip(p, "192.168.2.0/24");
	apply(&a, &c);
	p = chg_peer(&c, a.pub);
	peer_aip(p, "192.168.1.0/24");
	apply(&b, &c);

	/* 40 spoofed sources, 10 initiations each, with a valid mac1 (only
	 * B's public key is needed for that). */
	elk_wg_cookie_maker_init(&m, b.pub);
	to_nowhere = 0;
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 40; i++) {
			snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
			mkaddr(&src, ip, 1234);
			randombytes_buf(junk, sizeof(junk));
			elk_wg_le32_put(junk, ELK_WG_MSG_HANDSHAKE_INITIATION);
			elk_wg_cookie_add_macs(&m, junk, sizeof(junk), now);
			deliver(&b, &src, junk, sizeof(junk));
		}
	}
	cookies = b.sent[3];
	T_CHECK(cookies > 0, "cookie replies under load");
	/* at most the burst (5) per source */
	T_CHECK(cookies <= 40 * 5, "rate limiter bounds them (%d)", cookies);
	T_CHECK(cookies >= 40 * 4, "most sources answered up to the burst (%d)", cookies);
	EQ(to_nowhere, cookies, "cookie replies go to the sources");
	EQ(b.sent[2], 0, "no junk answered with a response");

	/* The legitimate peer: its first initiation gets a cookie; its
	 * retry carries mac2 and completes. Keep B under load meanwhile. */
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 1);
	answered = b.sent[3];
	send_pkt(&a, pkt, n);
	EQ(b.sent[3], answered + 1, "A got a cookie reply");
	EQ(b.sent[2], 0, "no response yet");
	for (int k = 0; k < 12; k++) {
		now += 100 * MS;
		for (int i = 0; i < 8; i++) {
			snprintf(ip, sizeof(ip), "203.0.113.%d", k * 8 + i + 1);
			mkaddr(&src, ip, 1234);
			randombytes_buf(junk, sizeof(junk));
			elk_wg_le32_put(junk, ELK_WG_MSG_HANDSHAKE_INITIATION);
			elk_wg_cookie_add_macs(&m, junk, sizeof(junk), now);
			deliver(&b, &src, junk, sizeof(junk));
		}
		tick(&a);
		tick(&b);
	}
	EQ(b.sent[2], 1, "A's retry with mac2 got a response");
	T_CHECK(got(&b, pkt, n), "A's staged packet arrived under load");
	elk_wg_cookie_maker_wipe(&m);
	side_free(&a);
	side_free(&b);
}

static void test_configure(void)
{
	struct elk_wg_dev_cfg cfg;
	struct side a, b, c3;
	struct elk_device c = { 0 }, before, after;
	struct elk_peer *p;
	uint8_t pkt[BUF];
	size_t n;
	int inits;
	struct elk_peer sp;

	reset_net();
	test_cfg(&cfg);
	side_init(&a, "A", "10.0.0.1", &cfg);
	side_init(&b, "B", "10.0.0.2", &cfg);
	side_init(&c3, "C", "10.0.0.3", &cfg);
	p = chg_peer(&c, b.pub);
	peer_ep(p, "10.0.0.2:51820");
	peer_aip(p, "192.168.2.0/24");
	p = chg_peer(&c, c3.pub);
	peer_ep(p, "10.0.0.3:51820");
	peer_aip(p, "192.168.3.0/24");
	EQ(apply(&a, &c), 0, "A with B and C");
	p = chg_peer(&c, a.pub);
	peer_aip(p, "192.168.1.0/24");
	EQ(apply(&b, &c), 0, "B with A");
	p = chg_peer(&c, a.pub);
	peer_aip(p, "192.168.1.0/24");
	EQ(apply(&c3, &c), 0, "C with A");

	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 1);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "A-B up");
	n = ip4(pkt, "192.168.1.1", "192.168.3.1", 20, 1);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&c3, pkt, n), "A-C up");
	inits = a.sent[1];

	/* Add a prefix to C: B's session is untouched. */
	p = chg_peer(&c, c3.pub);
	peer_aip(p, "192.168.33.0/24");
	EQ(apply(&a, &c), 0, "add C prefix");
	n = ip4(pkt, "192.168.1.1", "192.168.2.2", 20, 2);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "B still reached");
	n = ip4(pkt, "192.168.1.1", "192.168.33.2", 20, 2);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&c3, pkt, n), "C reached on its new prefix");
	EQ(a.sent[1], inits, "no new handshake for either");

	/* Allowed IPs are exclusive: giving C B's prefix moves it. */
	p = chg_peer(&c, c3.pub);
	peer_aip(p, "192.168.2.128/25");
	EQ(apply(&a, &c), 0, "move half of B's prefix");
	T_CHECK(snap_peer(&a, b.pub, &sp, NULL) == 1, "B in A");
	{
		struct elk_device d;

		elk_wg_dev_snapshot(a.d, &d, NULL);
		EQ(d.n_peers, 2, "two peers");
		EQ(d.peers[0].n_allowed_ips, 1, "B keeps its /24");
		EQ(d.peers[1].n_allowed_ips, 3, "C has three prefixes");
		elk_device_clear(&d);
	}
	n = ip4(pkt, "192.168.1.1", "192.168.2.200", 20, 3);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&c3, pkt, n), "longest prefix picks C");

	/* Replace C's allowed IPs. */
	p = chg_peer(&c, c3.pub);
	p->flags |= ELK_PEER_REPLACE_ALLOWED_IPS;
	peer_aip(p, "10.3.0.0/16");
	EQ(apply(&a, &c), 0, "replace C's prefixes");
	{
		struct elk_device d;
		char s[ELK_CIDR_STRLEN];

		elk_wg_dev_snapshot(a.d, &d, NULL);
		EQ(d.peers[1].n_allowed_ips, 1, "C has one prefix");
		elk_cidr_format(&d.peers[1].allowed_ips[0], s);
		T_EQ_STR(s, "10.3.0.0/16", "C's prefix");
		elk_device_clear(&d);
	}

	/* Invalid: hostname endpoint; nothing changes. */
	elk_wg_dev_snapshot(a.d, &before, NULL);
	p = chg_peer(&c, c3.pub);
	peer_aip(p, "10.4.0.0/16");
	p = chg_peer(&c, b.pub);
	peer_ep(p, "vpn.example.com:51820");
	c.flags |= ELK_DEV_LISTEN_PORT;
	c.listen_port = 9999;
	T_CHECK(apply(&a, &c) == -EINVAL, "hostname endpoint rejected");
	elk_wg_dev_snapshot(a.d, &after, NULL);
	EQ(after.listen_port, before.listen_port, "listen port unchanged");
	EQ(after.peers[1].n_allowed_ips, before.peers[1].n_allowed_ips, "C unchanged");
	T_EQ_STR(after.peers[0].endpoint, before.peers[0].endpoint, "B unchanged");
	elk_device_clear(&before);
	elk_device_clear(&after);

	/* Replace peers: only B stays, with its session. */
	c.flags = ELK_DEV_REPLACE_PEERS;
	chg_peer(&c, b.pub);
	EQ(apply(&a, &c), 0, "replace peers");
	T_CHECK(snap_peer(&a, c3.pub, &sp, NULL) == 0, "C gone");
	n = ip4(pkt, "192.168.1.1", "192.168.2.3", 20, 5);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "B kept");
	EQ(a.sent[1], inits, "B's session kept");
	n = ip4(pkt, "192.168.1.1", "10.3.0.1", 20, 5);
	EQ(send_pkt(&a, pkt, n).dropped, -EHOSTUNREACH, "C's prefixes went with it");

	/* Remove B. */
	p = chg_peer(&c, b.pub);
	p->flags |= ELK_PEER_REMOVE;
	EQ(apply(&a, &c), 0, "remove B");
	T_CHECK(snap_peer(&a, b.pub, &sp, NULL) == 0, "B gone");
	n = ip4(pkt, "192.168.1.1", "192.168.2.3", 20, 5);
	EQ(send_pkt(&a, pkt, n).dropped, -EHOSTUNREACH, "B's prefixes gone");

	/* Update-only for an unknown peer creates nothing. */
	p = chg_peer(&c, b.pub);
	p->flags |= ELK_PEER_UPDATE_ONLY;
	peer_aip(p, "192.168.2.0/24");
	EQ(apply(&a, &c), 0, "update-only");
	T_CHECK(snap_peer(&a, b.pub, &sp, NULL) == 0, "update-only did not create");

	/* Nothing left but our own identity. */
	{
		struct elk_device d;

		elk_wg_dev_snapshot(a.d, &d, NULL);
		EQ(d.n_peers, 0, "A has no peers");
		T_CHECK(d.flags & ELK_DEV_PRIVATE_KEY, "private key reported");
		T_EQ_MEM(d.public_key, a.pub, 32, "public key reported");
		elk_device_clear(&d);
	}
	side_free(&a);
	side_free(&b);
	side_free(&c3);
}

static void test_psk_change_and_key_change(void)
{
	struct side a, b;
	struct elk_device c = { 0 };
	struct elk_peer *p;
	uint8_t pkt[BUF], psk[32];
	size_t n;
	int inits;

	pair(&a, &b, NULL, NULL);
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 1);
	send_pkt(&a, pkt, n);
	T_CHECK(got(&b, pkt, n), "up");
	inits = a.sent[1];

	/* Same PSK (zero) again: nothing happens. */
	p = chg_peer(&c, b.pub);
	p->flags |= ELK_PEER_PRESHARED_KEY;
	EQ(apply(&a, &c), 0, "same psk");
	send_pkt(&a, pkt, n);
	EQ(a.sent[1], inits, "session kept with unchanged PSK");

	/* New PSK on both: the session is dropped and a new one made. */
	randombytes_buf(psk, 32);
	p = chg_peer(&c, b.pub);
	p->flags |= ELK_PEER_PRESHARED_KEY;
	memcpy(p->preshared_key, psk, 32);
	EQ(apply(&a, &c), 0, "psk on A");
	p = chg_peer(&c, a.pub);
	p->flags |= ELK_PEER_PRESHARED_KEY;
	memcpy(p->preshared_key, psk, 32);
	EQ(apply(&b, &c), 0, "psk on B");
	a.ntun = b.ntun = 0;
	/* B takes at most one initiation from A per 20 ms (flood limit) */
	now += 100 * MS;
	n = ip4(pkt, "192.168.1.1", "192.168.2.1", 20, 2);
	send_pkt(&a, pkt, n);
	EQ(a.sent[1], inits + 1, "new handshake after PSK change");
	T_CHECK(got(&b, pkt, n), "delivered with the new PSK");

	/* B changes its private key: A's handshake fails until A learns
	 * B's new public key. */
	{
		uint8_t oldpub[32];

		memcpy(oldpub, b.pub, 32);
		elk_key_generate_private(b.priv);
		elk_key_public(b.pub, b.priv);
		c.flags = ELK_DEV_PRIVATE_KEY;
		memcpy(c.private_key, b.priv, 32);
		EQ(apply(&b, &c), 0, "B new key");
		n = ip4(pkt, "192.168.2.1", "192.168.1.1", 20, 3);
		a.ntun = 0;
		send_pkt(&b, pkt, n);
		EQ(a.ntun, 0, "A does not accept B's new identity");
		p = chg_peer(&c, oldpub);
		p->flags |= ELK_PEER_REMOVE;
		p = chg_peer(&c, b.pub);
		peer_ep(p, "10.0.0.2:51820");
		peer_aip(p, "192.168.2.0/24");
		p->flags |= ELK_PEER_PRESHARED_KEY;
		memcpy(p->preshared_key, psk, 32);
		EQ(apply(&a, &c), 0, "A learns B's new key");
		advance(2 * S, 100 * MS);
		send_pkt(&b, pkt, n);
		T_CHECK(got(&a, pkt, n), "works with the new key");
	}
	side_free(&a);
	side_free(&b);
}

static void test_persistent_keepalive(void)
{
	struct side a, b;
	struct elk_device c = { 0 };
	struct elk_peer *p, sp;
	int ka;

	pair(&a, &b, NULL, NULL);
	/* Setting a persistent keepalive starts a session at once; the
	 * initiation waits in the queue, and next_deadline says so. */
	p = chg_peer(&c, b.pub);
	p->flags |= ELK_PEER_KEEPALIVE;
	p->persistent_keepalive_interval = 5;
	EQ(elk_wg_dev_configure(a.d, &c, now, NULL), 0, "set keepalive");
	elk_device_clear(&c);
	EQ(elk_wg_dev_next_deadline(a.d), 0, "queued output makes a tick due");
	tick(&a);
	EQ(a.sent[1], 1, "handshake started by the keepalive");
	T_CHECK(a.sent[4] >= 1, "keepalive sent");
	ka = a.sent[4];
	advance(11 * S, 500 * MS);
	T_CHECK(a.sent[4] >= ka + 2, "persistent keepalives every 5 s (%d)", a.sent[4] - ka);
	T_CHECK(snap_peer(&a, b.pub, &sp, NULL) == 1, "snapshot");
	EQ(sp.persistent_keepalive_interval, 5, "interval reported");
	EQ(a.ntun + b.ntun, 0, "keepalives deliver nothing");
	side_free(&a);
	side_free(&b);
}

static void test_staged_and_endpoints(void)
{
	struct elk_wg_dev_cfg cfg;
	struct side a, b;
	struct elk_device c = { 0 };
	struct elk_peer *p, sp;
	uint8_t pkt[10][BUF];
	size_t n[10];
	int have = 0;

	/* At most max_staged packets wait for a handshake; the newest win. */
	reset_net();
	test_cfg(&cfg);
	cfg.max_staged = 4;
	side_init(&a, "A", "10.0.0.1", &cfg);
	side_init(&b, "B", "10.0.0.2", &cfg);
	p = chg_peer(&c, b.pub);
	peer_ep(p, "10.0.0.2:51820");
	peer_aip(p, "192.168.2.0/24");
	apply(&a, &c);
	p = chg_peer(&c, a.pub);
	peer_aip(p, "192.168.1.0/24");
	apply(&b, &c);
	a.hold = true;
	for (int i = 0; i < 10; i++) {
		n[i] = ip4(pkt[i], "192.168.1.1", "192.168.2.1", 10 + (size_t)i, (uint8_t)i);
		send_pkt(&a, pkt[i], n[i]);
	}
	EQ(a.nheld, 1, "one initiation for ten packets");
	release_held(&a);
	for (int i = 0; i < 10; i++)
		if (got(&b, pkt[i], n[i]))
			have |= 1 << i;
	EQ(have, 0x3c0, "the last four staged packets arrived, in order");
	EQ(b.ntun, 4, "four delivered");
	for (int i = 0; i < b.ntun; i++)
		EQ(b.tunlen[i], n[6 + i], "delivery order");

	/* B learnt A's endpoint from the handshake (none configured). */
	T_CHECK(snap_peer(&b, a.pub, &sp, NULL) == 1, "B knows A");
	T_EQ_STR(sp.endpoint, "10.0.0.1:51820", "endpoint learnt");

	/* IPv6 endpoints, with and without scope, round-trip. */
	p = chg_peer(&c, b.pub);
	peer_ep(p, "[fd00::2]:51820");
	EQ(apply(&a, &c), 0, "v6 endpoint");
	snap_peer(&a, b.pub, &sp, NULL);
	T_EQ_STR(sp.endpoint, "[fd00::2]:51820", "v6 endpoint reported");
	p = chg_peer(&c, b.pub);
	peer_ep(p, "[fe80::2%1]:51820");
	EQ(apply(&a, &c), 0, "scoped v6 endpoint");
	snap_peer(&a, b.pub, &sp, NULL);
	T_CHECK(!strncmp(sp.endpoint, "[fe80::2%", 9), "scope kept: %s", sp.endpoint);
	p = chg_peer(&c, b.pub);
	peer_ep(p, "[fe80::2%nosuchif0]:51820");
	T_CHECK(apply(&a, &c) == -EINVAL, "unknown scope rejected");

	/* A peer without an endpoint cannot be sent to. */
	{
		uint8_t k[32], x[BUF];
		size_t xn;

		randombytes_buf(k, 32);
		p = chg_peer(&c, k);
		peer_aip(p, "192.168.77.0/24");
		EQ(apply(&a, &c), 0, "peer without endpoint");
		xn = ip4(x, "192.168.1.1", "192.168.77.1", 10, 0);
		EQ(send_pkt(&a, x, xn).dropped, -EHOSTUNREACH, "no endpoint: EHOSTUNREACH");
	}
	side_free(&a);
	side_free(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_basic();
	test_from_b_and_psk();
	test_acl_replay_tamper();
	test_roaming();
	test_rekey();
	test_giveup_and_zero();
	test_under_load();
	test_configure();
	test_psk_change_and_key_change();
	test_persistent_keepalive();
	test_staged_and_endpoints();
	return T_DONE();
}
