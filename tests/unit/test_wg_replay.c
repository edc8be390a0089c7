/* test_wg_replay.c - replay window: the kernel self-test table
 * (tests/vectors/replay-kernel-selftest.txt), error codes, the check/update
 * split, and random sequences against a naive set-of-seen-counters model.
 */
#include "t.h"
#include "wg_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

/* T_EQ_INT evaluates its argument again to print it; results of calls
 * with side effects must be taken once. */
#define EQ(a, b, what)                              \
	do {                                        \
		long long eq_got_ = (long long)(a); \
		T_EQ_INT(eq_got_, (b), (what));     \
	} while (0)

#define VECTORS "tests/vectors/replay-kernel-selftest.txt"

static int validate(struct elk_wg_replay *r, uint64_t n)
{
	int c = elk_wg_replay_check(r, n);
	int u = elk_wg_replay_update(r, n);

	T_CHECK(c == u, "check (%d) and update (%d) disagree on %" PRIu64,
		c, u, n);
	return u == 0;
}

static void test_kernel_table(void)
{
	struct elk_wg_replay r;
	char line[256];
	unsigned lineno = 0, cases = 0;
	FILE *f = fopen(VECTORS, "r");

	T_CHECK(f != NULL, "cannot open %s", VECTORS);
	if (!f)
		return;
	elk_wg_replay_init(&r);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		int want;
		char *hash = strchr(line, '#');
		char *p = line;

		lineno++;
		if (hash)
			*hash = '\0';
		p += strspn(p, " \t\r\n");
		if (!*p)
			continue;
		if (strncmp(p, "reset", 5) == 0) {
			elk_wg_replay_init(&r);
		} else if (sscanf(line, " range %llu %llu %d", &a, &b,
				  &want) == 3) {
			for (unsigned long long i = a;;
			     i = a <= b ? i + 1 : i - 1) {
				cases++;
				T_CHECK(validate(&r, i) == want,
					"%s:%u: counter %llu want %d", VECTORS,
					lineno, i, want);
				if (i == b)
					break;
			}
		} else if (sscanf(line, " %llu %d", &a, &want) == 2) {
			cases++;
			T_CHECK(validate(&r, a) == want,
				"%s:%u: counter %llu want %d", VECTORS, lineno,
				a, want);
		} else {
			T_CHECK(0, "%s:%u: unparsed line", VECTORS, lineno);
		}
	}
	fclose(f);
	/* 34 single cases + the six loops of the original self-test. */
	EQ(cases, 34 + (8128 + 2) + (8128 + 2) + 8129 + (8129 + 1) +
				(8128 + 2) + (8128 + 2), "vector cases run");
}

static void test_errors_and_split(void)
{
	struct elk_wg_replay r, before;

	elk_wg_replay_init(&r);
	EQ(elk_wg_replay_check(&r, ELK_WG_REPLAY_REJECT_AFTER_MESSAGES),
		 -ERANGE, "limit counter");
	EQ(elk_wg_replay_check(&r, UINT64_MAX), -ERANGE, "max counter");
	EQ(elk_wg_replay_update(&r, 20000), 0, "first");
	EQ(elk_wg_replay_update(&r, 20000), -EALREADY, "duplicate");
	EQ(elk_wg_replay_check(&r, 20000 - ELK_WG_REPLAY_WINDOW),
		 0, "oldest in window");
	EQ(elk_wg_replay_check(&r, 20000 - ELK_WG_REPLAY_WINDOW - 1),
		 -ESTALE, "just behind window");

	/* A check never moves the window: a packet that fails to
	 * authenticate must leave everything as it was. */
	before = r;
	EQ(elk_wg_replay_check(&r, 1000000), 0, "far ahead ok");
	EQ(elk_wg_replay_check(&r, 19999), 0, "behind ok");
	T_CHECK(memcmp(&before, &r, sizeof(r)) == 0, "check changed state");
	EQ(elk_wg_replay_update(&r, 19999), 0, "mark 19999");
	EQ(elk_wg_replay_check(&r, 19999), -EALREADY, "19999 marked");

	/* A huge jump wipes stale bits in every word of the ring. */
	EQ(elk_wg_replay_update(&r, 20000 + 5 * 8192), 0, "jump");
	for (uint64_t n = 20000 + 5 * 8192 - ELK_WG_REPLAY_WINDOW;
	     n < 20000 + 5 * 8192; n++)
		if (elk_wg_replay_check(&r, n) != 0) {
			T_CHECK(0, "stale bit after jump at %" PRIu64, n);
			break;
		}
}

