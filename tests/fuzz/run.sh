#!/bin/sh
# run.sh - build the libFuzzer harnesses in tests/fuzz and run them in turn.
#
#   tests/fuzz/run.sh [SECONDS]     per target, default 60, or FUZZ_SECONDS
#   FUZZ_TARGETS="uapi records"     a subset (default: all, in this order)
#                                     facts_wire  lib/facts_wire.c
#                                     wg_device   lib/wg_device.c's packet path
#                                     records     records, model, keyx, trust
#                                     uapi        lib/uapi.c
#                                     stun        lib/stun.c (el-punch)
#   FUZZ_JOBS=N                     parallel workers (default 1)
#   FUZZ_MERGE=1                    afterwards, merge inputs that add coverage
#                                   into the seed corpus (tests/fuzz/corpus/T;
#                                   keep it to a few hundred small files:
#                                   tests/unit/test_fuzz_replay.c replays it)
#
# Needs clang with libFuzzer (Debian: clang-14, which ships libclang_rt.fuzzer).
# Builds build/fuzz/fuzz_T with -fsanitize=fuzzer,address,undefined against
# only the lib/ sources T needs (tests/fuzz/T.ignorelist, when there is one,
# names functions left without coverage instrumentation). New inputs go to
# build/fuzz/corpus/T (the seeds in tests/fuzz/corpus/T are read, not
# written); tests/fuzz/T.dict, when there is one, is handed to libFuzzer as
# a dictionary. A crash is saved as build/fuzz/T-crash-* and makes the
# script fail after the other targets ran: copy it into the seed corpus as
# a regression once fixed.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-60}}
jobs=${FUZZ_JOBS:-1}
cc=${FUZZ_CC:-clang}
targets=${FUZZ_TARGETS:-facts_wire wg_device records uapi stun}
out=build/fuzz
common="lib/addr.c lib/key.c lib/records.c lib/cli.c"
failed=

for t in $targets; do
	case $t in
	facts_wire)
		pkgs="libsodium jansson nettle"
		srcs="lib/facts_wire.c"
		maxlen=1400 ;;
	wg_device)
		pkgs="libsodium libb2 jansson nettle"
		srcs="lib/wg_device.c lib/wg_noise.c lib/wg_cookie.c lib/wg_replay.c
		      lib/wg_allowedips.c lib/wg_ratelimit.c lib/wg_timers.c lib/model.c"
		maxlen=4096 ;;
	records)
		pkgs="libsodium jansson nettle"
		srcs="lib/model.c lib/keyx.c lib/trust.c"
		maxlen=4096 ;;
	uapi)
		pkgs="libsodium jansson nettle"
		srcs="lib/uapi.c lib/model.c"
		maxlen=2048 ;;
	stun)
		pkgs="libsodium jansson nettle"
		srcs="lib/stun.c"
		maxlen=600 ;;
	*)
		echo "fuzz: unknown target '$t' (facts_wire wg_device records uapi stun)" >&2
		exit 100 ;;
	esac
	seeds=tests/fuzz/corpus/$t
	bin=$out/fuzz_$t
	mkdir -p "$out/corpus/$t" "$seeds"
	extra=
	[ -f "tests/fuzz/$t.ignorelist" ] &&
		extra=-fsanitize-coverage-ignorelist=tests/fuzz/$t.ignorelist
	# shellcheck disable=SC2046,SC2086
	$cc -std=c11 -D_GNU_SOURCE -DELK_VERSION='"fuzz"' -g -O1 -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $extra \
		-Ilib $(pkg-config --cflags $pkgs) \
		-o "$bin" "tests/fuzz/fuzz_$t.c" $srcs $common \
		$(pkg-config --libs $pkgs)

	set -- -max_total_time="$secs" -max_len="$maxlen" -print_final_stats=1 \
		-artifact_prefix="$out/$t-"
	[ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
	[ "$jobs" -gt 1 ] && set -- "$@" -jobs="$jobs" -workers="$jobs"
	echo "fuzz: $t for ${secs}s, $jobs job(s), seeds $(ls "$seeds" | wc -l)"
	set +e
	"$bin" "$@" "$out/corpus/$t" "$seeds"
	rc=$?
	set -e
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"$bin" -merge=1 "$seeds" "$out/corpus/$t"
	fi
	if [ "$rc" != 0 ]; then
		echo "fuzz: $t FAILED (exit $rc); see $out/$t-crash-* and the log above"
		failed="$failed $t"
	fi
done
[ -z "$failed" ] || { echo "fuzz: FAILED:$failed"; exit 1; }
echo "fuzz: no crash"
