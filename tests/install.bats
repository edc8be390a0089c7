#!/usr/bin/env bats
# make install and uninstall into a staging directory (DESTDIR).

setup() { D=$(mktemp -d); }
teardown() { rm -rf "$D"; }

@test "make install puts commands, man pages, share/ and the unit in place; uninstall removes them" {
	cd "$BATS_TEST_DIRNAME/.."
	make -s install DESTDIR="$D" PREFIX=/usr > /dev/null
	for c in el-keygen el-keyx el-link el-facts el-trust el-punch; do
		[ -x "$D/usr/bin/$c" ]
		[ -f "$D/usr/share/man/man1/$c.1" ]
	done
	[ -f "$D/usr/share/man/man7/edgelink-records.7" ]
	[ -f "$D/usr/share/edgelink/schema/records.schema.json" ]
	[ -x "$D/usr/share/edgelink/examples/el-link-userspace" ]
	[ -f "$D/usr/lib/systemd/system/edgelink@.service" ]
	"$D/usr/bin/el-keygen" --version | grep -q edgelink
	make -s uninstall DESTDIR="$D" PREFIX=/usr > /dev/null
	[ -z "$(find "$D" -type f)" ]
}

@test "every command: --help teaches on stdout (exit 0), --version, a man page, bad usage 100" {
	cd "$BATS_TEST_DIRNAME/.."
	for c in bin/el-*; do
		[ -x "$c" ] || continue
		n=$(basename "$c")
		case "$n" in *.*) continue ;; esac
		run "$c" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == Usage:* ]]
		[[ "$output" == *Exit:* ]]
		run "$c" --version
		[ "$status" -eq 0 ]
		[[ "$output" == "$n "* ]] || [[ "$output" == *edgelink* ]]
		[ -f "share/man/man1/$n.1" ]
		man -l "share/man/man1/$n.1" > /dev/null 2>&1 || [ ! -x /usr/bin/man ]
		run "$c" --no-such-option
		[ "$status" -eq 100 ]
	done
}
