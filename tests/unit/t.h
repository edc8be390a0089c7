/* t.h - the smallest table-driven test harness that says what failed.
 *
 * Each unit test is one program: T_CHECK(cond, fmt, ...) records a pass or
 * a failure (with file:line and the message), T_DONE() prints the closing
 * line "N passed, N failed" and returns the exit status for main().
 */
#ifndef ELK_T_H
#define ELK_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_CHECK(cond, ...)                                                   \
	do {                                                                 \
		if (cond) {                                                  \
			t_pass++;                                            \
		} else {                                                     \
			t_fail++;                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

#define T_EQ_MEM(a, b, n, ...) T_CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)
/* Each argument is evaluated once, so a call under test may stand in it. */
#define T_EQ_INT(a, b, what)                                                  \
	do {                                                                  \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);       \
		T_CHECK(t_a_ == t_b_, "%s: got %lld, want %lld", (what), t_a_, \
			t_b_);                                                \
	} while (0)

static inline int t_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}
static inline const char *t_str(const char *s)
{
	return s ? s : "(null)";
}
#define T_EQ_STR(a, b, what)                                                \
	do {                                                                \
		const char *t_a_ = (a), *t_b_ = (b);                        \
		T_CHECK(t_streq(t_a_, t_b_), "%s: got \"%s\", want \"%s\"", \
			(what), t_str(t_a_), t_str(t_b_));                  \
	} while (0)

static inline int t_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail ? 1 : 0;
}
#define T_DONE() t_done(__FILE__)

#endif