/* Naive model: a counter is fresh if below the limit, not seen before and
 * no more than WINDOW behind the highest seen + 1. */
struct model {
	uint64_t base, top;	/* top: highest seen + 1, 0 if none */
	unsigned char *seen;
	size_t span;
};

static int model_ok(const struct model *m, uint64_t n)
{
	if (n >= ELK_WG_REPLAY_REJECT_AFTER_MESSAGES)
		return 0;
	if (n + 1 + ELK_WG_REPLAY_WINDOW < m->top)
		return 0;
	return !m->seen[n - m->base];
}

static void test_random(uint64_t base, unsigned rounds, unsigned seed)
{
	struct elk_wg_replay r;
	struct model m = { .base = base, .span = 4000000 };
	uint64_t hi = 0;
	unsigned bad = 0, done = 0, accepted = 0;

	m.seen = calloc(m.span, 1);
	srand(seed);
	elk_wg_replay_init(&r);
	for (unsigned i = 0; i < rounds && !bad; i++) {
		uint64_t off;
		int kind = rand() % 1000, want, authentic = rand() % 8 != 0;

		if (kind < 500)
			off = hi + rand() % 3;	/* mostly in order */
		else if (kind < 850)
			off = hi > 9000 ? hi - (uint64_t)(rand() % 9000) :
					   (uint64_t)(rand() % 9000);
		else if (kind < 999)	/* right at the window's edge */
			off = hi > 8130 ?
			      hi - 8127 - (uint64_t)(rand() % 4) : hi;
		else
			off = hi + 8000 + rand() % 4000;	/* big jump */
		if (off >= m.span)
			break;
		done++;

		want = model_ok(&m, base + off);
		if ((elk_wg_replay_check(&r, base + off) == 0) != want)
			bad++;
		if (!authentic)
			continue;	/* forged: never marked */
		if ((elk_wg_replay_update(&r, base + off) == 0) != want)
			bad++;
		if (want) {
			accepted++;
			m.seen[off] = 1;
			if (base + off + 1 > m.top)
				m.top = base + off + 1;
			if (off > hi)
				hi = off;
		}
	}
	EQ(bad, 0, "random sequence disagreements with model");
	T_CHECK(done > rounds / 2 && accepted > done / 4 && accepted < done,
		"random run too thin: %u rounds, %u accepted", done, accepted);
	free(m.seen);
}

static void test_near_limit(void)
{
	struct elk_wg_replay r;
	uint64_t lim = ELK_WG_REPLAY_REJECT_AFTER_MESSAGES;

	elk_wg_replay_init(&r);
	EQ(elk_wg_replay_update(&r, lim - 1), 0, "last usable");
	EQ(elk_wg_replay_update(&r, lim - 1), -EALREADY, "last again");
	EQ(elk_wg_replay_update(&r, lim - 1 - ELK_WG_REPLAY_WINDOW), 0,
		 "window still works at the top");
	EQ(elk_wg_replay_update(&r, lim - 2 - ELK_WG_REPLAY_WINDOW),
		 -ESTALE, "behind window at the top");
}

int main(void)
{
	test_kernel_table();
	test_errors_and_split();
	test_near_limit();
	test_random(0, 300000, 1);
	test_random(1ull << 40, 300000, 2);
	test_random(ELK_WG_REPLAY_REJECT_AFTER_MESSAGES - 2000000, 300000, 3);
	return T_DONE();
}
