#!/bin/sh
# run.sh BUILD - run every test: the C unit tests built in BUILD/tests, then
# every bats suite. Prints one closing line, "check: N passed, N failed,
# N skipped", and fails when anything failed.
#
# Tests that need root or network namespaces skip (with a reason) when they
# cannot run; CI runs as root, so there they run.
set -u
build=${1:-build/rel}

# As root, the run gets network and mount namespaces of its own: the
# suites' fixed namespace names (/run/netns), UAPI sockets (/run/wireguard)
# and loopback ports are then private to it, so two runs on one machine
# cannot collide and nothing of a test touches the host's network.
# ELK_TEST_ISOLATE=0 runs in the host's namespaces instead.
if [ "$(id -u)" = 0 ] && [ "${ELK_TEST_ISOLATE:-1}" != 0 ] && [ -z "${ELK_TEST_ISOLATED:-}" ] &&
	unshare --net --mount true 2>/dev/null; then
	self=$(cd "$(dirname "$0")" && pwd)/run.sh
	ELK_TEST_ISOLATED=1 exec unshare --net --mount --propagation private sh -c '
		set -e
		mkdir -p /run/netns /run/wireguard
		mount -t tmpfs -o mode=0755 elk-netns /run/netns
		mount -t tmpfs -o mode=0755 elk-wireguard /run/wireguard
		ip link set lo up
		exec sh "$@"' sh "$self" "$build"
fi
cd "$(dirname "$0")/.." || exit 111
passed=0 failed=0 skipped=0
failures=

# Under the sanitizers, reports also go to files: a daemon that went to the
# background has no stderr to print them on, and one report fails the run.
case "$build" in
*san*)
	sanlogs=$(mktemp -d)
	export ASAN_OPTIONS="log_path=$sanlogs/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$sanlogs/ubsan:print_stacktrace=1:halt_on_error=1"
	;;
*) sanlogs= ;;
esac

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if out=$("$t" 2>&1); then
		passed=$((passed + 1))
		printf 'ok   unit %s (%s)\n' "$name" "$(printf '%s\n' "$out" | tail -n 1 | sed 's/.*: //')"
	else
		failed=$((failed + 1))
		failures="$failures unit:$name"
		printf 'FAIL unit %s\n%s\n' "$name" "$out"
	fi
done

# Where the test tools were built (tests/tools), for the suites that use them.
export ELK_BUILD="$PWD/$build"
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
suites=$(ls tests/*.bats 2>/dev/null)
if [ -n "$suites" ]; then
	# shellcheck disable=SC2086
	PATH="$PWD/bin:$PATH" bats --tap $suites | tee "$tap"
	p=$(grep -c '^ok .*# skip' "$tap")
	skipped=$((skipped + p))
	p=$(grep '^ok ' "$tap" | grep -vc '# skip')
	passed=$((passed + p))
	f=$(grep -c '^not ok ' "$tap")
	failed=$((failed + f))
	[ "$f" = 0 ] || failures="$failures $(grep '^not ok ' "$tap" | sed 's/^not ok [0-9]* /bats:/' | tr ' ' _)"
fi

if [ -n "$sanlogs" ]; then
	for f in "$sanlogs"/*; do
		[ -e "$f" ] || continue
		failed=$((failed + 1))
		failures="$failures sanitizer:$(basename "$f")"
		printf 'FAIL sanitizer report %s\n' "$f"
		cat "$f"
	done
	rm -rf "$sanlogs"
fi

[ -z "${ELK_TEST_ISOLATED:-}" ] || echo "(ran in network and mount namespaces of its own; ELK_TEST_ISOLATE=0 to not)"
[ -z "$failures" ] || printf 'failed:%s\n' "$failures"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
