/* test_wg_allowedips.c - allowed-IPs trie: hand-written routing cases and a
 * randomised comparison (inserts, removals, remove-by-peer, lookups and
 * per-peer listings) against a linear-scan longest-prefix-match model.
 */
#include "t.h"
#include "wg_allowedips.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

/* T_EQ_INT evaluates its argument again to print it; results of calls
 * with side effects must be taken once. */
#define EQ(a, b, what)                              \
	do {                                        \
		long long eq_got_ = (long long)(a); \
		T_EQ_INT(eq_got_, (b), (what));     \
	} while (0)

static int peers[8];
#define P(i) ((void *)&peers[i])

static const uint8_t *ip(int family, const char *s)
{
	static uint8_t buf[4][16];
	static int next;
	uint8_t *b = buf[next++ % 4];

	if (inet_pton(family, s, b) != 1)
		T_CHECK(0, "bad address literal %s", s);
	return b;
}

static void *look4(struct elk_wg_allowedips *t, const char *s)
{
	return elk_wg_allowedips_lookup(t, AF_INET, ip(AF_INET, s));
}

static void *look6(struct elk_wg_allowedips *t, const char *s)
{
	return elk_wg_allowedips_lookup(t, AF_INET6, ip(AF_INET6, s));
}

static int ins(struct elk_wg_allowedips *t, int family, const char *s,
	       int cidr, void *peer)
{
	return elk_wg_allowedips_insert(t, family, ip(family, s),
					(uint8_t)cidr, peer);
}

static int rem(struct elk_wg_allowedips *t, int family, const char *s,
	       int cidr, void *peer)
{
	return elk_wg_allowedips_remove(t, family, ip(family, s),
					(uint8_t)cidr, peer);
}

struct listing {
	char text[1024];
	int n, stop_at;
};

static int list_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct listing *l = ctx;
	char a[INET6_ADDRSTRLEN];
	size_t len = strlen(l->text);

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(l->text + len, sizeof(l->text) - len, "%s%s/%u",
		 len ? " " : "", a, cidr);
	return ++l->n == l->stop_at ? 42 : 0;
}

static const char *listing(struct elk_wg_allowedips *t, void *peer)
{
	static struct listing l;

	memset(&l, 0, sizeof(l));
	EQ(elk_wg_allowedips_walk_peer(t, peer, list_cb, &l), 0, "walk");
	return l.text;
}

