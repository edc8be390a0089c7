/* test_wg_ratelimit.c - handshake rate limiter with a fake clock: burst then
 * limit, refill, sustained rate, independent sources, IPv6 /64 grouping,
 * table bound under spoofed floods, collection of idle entries, and
 * overridden rates.
 */
#include "t.h"
#include "wg_ratelimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

/* T_EQ_INT evaluates its argument again to print it; results of calls
 * with side effects must be taken once. */
#define EQ(a, b, what)                              \
	do {                                        \
		long long eq_got_ = (long long)(a); \
		T_EQ_INT(eq_got_, (b), (what));     \
	} while (0)

#define MS 1000000ull
#define SEC 1000000000ull

static const uint8_t *ip(int family, const char *s)
{
	static uint8_t buf[4][16];
	static int next;
	uint8_t *b = buf[next++ % 4];

	if (inet_pton(family, s, b) != 1)
		T_CHECK(0, "bad address literal %s", s);
	return b;
}

static int allow4(struct elk_wg_ratelimit *rl, const char *s, uint64_t now)
{
	return elk_wg_ratelimit_allow(rl, AF_INET, ip(AF_INET, s), now);
}

static int allow6(struct elk_wg_ratelimit *rl, const char *s, uint64_t now)
{
	return elk_wg_ratelimit_allow(rl, AF_INET6, ip(AF_INET6, s), now);
}

/* How many of n back-to-back packets at now are allowed. */
static int burst4(struct elk_wg_ratelimit *rl, const char *s, uint64_t now,
		  int n)
{
	int ok = 0;

	while (n--)
		ok += allow4(rl, s, now) == 0;
	return ok;
}

static void test_defaults(void)
{
	struct elk_wg_ratelimit rl;
	uint64_t t = 1000 * SEC;	/* arbitrary origin */
	int ok;

	EQ(elk_wg_ratelimit_init(&rl, NULL), 0, "init");
	EQ(burst4(&rl, "192.0.2.1", t, 5), 5, "burst of 5 allowed");
	EQ(allow4(&rl, "192.0.2.1", t), -EAGAIN, "6th limited");
	EQ(allow4(&rl, "192.0.2.1", t + 49 * MS), -EAGAIN,
		 "not yet refilled at 49 ms");
	EQ(allow4(&rl, "192.0.2.1", t + 50 * MS), 0,
		 "one token after 50 ms");
	EQ(allow4(&rl, "192.0.2.1", t + 50 * MS), -EAGAIN,
		 "only one token");

	/* Other sources are untouched by the first one's exhaustion. */
	EQ(burst4(&rl, "192.0.2.2", t, 6), 5, "second source burst");
	EQ(burst4(&rl, "198.51.100.1", t, 6), 5, "third source burst");

	/* A pause refills to the burst, never beyond it: 900 ms would be 18
	 * packets' worth.  After a long pause the source is forgotten, which
	 * must look the same. */
	EQ(burst4(&rl, "192.0.2.1", t + 950 * MS, 10), 5,
		 "refill capped at burst");
	EQ(burst4(&rl, "192.0.2.1", t + 60 * SEC, 10), 5,
		 "forgotten source gets the burst");

	/* Sustained: exactly 20/s passes, 25/s loses the excess. */
	t += 100 * SEC;
	ok = 0;
	for (int i = 0; i < 200; i++)
		ok += !allow4(&rl, "203.0.113.9", t + (uint64_t)i * 50 * MS);
	EQ(ok, 200, "20 per second sustained");
	t += 20 * SEC;
	ok = 0;
	for (int i = 0; i < 250; i++)
		ok += !allow4(&rl, "203.0.113.10", t + (uint64_t)i * 40 * MS);
	/* 10 s at 20/s plus the initial burst of 5, give or take one. */
	T_CHECK(ok >= 204 && ok <= 206, "25/s for 10 s: %d allowed", ok);

	/* A clock that steps back must not mint tokens. */
	t += 100 * SEC;
	EQ(burst4(&rl, "192.0.2.50", t, 5), 5, "burst");
	EQ(allow4(&rl, "192.0.2.50", t - 10 * SEC), -EAGAIN,
		 "clock stepping back gives nothing");

	EQ(elk_wg_ratelimit_allow(&rl, AF_UNIX, ip(AF_INET, "1.1.1.1"),
					t), -EAFNOSUPPORT, "bad family");
	elk_wg_ratelimit_free(&rl);
}

