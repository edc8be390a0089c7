/* fuzz_wg_device.c - libFuzzer harness for lib/wg_device.c, the userspace
 * WireGuard device's packet path: every datagram el-link reads from its UDP
 * socket goes to elk_wg_dev_decapsulate(), and from there into wg_noise,
 * wg_cookie, wg_replay, wg_allowedips, wg_ratelimit and wg_timers.
 *
 * Two devices, A (10.0.0.1) and B (10.0.0.2), with fixed keys, each the
 * other's peer (A routes 192.168.2.0/24 and fd00:2::/64 to B, B routes
 * 192.168.1.0/24 and fd00:1::/64 to A), and each with a second peer,
 * "nobody", whose public key is a hash output: nobody holds its private key.
 * libsodium's random source is replaced by a deterministic one, reset for
 * every input, so ephemeral keys, indices and cookie secrets repeat and a
 * recorded handshake replays: the seeds hold real packets.
 *
 * An input is a list of operations, each a control byte, a 16-bit
 * little-endian length and that many bytes (fewer at the end):
 *   ctl & 7        operation, ctl >> 3 & 1 the device (A or B), ctl >> 4 arg
 *   0 DGRAM        decapsulate the bytes (arg & 7: source address, 5..7
 *                  a bad one; arg & 8: a 148-byte output buffer)
 *   1 TUN          encapsulate an IP packet built from the bytes (version,
 *                  source and destination from the first two), arg & 7 + 1
 *                  times, each with its own tag in the IP ID / flow label
 *   2 RAWTUN       encapsulate the bytes as they are
 *   3 TIME         advance the clock (16-bit count of 4^(arg & 7) ms), with
 *                  arg & 8 step the wall clock too; tick both devices
 *   4 RELAY        the network delivers arg & 7 + 1 queued datagrams of the
 *                  device to their addressee; the bytes flip bits in the
 *                  first one and may truncate it
 *   5 DROP         lose (arg & 8: reorder) queued datagrams
 *   6 CONFIG       reconfigure (the first byte picks what): PSK, keepalive,
 *                  allowed IPs, MTU, endpoint, either key, remove/re-add/
 *                  replace peers, invalid changes; third byte & 1: leave
 *                  what configure queued undrained
 *   7 CHECK        snapshot and check the device
 * Outputs of every call are drained with elk_wg_dev_poll() into a per-device
 * outbox that RELAY and DROP work on.
 *
 * Beyond "no crash, no sanitizer report, no leak" it asserts:
 *   - only decapsulate delivers to the tunnel, and what it delivers is a
 *     whole IP packet whose source the sending peer may use: never one of
 *     nobody's addresses, nor one that is not the other device's (the
 *     cryptokey routing and the authentication both hold);
 *   - nobody is never heard from: its peer entry never counts a received
 *     byte nor a handshake, whatever the input (without nobody's private
 *     key no datagram can authenticate as it; this holds as long as the
 *     harness cannot compute X25519 and ChaCha20-Poly1305, which a mutation
 *     fuzzer cannot);
 *   - no (receiver index, counter) is accepted twice (replay protection),
 *     and data is accepted only on a keypair the harness saw being made
 *     (the device sent or took the response) less than REJECT_AFTER_TIME
 *     ago;
 *   - an unmodified datagram relayed from the other device delivers exactly
 *     a packet that device was given (padding and length handled right),
 *     and one with any authenticated byte changed or cut off is dropped;
 *   - every datagram sent is a well-formed WireGuard message of its type's
 *     size, data padded to 16 bytes when no MTU is set, to a v4 or v6
 *     address of the right length; drop reasons are negative;
 *   - a configuration change that fails changes nothing (snapshots equal);
 *   - after a tick at `now` no timer is left due (the event loop would spin).
 * Built and run by tests/fuzz/run.sh; seeds in tests/fuzz/corpus/wg_device,
 * which tests/unit/test_fuzz_replay.c replays through this file without
 * libFuzzer. Built with -DFUZZ_WG_DEVICE_SEEDS this file is instead the
 * program that wrote those seeds (handshakes both ways, PSK, cookies under
 * load, rekeying, zeroing, roaming, replays, each as operations and as the
 * literal datagrams, plus truncated and bit-flipped variants):
 *   cc -std=c11 -D_GNU_SOURCE -DFUZZ_WG_DEVICE_SEEDS -Ilib \
 *      tests/fuzz/fuzz_wg_device.c build/rel/libelk.a \
 *      $(pkg-config --cflags --libs libsodium libb2 jansson nettle libmnl) \
 *      -o /tmp/seeds && /tmp/seeds tests/fuzz/corpus/wg_device
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_device.h"
#include "wg_proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CHECK(c): a promise; see fuzz.h. */
#include "fuzz.h"

#define W_SEC 1000000000ull
#define W_MS (W_SEC / 1000)
#define W_NOW0 (1000 * W_SEC)
#define W_WALL0 (1700000000ull * W_SEC)
#define W_BIGCAP 2048		/* output buffer; ELK_WG_MIN_OUT is the small one */
#define W_MAXDG 2048		/* biggest datagram an outbox keeps */
#define W_MAXBODY 1400		/* TUN payload bytes */
#define W_OUTBOX 32
#define W_MAXOPS 256
#define W_MAXTAGS 2048
#define W_SEEN 4096		/* power of two */
#define W_BORN 1024

enum { W_DGRAM, W_TUN, W_RAWTUN, W_TIME, W_RELAY, W_DROP, W_CONFIG, W_CHECK };
enum { W_ADDR_A, W_ADDR_B, W_ADDR_A_ROAM, W_ADDR_B_ROAM, W_ADDR_NOBODY, W_NADDR };
/* Where a datagram comes from: the fuzzer's bytes; the other device's
 * output, unchanged; or that output with an authenticated byte changed. */
enum w_how { W_INJECTED, W_RELAYED, W_TAMPERED };

struct w_dgram {
	size_t len;
	int to;			/* address index, -1: nowhere we know */
	uint8_t b[W_MAXDG];
};

struct w_dev {
	struct elk_wg_dev *d;
	int key;		/* own private key: 0 or 1, -1 none */
	int peer_key;		/* which of the other's keys it knows */
	bool mtu;		/* an MTU is set: data is not padded to 16 */
	bool raw_sent;		/* RAWTUN used: packets are not tagged */
	struct w_dgram out[W_OUTBOX];
	unsigned out_head, out_len;
	uint32_t ntags;
	struct {
		uint32_t len;
		uint64_t h;
	} sent[W_MAXTAGS];
	struct {
		uint64_t ctr;
		uint32_t idx;
		bool used;
	} seen[W_SEEN];
	/* When each keypair was made, by its local (receiver) index: when
	 * the device sent the response that made it, or accepted the
	 * response that made it. */
	struct {
		uint32_t idx;
		uint64_t at;
	} born[W_BORN];
	unsigned nborn;
	unsigned cookies_sent;
	uint64_t delivered;	/* packets to the tunnel, and a hash of them */
	uint64_t delivered_h;
};

static struct w_dev w_devs[2];
static uint64_t w_now, w_wall;
static uint8_t *w_big, *w_small;
static uint8_t w_priv[2][2][ELK_KEY_LEN], w_pub[2][2][ELK_KEY_LEN];
static uint8_t w_nobody[ELK_KEY_LEN], w_psk[ELK_KEY_LEN];
static uint8_t w_hkey[ELK_KEY_LEN];	/* the first crypto_shorthash_KEYBYTES */
_Static_assert(crypto_shorthash_KEYBYTES <= ELK_KEY_LEN, "hash key");
static struct sockaddr_storage w_addr[W_NADDR];
static socklen_t w_addrlen[W_NADDR];
static const char *const w_ep[W_NADDR] = {
	"10.0.0.1:51820", "10.0.0.2:51820", "198.51.100.1:4000", "[2001:db8::2]:51820",
	"10.0.0.9:51820",
};
/* Third octet (v4) / second group (v6) of each side's networks. */
#define W_NET(dev) ((dev) == 0 ? 1 : 2)
#define W_NET_NOBODY 9
static struct elk_cidr w_aips[3][2];	/* A's, B's and nobody's networks */