static void test_hand_written(void)
{
	struct elk_wg_allowedips t;
	struct listing l = { .stop_at = 2 };

	elk_wg_allowedips_init(&t);
	T_CHECK(look4(&t, "1.2.3.4") == NULL, "empty table matched");

	EQ(ins(&t, AF_INET, "0.0.0.0", 0, P(0)), 0, "default v4");
	T_CHECK(look4(&t, "1.2.3.4") == P(0), "default route");
	T_CHECK(look4(&t, "255.255.255.255") == P(0), "default route top");
	T_CHECK(look6(&t, "::1") == NULL, "v4 default leaked into v6");

	EQ(ins(&t, AF_INET, "10.0.0.0", 8, P(1)), 0, "10/8");
	EQ(ins(&t, AF_INET, "10.1.2.3", 32, P(2)), 0, "host /32");
	T_CHECK(look4(&t, "10.1.2.3") == P(2), "/32 wins");
	T_CHECK(look4(&t, "10.1.2.4") == P(1), "/8 next to /32");
	T_CHECK(look4(&t, "11.0.0.1") == P(0), "outside /8");

	/* Host bits are dropped, so the listing and removal use the
	 * network address. */
	EQ(ins(&t, AF_INET, "192.168.1.77", 24, P(3)), 0, "/24 dirty");
	T_CHECK(look4(&t, "192.168.1.200") == P(3), "masked /24");
	T_CHECK(look4(&t, "192.168.2.1") == P(0), "beyond /24");
	T_EQ_STR(listing(&t, P(3)), "192.168.1.0/24", "masked listing");

	/* Overlapping siblings and a short prefix inserted above them. */
	EQ(ins(&t, AF_INET, "172.16.0.0", 16, P(4)), 0, "172.16/16");
	EQ(ins(&t, AF_INET, "172.17.0.0", 16, P(5)), 0, "172.17/16");
	EQ(ins(&t, AF_INET, "172.16.0.0", 12, P(6)), 0, "172.16/12");
	T_CHECK(look4(&t, "172.16.9.9") == P(4), "sibling a");
	T_CHECK(look4(&t, "172.17.9.9") == P(5), "sibling b");
	T_CHECK(look4(&t, "172.31.0.1") == P(6), "covering /12");
	T_CHECK(look4(&t, "172.32.0.1") == P(0), "past /12");

	/* The same prefix again moves it to the new peer. */
	EQ(t.count, 7, "count before replace");
	EQ(ins(&t, AF_INET, "10.0.0.0", 8, P(7)), 0, "replace /8");
	T_CHECK(look4(&t, "10.9.9.9") == P(7), "replaced owner");
	EQ(t.count, 7, "replace keeps count");
	T_EQ_STR(listing(&t, P(1)), "", "old owner lost prefix");

	EQ(rem(&t, AF_INET, "10.0.0.0", 8, P(1)), -ENOENT,
		 "remove by non-owner");
	EQ(rem(&t, AF_INET, "10.0.0.0", 9, P(7)), -ENOENT,
		 "remove absent length");
	EQ(rem(&t, AF_INET, "10.0.0.0", 8, P(7)), 0, "remove /8");
	T_CHECK(look4(&t, "10.9.9.9") == P(0), "falls back to default");
	T_CHECK(look4(&t, "10.1.2.3") == P(2), "/32 kept after /8 removal");
	EQ(rem(&t, AF_INET, "192.168.1.1", 24, P(3)), 0,
		 "remove with host bits");
	T_CHECK(look4(&t, "192.168.1.200") == P(0), "/24 gone");

	/* IPv6 */
	EQ(ins(&t, AF_INET6, "::", 0, P(0)), 0, "default v6");
	EQ(ins(&t, AF_INET6, "2001:db8::", 32, P(1)), 0, "/32 v6");
	EQ(ins(&t, AF_INET6, "2001:db8::1", 128, P(2)), 0, "/128");
	EQ(ins(&t, AF_INET6, "fe80::abcd", 10, P(3)), 0, "fe80::/10");
	T_CHECK(look6(&t, "2001:db8::1") == P(2), "/128 wins");
	T_CHECK(look6(&t, "2001:db8::2") == P(1), "v6 /32");
	T_CHECK(look6(&t, "2001:db9::1") == P(0), "v6 default");
	T_CHECK(look6(&t, "febf:ffff::1") == P(3), "fe80::/10 top");
	T_CHECK(look6(&t, "fec0::1") == P(0), "past fe80::/10");
	T_CHECK(look4(&t, "10.1.2.3") == P(2), "v4 unaffected by v6");

	T_EQ_STR(listing(&t, P(2)), "10.1.2.3/32 2001:db8::1/128",
		 "listing of both families");
	T_EQ_STR(listing(&t, P(0)), "0.0.0.0/0 ::/0", "default listing");
	T_EQ_STR(listing(&t, P(6)), "172.16.0.0/12", "covering listing");
	EQ(elk_wg_allowedips_walk_peer(&t, P(2), list_cb, &l), 42,
		 "walk stops with callback's value");
	EQ(l.n, 2, "walk stopped after second");

	EQ(elk_wg_allowedips_verify(&t), 0, "invariants after hand-written");
	EQ(elk_wg_allowedips_remove_by_peer(&t, P(2)), 2, "by peer");
	T_CHECK(look4(&t, "10.1.2.3") == P(0), "/32 removed by peer");
	T_CHECK(look6(&t, "2001:db8::1") == P(1), "/128 removed by peer");
	EQ(elk_wg_allowedips_remove_by_peer(&t, P(0)), 2, "defaults");
	T_CHECK(look4(&t, "1.1.1.1") == NULL, "no default left");
	T_CHECK(look4(&t, "172.17.1.1") == P(5), "others untouched");
	EQ(elk_wg_allowedips_verify(&t), 0, "invariants after by-peer");

	EQ(ins(&t, AF_INET, "1.2.3.4", 33, P(0)), -EINVAL, "cidr 33");
	EQ(ins(&t, AF_INET6, "::", 129, P(0)), -EINVAL, "cidr 129");
	EQ(ins(&t, AF_INET, "1.2.3.4", 32, NULL), -EINVAL, "NULL peer");
	EQ(elk_wg_allowedips_insert(&t, AF_UNIX, ip(AF_INET, "1.1.1.1"), 8,
				    P(0)), -EAFNOSUPPORT, "bad family");
	T_CHECK(elk_wg_allowedips_lookup(&t, AF_UNIX, ip(AF_INET, "1.1.1.1"))
		== NULL, "bad family lookup");
	elk_wg_allowedips_free(&t);
}