static void test_v6_grouping(void)
{
	struct elk_wg_ratelimit rl;
	uint64_t t = 5 * SEC;

	EQ(elk_wg_ratelimit_init(&rl, NULL), 0, "init");
	EQ(allow6(&rl, "2001:db8:1:2::1", t), 0, "v6 1");
	EQ(allow6(&rl, "2001:db8:1:2::2", t), 0, "v6 same /64");
	EQ(allow6(&rl, "2001:db8:1:2:ffff::1", t), 0, "v6 same /64");
	EQ(allow6(&rl, "2001:db8:1:2:1234:5678:9abc:def0", t), 0,
		 "v6 same /64");
	EQ(allow6(&rl, "2001:db8:1:2::99", t), 0, "v6 same /64 5th");
	EQ(allow6(&rl, "2001:db8:1:2::100", t), -EAGAIN,
		 "whole /64 shares one bucket");
	EQ(allow6(&rl, "2001:db8:1:3::1", t), 0, "next /64 independent");
	EQ(elk_wg_ratelimit_count(&rl), 2, "two v6 entries");

	/* An IPv4 source whose bytes equal the start of an exhausted /64
	 * (2001:db8::/64 = 32.1.13.184 + zeros) is still another source. */
	for (int i = 0; i < 5; i++)
		allow6(&rl, "2001:db8::1", t);
	EQ(allow6(&rl, "2001:db8::1", t), -EAGAIN, "2001:db8::/64 spent");
	EQ(burst4(&rl, "32.1.13.184", t, 6), 5, "v4 lookalike of it");
	elk_wg_ratelimit_free(&rl);
}

static void test_table_bound_and_gc(void)
{
	struct elk_wg_ratelimit_cfg cfg;
	struct elk_wg_ratelimit rl;
	uint64_t t = 50 * SEC;
	int ok = 0, full = 0;
	uint8_t a[4] = { 10, 0, 0, 0 };

	elk_wg_ratelimit_default_cfg(&cfg);
	cfg.table_size = 16;
	cfg.max_entries = 64;
	EQ(elk_wg_ratelimit_init(&rl, &cfg), 0, "init small");

	for (int i = 0; i < 1000; i++) {
		int r;

		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		r = elk_wg_ratelimit_allow(&rl, AF_INET, a, t + (uint64_t)i);
		ok += r == 0;
		full += r == -ENOSPC;
	}
	EQ(ok, 64, "spoofed flood: only max_entries sources admitted");
	EQ(full, 1000 - 64, "the rest refused for space");
	EQ(elk_wg_ratelimit_count(&rl), 64, "table bounded");
	/* Sources already tracked keep working while the table is full. */
	a[2] = 0;
	a[3] = 3;
	EQ(elk_wg_ratelimit_allow(&rl, AF_INET, a, t + 2000), 0,
		 "tracked source still served");

	/* Nothing is idle yet: an explicit collection frees nothing. */
	EQ(elk_wg_ratelimit_gc(&rl, t + 500 * MS), 0, "gc too early");
	/* After the idle time, the next packet collects and gets a slot. */
	EQ(allow4(&rl, "192.0.2.77", t + 2 * SEC), 0, "after gc");
	EQ(elk_wg_ratelimit_count(&rl), 1, "idle entries collected");
	elk_wg_ratelimit_free(&rl);
}

static void test_collisions_and_config(void)
{
	struct elk_wg_ratelimit_cfg cfg;
	struct elk_wg_ratelimit rl;
	uint64_t t = 7 * SEC;

	/* One bucket: every source on one chain, still kept apart. */
	elk_wg_ratelimit_default_cfg(&cfg);
	cfg.table_size = 1;
	cfg.max_entries = 32;
	EQ(elk_wg_ratelimit_init(&rl, &cfg), 0, "init 1 bucket");
	for (int i = 0; i < 10; i++) {
		char s[32];

		snprintf(s, sizeof(s), "192.0.2.%d", i);
		EQ(burst4(&rl, s, t, 7), 5, "chained source burst");
	}
	elk_wg_ratelimit_free(&rl);

	/* Rate 2/s, burst 1. */
	elk_wg_ratelimit_default_cfg(&cfg);
	cfg.packets_per_second = 2;
	cfg.burst = 1;
	EQ(elk_wg_ratelimit_init(&rl, &cfg), 0, "init 2/s");
	EQ(burst4(&rl, "192.0.2.1", t, 3), 1, "burst 1");
	EQ(allow4(&rl, "192.0.2.1", t + 499 * MS), -EAGAIN, "499 ms");
	EQ(allow4(&rl, "192.0.2.1", t + 500 * MS), 0, "500 ms");
	elk_wg_ratelimit_free(&rl);

	cfg.table_size = 12;
	EQ(elk_wg_ratelimit_init(&rl, &cfg), -EINVAL, "non-power-of-2");
	cfg.table_size = 16;
	cfg.packets_per_second = 0;
	EQ(elk_wg_ratelimit_init(&rl, &cfg), -EINVAL, "zero rate");
}

int main(void)
{
	test_defaults();
	test_v6_grouping();
	test_table_bound_and_gc();
	test_collisions_and_config();
	return T_DONE();
}
