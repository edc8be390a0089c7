/* test_fuzz_replay.c - the seed corpora of the libFuzzer harnesses in
 * tests/fuzz, replayed through the harnesses themselves without libFuzzer,
 * so that CI (gcc, no clang) checks every committed input against the same
 * promises the fuzzers assert: tests/fuzz/corpus/wg_device through
 * fuzz_wg_device.c, corpus/records through fuzz_records.c, corpus/uapi
 * through fuzz_uapi.c and corpus/stun through fuzz_stun.c (corpus/facts_wire
 * is replayed by test_facts_wire.c).
 * Each harness is included here with its entry points renamed, and with
 * FUZZ_FAIL counting a failure that names the file instead of trapping.
 * Run from the repo root.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"

static const char *corpus_file;
#define FUZZ_FAIL(what) T_CHECK(0, "corpus %s: %s", corpus_file, (what))

#define LLVMFuzzerInitialize wg_device_init
#define LLVMFuzzerTestOneInput wg_device_one
#include "../fuzz/fuzz_wg_device.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerInitialize records_init
#define LLVMFuzzerTestOneInput records_one
#include "../fuzz/fuzz_records.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#undef CHECK_R

#define LLVMFuzzerInitialize uapi_init
#define LLVMFuzzerTestOneInput uapi_run
#include "../fuzz/fuzz_uapi.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

#define LLVMFuzzerInitialize stun_init
#define LLVMFuzzerTestOneInput stun_one
#include "../fuzz/fuzz_stun.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

/* Every file of tests/fuzz/corpus/<target>, in name order so that a
 * failure report is the same on every machine. */
static void replay(const char *target, int (*init)(int *, char ***),
		   int (*one)(const uint8_t *, size_t), int min_files)
{
	static uint8_t buf[1 << 16];
	char dir[256], path[512];
	struct dirent **names;
	int n, files = 0, before = t_fail;

	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", target);
	n = scandir(dir, &names, NULL, alphasort);
	T_CHECK(n >= 0, "open %s", dir);
	if (n < 0)
		return;
	init(NULL, NULL);
	for (int i = 0; i < n; i++) {
		FILE *f;
		size_t len;

		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if ((f = fopen(path, "rb"))) {
				len = fread(buf, 1, sizeof(buf), f);
				fclose(f);
				corpus_file = path;
				one(buf, len);
				files++;
			}
		}
		free(names[i]);
	}
	free(names);
	T_CHECK(files >= min_files, "%s: %d files", dir, files);
	T_CHECK(t_fail == before, "%s: every file keeps the harness's promises", dir);
	printf("%s: %d files\n", dir, files);
}

int main(void)
{
	/* First: it installs the deterministic random source the wg_device
	 * seeds were recorded with, before anything initialises libsodium. */
	replay("wg_device", wg_device_init, wg_device_one, 50);
	replay("records", records_init, records_one, 16);
	replay("uapi", uapi_init, uapi_run, 16);
	replay("stun", stun_init, stun_one, 7);
	return T_DONE();
}
