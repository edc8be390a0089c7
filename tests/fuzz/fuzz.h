/* fuzz.h - what every harness in tests/fuzz shares: CHECK(c), a promise of
 * the code under test. A broken promise crashes the fuzzer (a finding,
 * like a sanitizer report); tests/unit/test_fuzz_replay.c and
 * test_facts_wire.c define FUZZ_FAIL first, to count a failure that names
 * the corpus file instead. CHECK returns from the (void) function that
 * broke the promise, so the rest of that check is skipped. */
#ifndef ELK_FUZZ_H
#define ELK_FUZZ_H

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(what) __builtin_trap()
#endif
#define CHECK(c)                         \
	do {                             \
		if (!(c)) {              \
			FUZZ_FAIL(#c);   \
			return;          \
		}                        \
	} while (0)

#endif