/* ---- a deterministic random source ------------------------------------- */

static uint64_t w_rng_state;
static uint32_t w_rng_ctr;

static const char *w_rng_name(void)
{
	return "edgelink-fuzz";
}

/* A bijection of a counter, so no two calls give the same number: the
 * device's indices never repeat within an input. */
static uint32_t w_rng_random(void)
{
	uint32_t x = ++w_rng_ctr;

	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static void w_rng_buf(void *const buf, const size_t size)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < size; i += 8) {
		uint64_t z = (w_rng_state += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		memcpy(b + i, &z, size - i < 8 ? size - i : 8);
	}
}

static randombytes_implementation w_rng = {
	.implementation_name = w_rng_name,
	.random = w_rng_random,
	.buf = w_rng_buf,
};

static void w_rng_reset(void)
{
	w_rng_state = 0x6564676c696e6b21ull;
	w_rng_ctr = 0;
}

/* ---- setup --------------------------------------------------------------- */

static void w_key(uint8_t out[ELK_KEY_LEN], const char *label, bool clamp)
{
	crypto_generichash(out, ELK_KEY_LEN, (const uint8_t *)label, strlen(label), NULL, 0);
	if (clamp) {
		out[0] &= 248;
		out[31] = (out[31] & 127) | 64;
	}
}

static void w_sockaddr(int i)
{
	char host[64];
	uint16_t port;

	memset(&w_addr[i], 0, sizeof(w_addr[i]));
	if (elk_endpoint_split(w_ep[i], host, sizeof(host), &port))
		abort();
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&w_addr[i])->sin_addr) == 1) {
		((struct sockaddr_in *)&w_addr[i])->sin_family = AF_INET;
		((struct sockaddr_in *)&w_addr[i])->sin_port = htons(port);
		w_addrlen[i] = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&w_addr[i])->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&w_addr[i])->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&w_addr[i])->sin6_port = htons(port);
		w_addrlen[i] = sizeof(struct sockaddr_in6);
	} else {
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const nets[3][2] = {
		{ "192.168.1.0/24", "fd00:1::/64" },
		{ "192.168.2.0/24", "fd00:2::/64" },
		{ "192.168.9.0/24", "fd00:9::/64" },
	};

	(void)argc;
	(void)argv;
	randombytes_set_implementation(&w_rng);
	if (sodium_init() < 0)
		abort();
	w_key(w_priv[0][0], "edgelink fuzz: A", true);
	w_key(w_priv[0][1], "edgelink fuzz: A, second key", true);
	w_key(w_priv[1][0], "edgelink fuzz: B", true);
	w_key(w_priv[1][1], "edgelink fuzz: B, second key", true);
	for (int i = 0; i < 4; i++)
		if (elk_key_public(w_pub[i / 2][i % 2], w_priv[i / 2][i % 2]))
			abort();
	w_key(w_nobody, "edgelink fuzz: a public key nobody has the private key of", false);
	w_key(w_psk, "edgelink fuzz: PSK", false);
	w_key(w_hkey, "edgelink fuzz: packet hash", false);
	for (int i = 0; i < W_NADDR; i++)
		w_sockaddr(i);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			if (elk_cidr_parse(nets[i][j], &w_aips[i][j]))
				abort();
	w_big = malloc(W_BIGCAP);
	w_small = malloc(ELK_WG_MIN_OUT);
	if (!w_big || !w_small)
		abort();
	return 0;
}

/* ---- checks on what the device says ------------------------------------ */

static uint64_t w_hash(const uint8_t *b, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, b, n, w_hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

static int w_addr_index(const struct sockaddr_storage *ss, socklen_t len)
{
	for (int i = 0; i < W_NADDR; i++) {
		if (ss->ss_family != w_addr[i].ss_family || len != w_addrlen[i])
			continue;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ss, *b = (const void *)&w_addr[i];

			if (a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port)
				return i;
		} else {
			const struct sockaddr_in6 *a = (const void *)ss, *b = (const void *)&w_addr[i];

			if (!memcmp(&a->sin6_addr, &b->sin6_addr, 16) && a->sin6_port == b->sin6_port)
				return i;
		}
	}
	return -1;
}

/* Which device lives at an address: A at its two, B at its two. */
static int w_owner(int addr)
{
	return addr == W_ADDR_A || addr == W_ADDR_A_ROAM ? 0
	       : addr == W_ADDR_B || addr == W_ADDR_B_ROAM ? 1 : -1;
}

static bool w_drop_ok(int dropped)
{
	switch (dropped) {
	case 0:
	case -EBADMSG:
	case -ENOKEY:
	case -ESTALE:
	case -EACCES:
	case -EHOSTUNREACH:
	case -EBUSY:
	case -EINVAL:
	case -EMSGSIZE:
	case -ENOBUFS:
	case -ENOMEM:
		return true;
	}
	return false;
}

static void w_born(struct w_dev *w, uint32_t idx)
{
	for (unsigned i = 0; i < w->nborn; i++)
		CHECK(w->born[i].idx != idx);	/* indices are never reused */
	if (w->nborn < W_BORN) {
		w->born[w->nborn].idx = idx;
		w->born[w->nborn++].at = w_now;
	}
}

/* Transport data is accepted only on a keypair we saw being made, and
 * younger than REJECT_AFTER_TIME. */
static void w_check_age(struct w_dev *w, uint32_t idx)
{
	for (unsigned i = 0; i < w->nborn; i++) {
		if (w->born[i].idx == idx) {
			CHECK(w_now - w->born[i].at < ELK_WG_TIMERS_DEFAULT_REJECT_AFTER_TIME);
			return;
		}
	}
	CHECK(w->nborn == W_BORN);
}

/* A datagram the device sends. */
static void w_check_sent(int x, const struct elk_wg_result *r, const uint8_t *out, size_t cap)
{
	static const size_t sizes[5] = { 0, ELK_WG_INITIATION_SIZE, ELK_WG_RESPONSE_SIZE,
					 ELK_WG_COOKIE_REPLY_SIZE, 0 };
	struct w_dev *w = &w_devs[x];

	CHECK(r->len <= cap && r->len >= 4);
	CHECK((r->addr.ss_family == AF_INET && r->addrlen == sizeof(struct sockaddr_in)) ||
	      (r->addr.ss_family == AF_INET6 && r->addrlen == sizeof(struct sockaddr_in6)));
	CHECK(out[0] >= 1 && out[0] <= 4 && !out[1] && !out[2] && !out[3]);
	if (out[0] != ELK_WG_MSG_TRANSPORT_DATA) {
		CHECK(r->len == sizes[out[0]]);
		if (out[0] == ELK_WG_MSG_HANDSHAKE_RESPONSE)
			w_born(w, elk_wg_le32_get(out + 4));
		else if (out[0] == ELK_WG_MSG_COOKIE_REPLY)
			w->cookies_sent++;
	} else {
		CHECK(r->len >= ELK_WG_KEEPALIVE_SIZE);
		CHECK(w->mtu || (r->len - ELK_WG_KEEPALIVE_SIZE) % ELK_WG_PADDING_MULTIPLE == 0);
	}
	if (w->out_len < W_OUTBOX && r->len <= W_MAXDG) {
		struct w_dgram *g = &w->out[(w->out_head + w->out_len++) % W_OUTBOX];

		g->len = r->len;
		g->to = w_addr_index(&r->addr, r->addrlen);
		memcpy(g->b, out, r->len);
	}
}