/* Linear-scan model. */
struct ref {
	int family;
	uint8_t key[16];
	unsigned cidr;
	void *peer;
};

static struct ref *refs;
static size_t nrefs;

static void mask(uint8_t *k, unsigned cidr)
{
	if (cidr % 8)
		k[cidr / 8] &= (uint8_t)(0xff << (8 - cidr % 8));
	for (unsigned i = (cidr + 7) / 8; i < 16; i++)
		k[i] = 0;
}

static int covers(const struct ref *r, int family, const uint8_t *a)
{
	uint8_t k[16];

	memcpy(k, a, 16);
	mask(k, r->cidr);
	return r->family == family && memcmp(k, r->key, 16) == 0;
}

static struct ref *ref_find(int family, const uint8_t *key, unsigned cidr)
{
	for (size_t i = 0; i < nrefs; i++)
		if (refs[i].family == family && refs[i].cidr == cidr &&
		    memcmp(refs[i].key, key, 16) == 0)
			return &refs[i];
	return NULL;
}

static void *ref_lookup(int family, const uint8_t *a)
{
	struct ref *best = NULL;

	for (size_t i = 0; i < nrefs; i++)
		if (covers(&refs[i], family, a) &&
		    (!best || refs[i].cidr > best->cidr))
			best = &refs[i];
	return best ? best->peer : NULL;
}

