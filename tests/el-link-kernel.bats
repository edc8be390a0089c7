#!/usr/bin/env bats
# el-link's kernel backend against the real WireGuard module: Debian's own
# kernel booted under qemu (this machine's kernel may have no WireGuard), one
# boot for every check (tests/qemu/guest-kernel.sh lists them). The harness
# installs qemu and the kernel when it can (root, apt); when it cannot, this
# skips with one line saying why. `make check-kernel` runs the same directly.

@test "kernel WireGuard under qemu: two namespaces, live change, removal, 600 peers, prometheus, keyx, mesh" {
	local install=
	[ "$(id -u)" = 0 ] && install=--install
	run bash "$BATS_TEST_DIRNAME/qemu/kernel.sh" $install
	if [ "$status" -eq 77 ]; then
		skip "$(printf '%s\n' "$output" | grep '^qemu: cannot run here' | tail -1 | sed 's/^qemu: //')"
	fi
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ELK-QEMU-RESULT: PASS"* ]]
}