static bool w_in(const struct elk_cidr *c, const uint8_t *addr)
{
	unsigned n = c->len / 8, rest = c->len % 8;

	return !memcmp(c->addr, addr, n) &&
	       (!rest || ((c->addr[n] ^ addr[n]) & (uint8_t)(0xff00 >> rest)) == 0);
}

/* (receiver index, counter) of an authentic transport datagram: never
 * twice. */
static void w_seen(struct w_dev *w, const uint8_t *dg)
{
	uint32_t idx = elk_wg_le32_get(dg + 4);
	uint64_t ctr = elk_wg_le64_get(dg + 8);
	unsigned h = (unsigned)((idx * 0x9e3779b1u) ^ (uint32_t)(ctr * 0x85ebca6bu)) & (W_SEEN - 1);

	for (unsigned i = 0; i < W_SEEN; i++, h = (h + 1) & (W_SEEN - 1)) {
		if (!w->seen[h].used) {
			w->seen[h].used = true;
			w->seen[h].idx = idx;
			w->seen[h].ctr = ctr;
			return;
		}
		CHECK(w->seen[h].idx != idx || w->seen[h].ctr != ctr);
	}
}

/* A packet the device delivers to its tunnel; relayed: the datagram came
 * unmodified from the other device's own output. */
static void w_check_delivered(int x, const uint8_t *p, size_t len, size_t cap, bool relayed)
{
	struct w_dev *w = &w_devs[x], *o = &w_devs[!x];
	const struct elk_cidr *net;
	const uint8_t *src;
	uint32_t tag;

	CHECK(len <= cap && len >= 20);
	if (p[0] >> 4 == 4) {
		CHECK((p[0] & 0xf) >= 5 && len >= (size_t)(p[0] & 0xf) * 4);
		CHECK(((size_t)p[2] << 8 | p[3]) == len);
		src = p + 12;
		net = &w_aips[!x][0];
		tag = (uint32_t)p[4] << 8 | p[5];
	} else {
		CHECK(p[0] >> 4 == 6 && len >= 40);
		CHECK(40 + ((size_t)p[4] << 8 | p[5]) == len);
		src = p + 8;
		net = &w_aips[!x][1];
		tag = (uint32_t)p[2] << 8 | p[3];
	}
	/* Only the other device's networks, never nobody's. */
	CHECK(w_in(net, src));
	w->delivered++;
	w->delivered_h = w->delivered_h * 31 + w_hash(p, len);
	if (relayed && !o->raw_sent) {
		CHECK(tag < o->ntags);
		CHECK(o->sent[tag].len == len && o->sent[tag].h == w_hash(p, len));
	}
}

/* Nobody is never heard from: no byte, no handshake. */
static void w_check_snapshot(int x)
{
	struct elk_device s;
	int64_t *nsec = NULL;

	CHECK(elk_wg_dev_snapshot(w_devs[x].d, &s, &nsec) == 0);
	for (size_t i = 0; i < s.n_peers; i++) {
		const struct elk_peer *p = &s.peers[i];

		if (!memcmp(p->public_key, w_nobody, ELK_KEY_LEN)) {
			if (p->rx_bytes || p->last_handshake || nsec[i]) {
				elk_device_clear(&s);
				free(nsec);
				CHECK(!"nobody was heard from");
			}
		}
	}
	elk_device_clear(&s);
	free(nsec);
}

static void w_drain(int x)
{
	struct elk_wg_result r;

	for (int i = 0; i < 4 * W_OUTBOX + 1024; i++) {
		r = elk_wg_dev_poll(w_devs[x].d, w_big, W_BIGCAP, w_now);
		CHECK(w_drop_ok(r.dropped));
		if (r.op == ELK_WG_NOTHING)
			return;
		CHECK(r.op == ELK_WG_TO_NETWORK);
		w_check_sent(x, &r, w_big, W_BIGCAP);
	}
	CHECK(!"poll keeps giving");
}

/* The result of a call; only decapsulate may deliver to the tunnel. */
static void w_result(int x, const struct elk_wg_result *r, const uint8_t *out, size_t cap,
		     const uint8_t *dg, size_t dglen, enum w_how how)
{
	CHECK(w_drop_ok(r->dropped));
	/* a changed byte that is authenticated: dropped, whatever it was */
	CHECK(how != W_TAMPERED || r->dropped != 0);
	if (r->op == ELK_WG_TO_NETWORK) {
		w_check_sent(x, r, out, cap);
	} else if (r->op == ELK_WG_TO_TUNNEL) {
		CHECK(dg != NULL);
		CHECK(r->dropped == 0);
		w_check_delivered(x, out, r->len, cap, how == W_RELAYED);
	} else {
		CHECK(r->op == ELK_WG_NOTHING);
	}
	/* Authentic transport data moved the replay window. */
	if (dg && dglen >= ELK_WG_KEEPALIVE_SIZE && dg[0] == ELK_WG_MSG_TRANSPORT_DATA &&
	    !dg[1] && !dg[2] && !dg[3] &&
	    (r->op == ELK_WG_TO_TUNNEL || r->dropped == 0 || r->dropped == -EACCES)) {
		w_seen(&w_devs[x], dg);
		w_check_age(&w_devs[x], elk_wg_le32_get(dg + 4));
	}
}

/* ---- operations ----------------------------------------------------------- */

static void w_decap(int x, const uint8_t *p, size_t n, int src, bool small, enum w_how how)
{
	struct elk_wg_result r;
	struct sockaddr *sa = NULL;
	socklen_t salen = 0;
	uint8_t *dg = malloc(n ? n : 1), *out = small ? w_small : w_big;
	size_t cap = small ? ELK_WG_MIN_OUT : W_BIGCAP;
	unsigned cookies;

	if (!dg)
		abort();
	/* Exactly sized copies, so that any over-read is caught. */
	memcpy(dg, p, n);
	if (src < W_NADDR) {
		salen = w_addrlen[src];
	} else if (src == 5) {
		salen = sizeof(struct sockaddr_in) - 1;	/* too short for its family */
		src = W_ADDR_A;
	} else if (src == 6) {
		salen = sizeof(sa_family_t) + 2;	/* AF_UNIX */
	}
	if (salen) {
		sa = malloc(salen);
		if (!sa)
			abort();
		memset(sa, 0, salen);
		if (src < W_NADDR)
			memcpy(sa, &w_addr[src], salen);
		else
			sa->sa_family = AF_UNIX;
	}
	cookies = w_devs[x].cookies_sent;
	r = elk_wg_dev_decapsulate(w_devs[x].d, sa, salen, dg, n, out, cap, w_now);
	w_result(x, &r, out, cap, dg, n, how);
	w_drain(x);
	/* A response taken (not answered with a cookie) made a keypair. */
	if (n == ELK_WG_RESPONSE_SIZE && dg[0] == ELK_WG_MSG_HANDSHAKE_RESPONSE && !r.dropped &&
	    w_devs[x].cookies_sent == cookies)
		w_born(&w_devs[x], elk_wg_le32_get(dg + 8));
	free(sa);
	free(dg);
}

/* An IP packet from the bytes: p[0] picks version, source and destination
 * networks, p[1] the host; the rest is payload. */