/* Addresses cluster around a few bases so prefixes overlap and nest. */
static void rand_addr(int family, uint8_t *a)
{
	static const uint8_t base[4][16] = {
		{ 10, 0, 0, 0 }, { 192, 168, 7, 0 },
		{ 0x20, 0x01, 0x0d, 0xb8 }, { 0xfe, 0x80 },
	};
	unsigned bits = family == AF_INET ? 32 : 128, keep = rand() % bits;

	memset(a, 0, 16);
	memcpy(a, base[rand() % 4], bits / 8);
	for (unsigned i = keep; i < bits; i++)
		if (rand() & 1)
			a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

struct collect {
	int bad, n;
	void *peer;
	int last_family;
	uint8_t last[16];
	unsigned last_cidr;
};

static int collect_cb(void *ctx, int family, const uint8_t *addr,
		      uint8_t cidr)
{
	struct collect *c = ctx;
	uint8_t k[16] = { 0 };
	struct ref *r;

	memcpy(k, addr, family == AF_INET ? 4 : 16);
	r = ref_find(family, k, cidr);
	if (!r || r->peer != c->peer)
		c->bad++;
	/* Listing order: v4 before v6, then address, then length. */
	if (c->n && family == c->last_family) {
		int d = memcmp(c->last, k, 16);

		if (d > 0 || (d == 0 && c->last_cidr >= cidr))
			c->bad++;
	} else if (c->n && family != AF_INET6) {
		c->bad++;
	}
	memcpy(c->last, k, 16);
	c->last_family = family;
	c->last_cidr = cidr;
	c->n++;
	return 0;
}

static void test_random(int seed, int ops)
{
	struct elk_wg_allowedips t;
	int bad_lookup = 0, bad_ret = 0, bad_walk = 0, hits = 0, lookups = 0;
	size_t peak = 0;
	int bad_nodes = 0;

	srand((unsigned)seed);
	refs = calloc((size_t)ops, sizeof(*refs));
	nrefs = 0;
	elk_wg_allowedips_init(&t);
	for (int op = 0; op < ops; op++) {
		/* First half only grows the table to thousands of prefixes. */
		int family = rand() % 2 ? AF_INET : AF_INET6,
		    r = op < ops / 2 ? 0 : rand() % 100;
		unsigned bits = family == AF_INET ? 32 : 128;
		unsigned cidr = rand() % 4 ? rand() % (bits + 1) :
			(rand() % 2 ? bits : 0);
		void *peer = P(rand() % 8);
		uint8_t a[16], k[16];
		struct ref *found;

		rand_addr(family, a);
		memcpy(k, a, 16);
		mask(k, cidr);
		found = ref_find(family, k, cidr);
		if (r < 70) {
			if (elk_wg_allowedips_insert(&t, family, a,
						     (uint8_t)cidr, peer))
				bad_ret++;
			if (found) {
				found->peer = peer;
			} else {
				refs[nrefs++] = (struct ref){ family, { 0 },
							      cidr, peer };
				memcpy(refs[nrefs - 1].key, k, 16);
			}
		} else if (r < 99) {
			int want;

			/* Often aim at a live prefix with its owner. */
			if (nrefs && rand() % 2) {
				found = &refs[rand() % nrefs];
				family = found->family;
				cidr = found->cidr;
				memcpy(a, found->key, 16);
				peer = rand() % 4 ? found->peer : P(rand() % 8);
			}
			want = found && found->peer == peer ? 0 : -ENOENT;
			if (elk_wg_allowedips_remove(&t, family, a,
						     (uint8_t)cidr, peer) !=
			    want)
				bad_ret++;
			if (!want)
				*found = refs[--nrefs];
		} else {
			size_t n = 0;

			for (size_t i = 0; i < nrefs;)
				if (refs[i].peer == peer) {
					refs[i] = refs[--nrefs];
					n++;
				} else {
					i++;
				}
			if (elk_wg_allowedips_remove_by_peer(&t, peer) !=
			    (int)n)
				bad_ret++;
		}
		if (t.count != nrefs)
			bad_ret++;
		if (elk_wg_allowedips_verify(&t))
			bad_nodes++;
		if (nrefs > peak)
			peak = nrefs;

		for (int l = 0; l < 4; l++) {
			void *want;

			family = rand() % 2 ? AF_INET : AF_INET6;
			rand_addr(family, a);
			want = ref_lookup(family, a);
			hits += want != NULL;
			lookups++;
			if (elk_wg_allowedips_lookup(&t, family, a) != want)
				bad_lookup++;
		}
		if (op % 500 == 0 || op == ops - 1) {
			for (int p = 0; p < 8; p++) {
				struct collect c = { .peer = P(p) };
				int n = 0;

				elk_wg_allowedips_walk_peer(&t, P(p),
							    collect_cb, &c);
				for (size_t i = 0; i < nrefs; i++)
					n += refs[i].peer == P(p);
				if (c.bad || c.n != n)
					bad_walk++;
			}
		}
	}
	EQ(bad_ret, 0, "random: return values / count vs model");
	EQ(bad_lookup, 0, "random: lookups vs model");
	EQ(bad_walk, 0, "random: per-peer listings vs model");
	EQ(bad_nodes, 0, "random: trie invariants broken");
	T_CHECK(hits > lookups / 4 && hits < lookups,
		"random: lookups not discriminating (%d of %d hit)", hits,
		lookups);
	T_CHECK(peak > 2000, "random: table stayed small (%zu)", peak);
	elk_wg_allowedips_free(&t);
	free(refs);
}

int main(void)
{
	test_hand_written();
	test_random(1, 8000);
	test_random(2, 8000);
	return T_DONE();
}
