#!/bin/sh
# run.sh - build the libFuzzer harness for lib/facts_wire.c and run it.
#
#   tests/fuzz/run.sh [SECONDS]     default 60, or FUZZ_SECONDS
#   FUZZ_JOBS=N                     parallel workers (default 1)
#   FUZZ_MERGE=1                    afterwards, merge inputs that add coverage
#                                   into the seed corpus (tests/fuzz/corpus)
#
# Needs clang with libFuzzer (Debian: clang-14, which ships libclang_rt.fuzzer).
# Builds into build/fuzz/ with -fsanitize=fuzzer,address,undefined against
# the lib/ sources the codec needs. New inputs go to build/fuzz/corpus (the
# seeds in tests/fuzz/corpus/facts_wire are read, not written); a crash is
# saved as build/fuzz/crash-* and makes the script fail: copy it into the
# seed corpus as a regression once fixed.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-60}}
jobs=${FUZZ_JOBS:-1}
cc=${FUZZ_CC:-clang}
out=build/fuzz
seeds=tests/fuzz/corpus/facts_wire
mkdir -p "$out/corpus"

pkgs="libsodium jansson nettle"
# shellcheck disable=SC2046
$cc -std=c11 -D_GNU_SOURCE -DELK_VERSION='"fuzz"' -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Ilib $(pkg-config --cflags $pkgs) \
	-o "$out/fuzz_facts_wire" tests/fuzz/fuzz_facts_wire.c \
	lib/facts_wire.c lib/addr.c lib/key.c lib/records.c lib/cli.c \
	$(pkg-config --libs $pkgs)

echo "fuzz: facts_wire for ${secs}s, $jobs job(s), seeds $(ls "$seeds" | wc -l)"
set +e
if [ "$jobs" -gt 1 ]; then
	"$out/fuzz_facts_wire" -max_total_time="$secs" -max_len=1400 -print_final_stats=1 \
		-artifact_prefix="$out/" -jobs="$jobs" -workers="$jobs" \
		"$out/corpus" "$seeds"
else
	"$out/fuzz_facts_wire" -max_total_time="$secs" -max_len=1400 -print_final_stats=1 \
		-artifact_prefix="$out/" "$out/corpus" "$seeds"
fi
rc=$?
set -e
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
	"$out/fuzz_facts_wire" -merge=1 "$seeds" "$out/corpus"
fi
[ "$rc" = 0 ] || { echo "fuzz: FAILED (exit $rc); see $out/crash-* and the log above"; exit 1; }
echo "fuzz: no crash"