static size_t w_ip(uint8_t *b, int x, const uint8_t *p, size_t n, uint16_t tag)
{
	uint8_t sel = n ? p[0] : 0, host = n > 1 ? p[1] : 1;
	const uint8_t *body = n > 2 ? p + 2 : p;
	size_t blen = n > 2 ? n - 2 : 0;
	/* source: ours, the other's (spoofed), nobody's, anything;
	 * destination: the other's, nobody's, ours, nobody routes it */
	const int srcs[4] = { W_NET(x), W_NET(!x), W_NET_NOBODY, host ^ 0x5a };
	const int dsts[4] = { W_NET(!x), W_NET_NOBODY, W_NET(x), 77 };
	int src = srcs[(sel >> 1) & 3], dst = dsts[(sel >> 3) & 3];
	size_t hl = sel & 1 ? 40 : 20, len;

	if (blen > W_MAXBODY)
		blen = W_MAXBODY;
	len = hl + blen;
	memset(b, 0, hl);
	if (sel & 1) {
		b[0] = 0x60;
		b[2] = (uint8_t)(tag >> 8);
		b[3] = (uint8_t)tag;
		b[4] = (uint8_t)(blen >> 8);
		b[5] = (uint8_t)blen;
		b[6] = 59;
		b[7] = 64;
		b[8] = 0xfd;
		b[11] = (uint8_t)src;
		b[23] = host;
		b[24] = 0xfd;
		b[27] = (uint8_t)dst;
		b[39] = host;
	} else {
		b[0] = 0x45;
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
		b[4] = (uint8_t)(tag >> 8);
		b[5] = (uint8_t)tag;
		b[8] = 64;
		b[9] = 253;
		b[12] = 192;
		b[13] = 168;
		b[14] = (uint8_t)src;
		b[15] = host;
		b[16] = 192;
		b[17] = 168;
		b[18] = (uint8_t)dst;
		b[19] = host;
	}
	memcpy(b + hl, body, blen);
	return len;
}

static void w_encap(int x, const uint8_t *pkt, size_t n, bool small)
{
	struct elk_wg_result r;
	uint8_t *copy = malloc(n ? n : 1), *out = small ? w_small : w_big;
	size_t cap = small ? ELK_WG_MIN_OUT : W_BIGCAP;

	if (!copy)
		abort();
	memcpy(copy, pkt, n);
	r = elk_wg_dev_encapsulate(w_devs[x].d, copy, n, out, cap, w_now);
	free(copy);
	w_result(x, &r, out, cap, NULL, 0, W_INJECTED);
	w_drain(x);
}

static void w_tun(int x, const uint8_t *p, size_t n, unsigned arg)
{
	static uint8_t pkt[40 + W_MAXBODY];
	struct w_dev *w = &w_devs[x];

	for (unsigned i = 0; i <= (arg & 7); i++) {
		size_t len;

		if (w->ntags >= W_MAXTAGS)
			return;
		len = w_ip(pkt, x, p, n, (uint16_t)w->ntags);
		w->sent[w->ntags].len = (uint32_t)len;
		w->sent[w->ntags].h = w_hash(pkt, len);
		w->ntags++;
		w_encap(x, pkt, len, arg & 8);
	}
}

static void w_tick(int x)
{
	struct elk_wg_result r = elk_wg_dev_tick(w_devs[x].d, w_big, W_BIGCAP, w_now);

	w_result(x, &r, w_big, W_BIGCAP, NULL, 0, W_INJECTED);
	w_drain(x);
	/* Everything due has run: a deadline at or before now would make
	 * el-link's event loop spin. */
	CHECK(elk_wg_dev_next_deadline(w_devs[x].d) > w_now);
}

static void w_time(const uint8_t *p, size_t n, unsigned arg)
{
	uint64_t count = n >= 2 ? (uint64_t)p[0] | (uint64_t)p[1] << 8 : 1;

	w_now += count * W_MS * (1ull << (2 * (arg & 7)));
	if (arg & 8 && n >= 3) {
		/* The wall clock steps (NTP), by -128..127 s. */
		w_wall += (uint64_t)(int64_t)(int8_t)p[2] * W_SEC;
		for (int x = 0; x < 2; x++)
			elk_wg_dev_set_wall_clock(w_devs[x].d, w_wall, w_now);
	}
	w_tick(0);
	w_tick(1);
}

#ifdef FUZZ_WG_DEVICE_SEEDS
static void w_rec_dgram(int to, int src, const uint8_t *b, size_t n);
#else
static void w_rec_dgram(int to, int src, const uint8_t *b, size_t n)
{
	(void)to;
	(void)src;
	(void)b;
	(void)n;
}
#endif

/* How a datagram that was sent got changed on the way: where the first
 * changed byte is (len when it was only cut short), or -1. */
static long w_changed_at(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	for (size_t i = 0; i < alen && i < blen; i++)
		if (a[i] != b[i])
			return (long)i;
	return alen == blen ? -1 : (long)(alen < blen ? alen : blen);
}

static void w_relay(int x, const uint8_t *p, size_t n, unsigned arg)
{
	static uint8_t dg[W_MAXDG], orig[W_MAXDG];
	struct w_dev *w = &w_devs[x];

	for (unsigned i = 0; i <= (arg & 7) && w->out_len; i++) {
		struct w_dgram *g = &w->out[w->out_head];
		size_t len = g->len, olen = g->len;
		int to = g->to >= 0 ? w_owner(g->to) : -1;
		int src = arg & 8 ? (x ? W_ADDR_B_ROAM : W_ADDR_A_ROAM) : (x ? W_ADDR_B : W_ADDR_A);
		enum w_how how = W_RELAYED;
		long at;

		memcpy(dg, g->b, len);
		memcpy(orig, g->b, len);
		w->out_head = (w->out_head + 1) % W_OUTBOX;
		w->out_len--;
		if (i == 0 && n) {
			for (size_t j = 0; j + 1 < n; j += 2)
				dg[(p[j] * len) >> 8] ^= p[j + 1];
			if (n & 1 && p[n - 1])
				len = (len * p[n - 1]) >> 8;
		}
		/* Every byte of a data message is authenticated, and all of a
		 * handshake message but mac2 (checked only under load); cookie
		 * replies may be readdressed to another index of the same
		 * peer. */
		at = w_changed_at(orig, olen, dg, len);
		if (at >= 0)
			how = orig[0] == ELK_WG_MSG_TRANSPORT_DATA ||
				      ((orig[0] == ELK_WG_MSG_HANDSHAKE_INITIATION ||
					orig[0] == ELK_WG_MSG_HANDSHAKE_RESPONSE) &&
				       at < (long)ELK_WG_MAC2_OFFSET(olen))
				      ? W_TAMPERED
				      : W_INJECTED;
		if (to < 0)
			continue;	/* to nobody, or to where nobody lives */
		w_rec_dgram(to, src, dg, len);
		w_decap(to, dg, len, src, false, how);
	}
}

static void w_drop(int x, unsigned arg)
{
	struct w_dev *w = &w_devs[x];

	for (unsigned i = 0; i <= (arg & 7) && w->out_len; i++) {
		if (arg & 8 && w->out_len > 1) {
			/* the head overtaken by everything behind it */
			struct w_dgram *g = &w->out[w->out_head];
			struct w_dgram *t = &w->out[(w->out_head + w->out_len) % W_OUTBOX];

			if (t != g)
				*t = *g;
			w->out_head = (w->out_head + 1) % W_OUTBOX;
		} else if (!(arg & 8)) {
			w->out_head = (w->out_head + 1) % W_OUTBOX;
			w->out_len--;
		}
	}
}

/* ---- configuration ------------------------------------------------------- */

/* x's entry for the other device, as first configured. */
static void w_real_peer(int x, struct elk_peer *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, w_pub[!x][w_devs[x].peer_key], ELK_KEY_LEN);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", w_ep[x ? W_ADDR_A : W_ADDR_B]);
	p->allowed_ips = w_aips[!x];
	p->n_allowed_ips = 2;
	p->flags = ELK_PEER_ENDPOINT | ELK_PEER_ALLOWED_IPS;
}

static void w_nobody_peer(struct elk_peer *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, w_nobody, ELK_KEY_LEN);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", w_ep[W_ADDR_NOBODY]);
	p->allowed_ips = w_aips[2];
	p->n_allowed_ips = 2;
	p->flags = ELK_PEER_ENDPOINT | ELK_PEER_ALLOWED_IPS;
}

/* lazy: leave what configure() queued for the next call to hand out */
static int w_configure(int x, const struct elk_device *c, bool lazy)
{
	struct elk_err e = { "" };
	int r = elk_wg_dev_configure(w_devs[x].d, c, w_now, &e);

	if (!lazy)
		w_drain(x);
	return r;
}

static bool w_snap_eq(const struct elk_device *a, const struct elk_device *b)
{
	if (a->flags != b->flags || memcmp(a->private_key, b->private_key, ELK_KEY_LEN) ||
	    a->listen_port != b->listen_port || a->fwmark != b->fwmark || a->mtu != b->mtu ||
	    a->n_peers != b->n_peers)
		return false;
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct elk_peer *p = &a->peers[i], *q = &b->peers[i];

		if (p->flags != q->flags || memcmp(p->public_key, q->public_key, ELK_KEY_LEN) ||
		    memcmp(p->preshared_key, q->preshared_key, ELK_KEY_LEN) ||
		    strcmp(p->endpoint, q->endpoint) ||
		    p->persistent_keepalive_interval != q->persistent_keepalive_interval ||
		    p->n_allowed_ips != q->n_allowed_ips ||
		    (p->n_allowed_ips &&
		     memcmp(p->allowed_ips, q->allowed_ips, p->n_allowed_ips * sizeof(*p->allowed_ips))))
			return false;
	}
	return true;
}

/* A change that must be refused, and then leave everything as it was. */
static void w_config_invalid(int x, uint8_t how)
{
	static struct elk_cidr bad;
	struct elk_device c = { 0 }, before, after;
	struct elk_peer peers[2];
	int r;
	bool same;

	w_real_peer(x, &peers[0]);
	peers[0].persistent_keepalive_interval = 7;
	peers[0].flags |= ELK_PEER_KEEPALIVE | ELK_PEER_REPLACE_ALLOWED_IPS;
	peers[0].n_allowed_ips = 1;
	w_nobody_peer(&peers[1]);
	switch (how % 4) {
	case 0:
		snprintf(peers[1].endpoint, sizeof(peers[1].endpoint), "vpn.example.org:51820");
		break;
	case 1:
		memset(peers[1].public_key, 0, ELK_KEY_LEN);
		break;
	case 2:
		bad = w_aips[2][0];
		bad.len = 33;
		peers[1].allowed_ips = &bad;
		peers[1].n_allowed_ips = 1;
		break;
	case 3:
		snprintf(peers[1].endpoint, sizeof(peers[1].endpoint), "[fe80::1%%nosuchif0]:1");
		break;
	}
	c.flags = ELK_DEV_LISTEN_PORT | ELK_DEV_MTU | ELK_DEV_REPLACE_PEERS;
	c.listen_port = 1;
	c.mtu = 1280;
	c.peers = peers;
	c.n_peers = 2;
	CHECK(elk_wg_dev_snapshot(w_devs[x].d, &before, NULL) == 0);
	r = w_configure(x, &c, false);
	if (elk_wg_dev_snapshot(w_devs[x].d, &after, NULL)) {
		elk_device_clear(&before);
		CHECK(!"snapshot");
	}
	same = w_snap_eq(&before, &after);
	elk_device_clear(&before);
	elk_device_clear(&after);
	CHECK(r == -EINVAL);
	CHECK(same);
}

static void w_config(int x, const uint8_t *p, size_t n)
{
	struct w_dev *w = &w_devs[x];
	struct elk_device c = { 0 };
	struct elk_peer peers[2];
	struct elk_cidr narrow[2];
	uint8_t sel = n ? p[0] : 0, a = n > 1 ? p[1] : 0;

	memset(peers, 0, sizeof(peers));
	c.peers = peers;
	switch (sel % 13) {
	case 0: /* PSK on, or back to none */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_PRESHARED_KEY;
		if (a & 1)
			memcpy(peers[0].preshared_key, w_psk, ELK_KEY_LEN);
		c.n_peers = 1;
		break;
	case 1: /* persistent keepalive, seconds */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_KEEPALIVE;
		peers[0].persistent_keepalive_interval = a;
		c.n_peers = 1;
		break;
	case 2: /* allowed IPs replaced by a part of them (or none) */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_REPLACE_ALLOWED_IPS | ELK_PEER_ALLOWED_IPS;
		narrow[0] = w_aips[!x][0];
		narrow[1] = w_aips[!x][1];
		if (a & 1) {
			narrow[0].len = 25;
			narrow[0].addr[3] = 128 & (uint8_t)(a << 6);
		}
		peers[0].allowed_ips = narrow;
		peers[0].n_allowed_ips = (a >> 1) % 3;
		c.n_peers = 1;
		break;
	case 3: /* the peer removed and added again in one change */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_REMOVE;
		w_real_peer(x, &peers[1]);
		c.n_peers = a & 1 ? 2 : 1;
		break;
	case 4: /* MTU, or none */
		c.flags = ELK_DEV_MTU;
		c.mtu = a ? ELK_MTU_MIN + 8u * a : 0;
		w->mtu = c.mtu != 0;
		break;
	case 5: /* our own key: the other one, or none at all */
		c.flags = ELK_DEV_PRIVATE_KEY;
		if (a & 1) {
			w->key = -1;
		} else {
			w->key = w->key == 0 ? 1 : 0;
			memcpy(c.private_key, w_priv[x][w->key], ELK_KEY_LEN);
		}
		break;
	case 6: /* the other's other key replaces the one we know */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_REMOVE;
		w->peer_key ^= 1;
		w_real_peer(x, &peers[1]);
		c.n_peers = 2;
		break;
	case 7: /* nobody removed, or (re)added */
		w_nobody_peer(&peers[0]);
		if (a & 1)
			peers[0].flags = ELK_PEER_REMOVE;
		c.n_peers = 1;
		break;
	case 8: /* replace peers: keep the real one, or none */
		c.flags = ELK_DEV_REPLACE_PEERS;
		w_real_peer(x, &peers[0]);
		peers[0].flags = 0;
		c.n_peers = a & 1;
		break;
	case 9: /* the endpoint moves: to a known address or a scoped one */
		memcpy(peers[0].public_key, w_pub[!x][w->peer_key], ELK_KEY_LEN);
		peers[0].flags = ELK_PEER_ENDPOINT;
		snprintf(peers[0].endpoint, sizeof(peers[0].endpoint), "%s",
			 a % 7 < W_NADDR ? w_ep[a % 7] : a % 7 == 5 ? "[fe80::1%1]:51820"
								 : "[fe80::1%lo]:1");
		c.n_peers = 1;
		break;
	case 10: /* port and fwmark, reported only */
		c.flags = ELK_DEV_LISTEN_PORT | ELK_DEV_FWMARK;
		c.listen_port = a;
		c.fwmark = a;
		break;
	case 11: /* update-only: creates nothing, changes what is there */
		w_real_peer(x, &peers[0]);
		peers[0].flags = ELK_PEER_UPDATE_ONLY | ELK_PEER_KEEPALIVE;
		peers[0].persistent_keepalive_interval = a;
		memcpy(peers[1].public_key, w_psk, ELK_KEY_LEN);
		peers[1].flags = ELK_PEER_UPDATE_ONLY | ELK_PEER_ENDPOINT;
		snprintf(peers[1].endpoint, sizeof(peers[1].endpoint), "%s", w_ep[W_ADDR_A]);
		c.n_peers = 2;
		break;
	case 12:
		w_config_invalid(x, a);
		return;
	}
	CHECK(w_configure(x, &c, n > 2 && p[2] & 1) == 0);
}

/* ---- one input --------------------------------------------------------------- */

static void w_setup(void)
{
	struct elk_wg_dev_cfg cfg;
	struct elk_device c = { 0 };
	struct elk_peer peers[2];

	w_rng_reset();
	w_now = W_NOW0;
	w_wall = W_WALL0;
	elk_wg_dev_default_cfg(&cfg);
	/* Reachable: a handful of handshake messages in a second make the
	 * device answer with cookies; a few packets fill the stage. */
	cfg.under_load_per_sec = 8;
	cfg.max_staged = 8;
	for (int x = 0; x < 2; x++) {
		struct w_dev *w = &w_devs[x];

		w->d = elk_wg_dev_new(&cfg);
		if (!w->d)
			abort();
		w->key = 0;
		w->peer_key = 0;
		w->mtu = w->raw_sent = false;
		w->out_head = w->out_len = 0;
		w->ntags = 0;
		w->nborn = w->cookies_sent = 0;
		w->delivered = w->delivered_h = 0;
		memset(w->seen, 0, sizeof(w->seen));
		elk_wg_dev_set_wall_clock(w->d, w_wall, w_now);
		c.flags = ELK_DEV_PRIVATE_KEY | ELK_DEV_LISTEN_PORT;
		memcpy(c.private_key, w_priv[x][0], ELK_KEY_LEN);
		c.listen_port = 51820;
		w_real_peer(x, &peers[0]);
		w_nobody_peer(&peers[1]);
		c.peers = peers;
		c.n_peers = 2;
		if (w_configure(x, &c, false))
			abort();
	}
}

static void w_teardown(void)
{
	for (int x = 0; x < 2; x++) {
		w_check_snapshot(x);
		elk_wg_dev_free(w_devs[x].d);
		w_devs[x].d = NULL;
	}
}

static void w_op(uint8_t ctl, const uint8_t *p, size_t n)
{
	int x = (ctl >> 3) & 1;
	unsigned arg = ctl >> 4;

	switch (ctl & 7) {
	case W_DGRAM:
		w_decap(x, p, n, (int)(arg & 7), arg & 8, W_INJECTED);
		break;
	case W_TUN:
		w_tun(x, p, n, arg);
		break;
	case W_RAWTUN:
		w_devs[x].raw_sent = true;
		w_encap(x, p, n, arg & 8);
		break;
	case W_TIME:
		w_time(p, n, arg);
		break;
	case W_RELAY:
		w_relay(x, p, n, arg);
		break;
	case W_DROP:
		w_drop(x, arg);
		break;
	case W_CONFIG:
		w_config(x, p, n);
		break;
	case W_CHECK:
		w_check_snapshot(x);
		(void)elk_wg_dev_next_deadline(w_devs[x].d);
		break;
	}
}

#ifdef FUZZ_WG_DEVICE_SEEDS
static void w_rec_op(uint8_t ctl, const uint8_t *p, size_t n);
#else
static void w_rec_op(uint8_t ctl, const uint8_t *p, size_t n)
{
	(void)ctl;
	(void)p;
	(void)n;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	w_setup();
	for (int ops = 0; ops < W_MAXOPS && off < size; ops++) {
		uint8_t ctl = data[off++];
		size_t n = 0;

		if (off + 2 <= size)
			n = (size_t)data[off] | (size_t)data[off + 1] << 8;
		off += off + 2 <= size ? 2 : size - off;
		if (n > size - off)
			n = size - off;
		w_rec_op(ctl, data + off, n);
		w_op(ctl, data + off, n);
		off += n;
	}
	w_teardown();
	return 0;
}

#ifdef FUZZ_WG_DEVICE_SEEDS
/* ---- the seed generator (see the top of the file) ------------------------ */

#define G_MAX 8192
#define G_MAXDG 128

static uint8_t g_in[G_MAX], g_rec[G_MAX];
static size_t g_len, g_reclen;
static size_t g_dgoff[G_MAXDG], g_dglen[G_MAXDG];	/* payloads of DGRAM ops in g_rec */
static int g_ndg;
static bool g_recording;
static const char *g_dir;
static int g_files;

static void g_put(uint8_t *buf, size_t *len, uint8_t ctl, const void *p, size_t n)
{
	if (*len + 3 + n > G_MAX) {
		fprintf(stderr, "seeds: input too long\n");
		exit(1);
	}
	buf[(*len)++] = ctl;
	buf[(*len)++] = (uint8_t)n;
	buf[(*len)++] = (uint8_t)(n >> 8);
	if (n)
		memcpy(buf + *len, p, n);
	*len += n;
}

/* The literal form: every op but RELAY and DROP as it is, and every
 * relayed datagram as the DGRAM op that delivers the same bytes. */
static void w_rec_op(uint8_t ctl, const uint8_t *p, size_t n)
{
	if (g_recording && (ctl & 7) != W_RELAY && (ctl & 7) != W_DROP)
		g_put(g_rec, &g_reclen, ctl, p, n);
}

static void w_rec_dgram(int to, int src, const uint8_t *b, size_t n)
{
	if (!g_recording)
		return;
	if (g_ndg < G_MAXDG) {
		g_dgoff[g_ndg] = g_reclen + 3;
		g_dglen[g_ndg++] = n;
	}
	g_put(g_rec, &g_reclen, (uint8_t)(W_DGRAM | to << 3 | src << 4), b, n);
}

static void g_op(int op, int dev, unsigned arg, const void *p, size_t n)
{
	g_put(g_in, &g_len, (uint8_t)(op | dev << 3 | arg << 4), p, n);
}

/* sel: bit 0 v6; bits 1-2 source, 3-4 destination (see w_ip) */
static void g_tun(int dev, uint8_t sel, size_t body, unsigned times)
{
	uint8_t p[2 + W_MAXBODY];

	p[0] = sel;
	p[1] = (uint8_t)(7 + body);
	for (size_t i = 0; i < body; i++)
		p[2 + i] = (uint8_t)(i * 13 + body);
	g_op(W_TUN, dev, times - 1, p, 2 + body);
}

static void g_relay(int dev, unsigned n, bool roam)
{
	g_op(W_RELAY, dev, (n - 1) | (roam ? 8 : 0), NULL, 0);
}

/* the next datagram of dev, changed on the way: (where, xor) pairs, and
 * an odd last byte cuts it to that many 256ths */
static void g_relay_changed(int dev, const uint8_t *mut, size_t n)
{
	g_op(W_RELAY, dev, 0, mut, n);
}

/* the network passes everything both ways until it is quiet */
static void g_flow(void)
{
	for (int i = 0; i < 3; i++) {
		g_relay(0, 8, false);
		g_relay(1, 8, false);
	}
}

/* count units of 4^unit ms */
static void g_time(unsigned unit, uint16_t count)
{
	uint8_t p[2] = { (uint8_t)count, (uint8_t)(count >> 8) };

	g_op(W_TIME, 0, unit, p, 2);
}

static void g_cfg(int dev, uint8_t sel, uint8_t a)
{
	uint8_t p[2] = { sel, a };

	g_op(W_CONFIG, dev, 0, p, 2);
}

static void g_check(void)
{
	g_op(W_CHECK, 0, 0, NULL, 0);
	g_op(W_CHECK, 1, 0, NULL, 0);
}

static void g_junk_initiations(int dev, int n, uint8_t fill)
{
	uint8_t m[ELK_WG_INITIATION_SIZE];

	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(m); j++)
			m[j] = (uint8_t)(fill + i * 31 + j * 7);
		elk_wg_le32_put(m, ELK_WG_MSG_HANDSHAKE_INITIATION);
		g_op(W_DGRAM, dev, W_ADDR_NOBODY, m, sizeof(m));
	}
}

static void g_write(const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	if (n > 4096) {	/* run.sh's -max_len */
		fprintf(stderr, "seeds: %s: %zu bytes, more than the fuzzer takes\n", name, n);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/wg-%s", g_dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
	g_files++;
}

/* Write the scenario in g_in: as operations, as literal datagrams, and
 * variants of the latter. */
static void g_emit(const char *name)
{
	static uint8_t v[G_MAX];
	uint64_t want[2], got[2];
	char vn[128];
	size_t n;

	g_write(name, g_in, g_len);
	g_reclen = 0;
	g_ndg = 0;
	g_recording = true;
	LLVMFuzzerTestOneInput(g_in, g_len);
	g_recording = false;
	for (int x = 0; x < 2; x++)
		want[x] = w_devs[x].delivered_h ^ w_devs[x].delivered;
	/* The literal form must replay the same deliveries. */
	LLVMFuzzerTestOneInput(g_rec, g_reclen);
	for (int x = 0; x < 2; x++)
		got[x] = w_devs[x].delivered_h ^ w_devs[x].delivered;
	printf("%-16s %4zu bytes, %2d datagrams, delivered A %llu B %llu%s\n", name, g_len, g_ndg,
	       (unsigned long long)w_devs[0].delivered, (unsigned long long)w_devs[1].delivered,
	       want[0] == got[0] && want[1] == got[1] ? "" : "  (literal form DIFFERS)");
	snprintf(vn, sizeof(vn), "%s-wire", name);
	g_write(vn, g_rec, g_reclen);
	if (!g_ndg)
		return;
	/* one bit flipped in the first, a middle and the last datagram */
	for (int k = 0; k < 3; k++) {
		int i = k == 0 ? 0 : k == 1 ? g_ndg / 2 : g_ndg - 1;

		if (k && i == 0)
			continue;
		memcpy(v, g_rec, g_reclen);
		v[g_dgoff[i] + (size_t)(i * 37 + 5) % g_dglen[i]] ^= (uint8_t)(1 << (i % 8));
		snprintf(vn, sizeof(vn), "%s-flip%d", name, i);
		g_write(vn, v, g_reclen);
	}
	/* the last datagram again: a replay */
	n = g_dgoff[g_ndg - 1] - 3;
	memcpy(v, g_rec, g_reclen);
	memcpy(v + g_reclen, g_rec + n, g_dglen[g_ndg - 1] + 3);
	snprintf(vn, sizeof(vn), "%s-dup", name);
	g_write(vn, v, g_reclen + g_dglen[g_ndg - 1] + 3);
	/* cut inside the middle datagram, and all datagrams truncated */
	snprintf(vn, sizeof(vn), "%s-cut", name);
	g_write(vn, g_rec, g_dgoff[g_ndg / 2] + g_dglen[g_ndg / 2] / 2);
	memcpy(v, g_rec, g_reclen);
	for (int i = 0; i < g_ndg; i++) {
		/* shorter by 1 (keep the bytes: the next op starts early) */
		v[g_dgoff[i] - 2] = (uint8_t)(g_dglen[i] - 1);
		v[g_dgoff[i] - 1] = (uint8_t)((g_dglen[i] - 1) >> 8);
	}
	snprintf(vn, sizeof(vn), "%s-short", name);
	g_write(vn, v, g_reclen);
	/* small output buffer, and odd source addresses */
	memcpy(v, g_rec, g_reclen);
	for (int i = 0; i < g_ndg; i++)
		v[g_dgoff[i] - 3] |= 8 << 4;
	snprintf(vn, sizeof(vn), "%s-small", name);
	g_write(vn, v, g_reclen);
	memcpy(v, g_rec, g_reclen);
	for (int i = 0; i < g_ndg; i++)
		v[g_dgoff[i] - 3] = (uint8_t)((v[g_dgoff[i] - 3] & 0x0f) | (5 + i % 3) << 4);
	snprintf(vn, sizeof(vn), "%s-badsrc", name);
	g_write(vn, v, g_reclen);
}

static void g_begin(void)
{
	g_len = 0;
}

static void g_handshake(int from)
{
	g_tun(from, 0, 64, 1);
	g_flow();
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 100;
	}
	g_dir = argv[1];
	LLVMFuzzerInitialize(NULL, NULL);

	/* A starts; data both ways, v4 and v6; keepalives. */
	g_begin();
	g_tun(0, 0, 100, 1);
	g_relay(0, 1, false);	/* initiation */
	g_relay(1, 1, false);	/* response: A sends the staged packet */
	g_relay(0, 1, false);
	g_tun(1, 0, 33, 1);
	g_relay(1, 1, false);
	g_tun(0, 1, 1, 1);
	g_tun(1, 1, 1200, 1);
	g_flow();
	g_time(5, 11);		/* 11 s: B owes a keepalive */
	g_flow();
	g_check();
	g_emit("basic-a");

	/* B starts, with a PSK on both sides. */
	g_begin();
	g_cfg(0, 0, 1);
	g_cfg(1, 0, 1);
	g_tun(1, 0, 500, 1);
	g_flow();
	g_tun(0, 0, 5, 2);
	g_flow();
	g_check();
	g_emit("psk-b");

	/* Only A has the PSK: nothing is ever delivered. */
	g_begin();
	g_cfg(0, 0, 1);
	g_handshake(0);
	g_time(6, 2);
	g_flow();
	g_emit("psk-mismatch");

	/* B under load: junk initiations, a cookie for A, A's retry with
	 * mac2 goes through. */
	g_begin();
	g_junk_initiations(1, 8, 0x10);
	g_tun(0, 0, 20, 1);
	g_relay(0, 1, false);	/* initiation: B answers with a cookie */
	g_relay(1, 1, false);	/* the cookie reply */
	g_time(4, 21);		/* 5.4 s: A retries, with mac2 */
	g_junk_initiations(1, 8, 0x20);
	g_flow();
	g_check();
	g_emit("cookie");

	/* Rekeying on age with traffic, then silence until the keys are
	 * zeroed, then a new session. */
	g_begin();
	g_handshake(0);
	for (int i = 0; i < 14; i++) {
		g_tun(i & 1, (uint8_t)(i & 1), 40, 1);
		g_flow();
		g_time(5, 10);
	}
	g_time(7, 40);		/* 655 s */
	g_handshake(0);
	g_check();
	g_emit("rekey");

	/* Roaming: B speaks from another (v6) address; A follows it. */
	g_begin();
	g_handshake(0);
	g_tun(1, 0, 10, 1);
	g_relay(1, 1, true);
	g_tun(0, 1, 10, 1);
	g_flow();
	g_check();
	g_emit("roam");

	/* A lost response: A retransmits after rekey_timeout. */
	g_begin();
	g_tun(0, 0, 10, 1);
	g_relay(0, 1, false);
	g_op(W_DROP, 1, 0, NULL, 0);
	g_time(5, 6);
	g_flow();
	g_op(W_DROP, 0, 8 | 1, NULL, 0);	/* and some reordering */
	g_tun(0, 0, 10, 3);
	g_op(W_DROP, 0, 8 | 1, NULL, 0);
	g_flow();
	g_emit("retransmit");

	/* More packets than the stage holds before the handshake ends. */
	g_begin();
	g_tun(0, 0, 30, 8);
	g_tun(0, 1, 30, 4);
	g_flow();
	g_emit("staged");

	/* Spoofed inner sources and destinations nobody routes. */
	g_begin();
	g_handshake(0);
	g_tun(1, 1 << 1, 20, 1);	/* B claims A's network */
	g_tun(1, 2 << 1, 20, 1);	/* nobody's network */
	g_tun(1, 3 << 1 | 1, 20, 1);
	g_tun(0, 1 << 3, 20, 1);	/* to nobody: a handshake nobody answers */
	g_tun(0, 3 << 3, 20, 1);	/* routed nowhere */
	g_flow();
	g_op(W_RAWTUN, 0, 0, "\x45", 1);
	g_emit("spoof");

	/* Configuration with live sessions: keys change on both sides,
	 * peers go and come back, MTU, keepalive, endpoints. */
	g_begin();
	g_handshake(0);
	g_cfg(0, 5, 0);		/* A's second key */
	g_cfg(1, 6, 0);		/* B learns it */
	g_time(4, 5);
	g_handshake(0);
	g_cfg(1, 4, 1);		/* MTU 584: padding stops there */
	g_tun(1, 0, 560, 1);
	g_tun(1, 0, 570, 1);
	g_cfg(0, 1, 3);		/* keepalive 3 s */
	g_time(5, 4);
	g_flow();
	g_cfg(0, 3, 1);		/* B removed and added again */
	g_cfg(1, 2, 3);		/* A's v4 prefix narrowed to a /25 */
	g_cfg(1, 7, 1);		/* nobody gone */
	g_cfg(0, 8, 1);		/* replace peers: only B */
	g_cfg(0, 12, 0);	/* invalid: nothing changes */
	g_cfg(0, 12, 2);
	g_cfg(1, 9, 3);		/* B sends to A's v6 address */
	g_cfg(1, 11, 9);
	g_cfg(0, 10, 1);
	g_handshake(1);
	g_tun(0, 1, 10, 1);
	g_flow();
	g_check();
	g_emit("config");

	/* Nobody answers: A retries for rekey_attempt_time, gives up, and
	 * drops its keys; later a fresh start works. */
	g_begin();
	g_tun(0, 0, 10, 2);
	for (int i = 0; i < 140; i++)
		g_time(4, 4);	/* ~1 s steps: 143 s */
	g_op(W_DROP, 0, 7, NULL, 0);
	g_op(W_DROP, 0, 7, NULL, 0);
	g_op(W_DROP, 0, 7, NULL, 0);
	g_time(7, 40);
	g_handshake(0);
	g_emit("giveup");

	/* The initiator hears data on an old session: it rekeys at once. */
	g_begin();
	g_handshake(0);
	g_time(6, 41);		/* 168 s */
	g_tun(1, 0, 10, 1);
	g_flow();
	g_tun(0, 0, 10, 1);
	g_flow();
	g_emit("lastminute");

	/* Inner packets that lie about their length: authentic, and still
	 * not delivered. */
	g_begin();
	g_handshake(0);
	{
		uint8_t pk[64];

		memset(pk, 0, sizeof(pk));
		pk[0] = 0x44;			/* IHL 4 */
		pk[3] = 40;
		pk[12] = pk[16] = 192;
		pk[13] = pk[17] = 168;
		pk[14] = 2;
		pk[18] = 1;
		g_op(W_RAWTUN, 1, 0, pk, 40);
		pk[0] = 0x45;
		pk[3] = 60;			/* longer than sent */
		g_op(W_RAWTUN, 1, 0, pk, 40);
		pk[3] = 10;			/* shorter than its header */
		g_op(W_RAWTUN, 1, 0, pk, 40);
		memset(pk, 0, sizeof(pk));
		pk[0] = 0x60;
		pk[5] = 100;			/* v6 payload longer than sent */
		pk[8] = pk[24] = 0xfd;
		pk[11] = 2;
		pk[27] = 1;
		g_op(W_RAWTUN, 1, 0, pk, 48);
		pk[5] = 0;			/* a bare v6 header: fine */
		g_op(W_RAWTUN, 1, 0, pk, 40);
	}
	g_flow();
	g_emit("inner-len");

	/* Configuration left queued: the peer goes before its initiation is
	 * handed out. */
	g_begin();
	{
		uint8_t p[3] = { 1, 5, 1 };	/* keepalive 5 s, not drained */

		g_op(W_CONFIG, 0, 0, p, 3);
		p[0] = 3;			/* B removed */
		p[1] = 0;
		g_op(W_CONFIG, 0, 0, p, 3);
		p[0] = 3;			/* and back, keepalive again */
		p[1] = 1;
		g_op(W_CONFIG, 0, 0, p, 3);
		p[0] = 1;
		p[1] = 5;
		g_op(W_CONFIG, 0, 0, p, 3);
		p[0] = 9;			/* a scoped v6 endpoint */
		g_op(W_CONFIG, 0, 0, p, 3);
	}
	g_time(4, 5);
	g_cfg(0, 9, 1);
	g_flow();
	g_check();
	g_emit("lazy");

	/* Changed on the way: initiation, response, data, keepalive, each
	 * with a flipped bit or cut short, then the real ones. */
	g_begin();
	g_tun(0, 0, 40, 1);
	g_relay_changed(0, (const uint8_t[]){ 0x40, 0x80 }, 2);
	g_time(5, 6);
	g_relay(0, 1, false);
	g_relay_changed(1, (const uint8_t[]){ 0x10, 0x04 }, 2);
	g_time(5, 6);
	g_relay(0, 1, false);
	g_relay(1, 1, false);
	g_relay_changed(0, (const uint8_t[]){ 0xf0 }, 1);
	g_tun(0, 0, 40, 1);
	g_relay_changed(0, (const uint8_t[]){ 0x80, 0x01 }, 2);
	g_tun(0, 1, 40, 1);
	g_relay_changed(0, (const uint8_t[]){ 0x02, 0x20, 0x02, 0x20 }, 4);	/* undone */
	g_time(5, 11);
	g_relay_changed(1, (const uint8_t[]){ 0xe0, 0x10 }, 2);
	g_tun(0, 0, 40, 1);
	g_flow();
	g_emit("tamper");

	/* No identity: a device without a private key. */
	g_begin();
	g_cfg(0, 5, 1);
	g_handshake(0);
	g_handshake(1);
	g_cfg(0, 5, 0);
	g_handshake(1);
	g_emit("no-key");

	/* Bare messages of every type and size, from everywhere. */
	{
		static const size_t sizes[] = { 0, 1, 4, 31, 32, 33, 48, 63, 64, 65, 91, 92,
						93, 147, 148, 149 };
		uint8_t m[160];

		g_begin();
		for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			for (size_t j = 0; j < sizeof(m); j++)
				m[j] = (uint8_t)(i * 17 + j);
			if (sizes[i] >= 4)
				elk_wg_le32_put(m, (uint32_t)(1 + i % 5));
			g_op(W_DGRAM, (int)(i & 1), (unsigned)(i % 8), m, sizes[i]);
		}
		g_write("bare", g_in, g_len);
	}
	printf("%d files\n", g_files);
	return 0;
}
#endif
