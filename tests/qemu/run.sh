#!/bin/bash
# run.sh - boot Debian's kernel, which has the real WireGuard module, under
# qemu with a small initramfs, run one guest script inside, and say PASS or
# FAIL from the serial console. This machine's own kernel may lack WireGuard;
# the VM's never does.
#
#   tests/qemu/run.sh [--install] --guest FILE [--add SRC[:DEST]]... [--qemu 'ARGS']
#
#   --guest FILE     run by the VM's /init as "sh /test.sh" (dash, as root);
#                    exit 0 means PASS
#   --add SRC[:DEST] put a file in the VM (DEST defaults to /usr/local/bin/NAME);
#                    for a dynamic ELF, the shared libraries ldd names go too
#   --qemu 'ARGS'    extra qemu arguments (user networking, say)
#   --install        install what is missing (root; the DEB_KERNEL list of the
#                    Makefile, apt-get, no recommends) instead of skipping
#
#   environment: ELK_QEMU_KVER (kernel version; default: the one Debian's
#   linux-image-amd64 depends on, so the version is pinned by the package and
#   never an -rt kernel some other package pulled in), ELK_QEMU_CACHE (default
#   build/qemu), ELK_QEMU_TIMEOUT (seconds, default 300), ELK_QEMU_VERBOSE=1
#   (stream the console), ELK_QEMU_MODULES (more modules to load).
#
# Exit: 0 PASS, 1 FAIL (the console log is printed), 77 cannot run here: one
# line on stderr says what is missing.
#
# What the gotchas of TCG on this kind of machine taught (no KVM here):
# - the distro bzImage is xz-compressed and decompressing it in the guest
#   costs ~6 s, so the ELF vmlinux is extracted once on the host and booted
#   through PVH (CONFIG_PVH=y);
# - getrandom() stalls ~1 s without an entropy source: -cpu qemu64,+rdrand;
# - Debian's busybox ash runs its own `ip` applet (no netns) ahead of PATH,
#   so /bin/sh is dash and busybox is reached only through symlinks for what
#   the real tools do not cover;
# - qemu exits 0 after poweroff whatever happened inside: the verdict is a
#   marker line on the serial console; `timeout` guards a hung guest.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/qemu
CACHE=${ELK_QEMU_CACHE:-$ROOT/build/qemu}
GUEST='' ADDS=() QEMU_EXTRA='' INSTALL=''

skip() { echo "qemu: cannot run here: $*" >&2; exit 77; }
die() { echo "qemu: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--guest) GUEST=$2; shift 2 ;;
	--add) ADDS+=("$2"); shift 2 ;;
	--qemu) QEMU_EXTRA="$QEMU_EXTRA $2"; shift 2 ;;
	--install) INSTALL=1; shift ;;
	*) die "unknown argument $1 (see the head of $0)" ;;
	esac
done
[ -f "$GUEST" ] || die "--guest FILE is required"

# 1. Packages: the Makefile's DEB_KERNEL list is the one list.
debs=$(sed -n 's/^DEB_KERNEL *:= *//p' "$ROOT/Makefile")
[ -n "$debs" ] || die "no DEB_KERNEL list in $ROOT/Makefile"
missing=''
for p in $debs; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	*"ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -n "$missing" ]; then
	[ -n "$INSTALL" ] || skip "missing Debian packages:$missing (tests/qemu/run.sh --install, as root)"
	[ "$(id -u)" = 0 ] || skip "missing Debian packages:$missing (installing them needs root)"
	mkdir -p "$CACHE"
	echo "qemu: installing$missing" >&2
	# shellcheck disable=SC2086
	sh "$ROOT/tests/deps.sh" $missing >"$CACHE/install.log" 2>&1 ||
		skip "could not install$missing (apt-get failed; see $CACHE/install.log)"
fi
mkdir -p "$CACHE"

# 2. The kernel, pinned by linux-image-amd64's dependency.
KVER=${ELK_QEMU_KVER:-}
if [ -z "$KVER" ]; then
	KVER=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
		grep -o 'linux-image-[0-9][^ ,]*' | head -1 | sed 's/^linux-image-//')
fi
[ -n "$KVER" ] || skip "no kernel version (linux-image-amd64 not installed)"
VMLINUZ=/boot/vmlinuz-$KVER
[ -r "$VMLINUZ" ] || skip "$VMLINUZ is not readable"
[ -n "$(find "/lib/modules/$KVER/kernel/drivers/net/wireguard" -name 'wireguard.ko*' 2>/dev/null)" ] ||
	skip "kernel $KVER has no wireguard module"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
W=$CACHE/$KVER
mkdir -p "$W"

# copy_in SRC DEST ROOT: SRC (dereferenced) at ROOT/DEST, with the shared
# libraries of a dynamic ELF at their own paths.
copy_in() {
	local lib
	mkdir -p "$3$(dirname "$2")"
	cp -L "$1" "$3$2"
	if ldd "$1" >/dev/null 2>&1; then
		for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
			[ -e "$3$lib" ] && continue
			mkdir -p "$3$(dirname "$lib")"
			cp -L "$lib" "$3$lib"
		done
	fi
}

# The ELF kernel inside the bzImage: try every compressed stream whose magic
# appears in the file until one unpacks to an ELF image.
extract_vmlinux() {
	local magic tool off
	for pair in '\xfd\x37\x7a\x58\x5a\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
		magic=${pair%%:*} tool=${pair#*:}
		command -v "${tool%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1 | head -5); do
			tail -c +$((off + 1)) "$1" | $tool >"$2.tmp" 2>/dev/null || true
			if [ "$(head -c4 "$2.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				mv "$2.tmp" "$2"
				return 0
			fi
		done
	done
	rm -f "$2.tmp"
	return 1
}

mkcpio() { (cd "$1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$2"; }

# 3. The base initramfs, cached per kernel: rebuilt when missing or when
# this script changed.
BASE=$W/base.cpio.gz
MODULES="wireguard veth virtio_net virtio_pci ${ELK_QEMU_MODULES:-}"
if [ ! -s "$BASE" ] || [ "$0" -nt "$BASE" ] || [ "$HERE/init" -nt "$BASE" ]; then
	t0=$(date +%s%N)
	R=$W/root
	rm -rf "$R"
	mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules,proc,sys,dev,run,tmp,etc,root,var}
	ln -s ../run "$R/var/run"
	copy_in /bin/dash /bin/sh "$R"
	copy_in "$(command -v ip)" /usr/sbin/ip "$R"
	copy_in "$(command -v wg)" /usr/bin/wg "$R"
	copy_in "$(command -v jq)" /usr/bin/jq "$R"
	cp /bin/busybox "$R/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$R/bin/$a" ] || [ -e "$R/usr/bin/$a" ] || [ -e "$R/usr/sbin/$a" ] || ln -s busybox "$R/bin/$a"
	done
	# Modules in load order, uncompressed (busybox insmod takes plain .ko).
	for m in $MODULES; do modprobe -S "$KVER" --show-depends "$m"; done |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
		n=$(basename "$ko")
		case $n in
		*.xz) xz -dc "$ko" >"$R/lib/modules/${n%.xz}"; n=${n%.xz} ;;
		*.zst) zstd -qdc "$ko" >"$R/lib/modules/${n%.zst}"; n=${n%.zst} ;;
		*.gz) gzip -dc "$ko" >"$R/lib/modules/${n%.gz}"; n=${n%.gz} ;;
		*) cp "$ko" "$R/lib/modules/$n" ;;
		esac
		echo "/lib/modules/$n" >>"$R/lib/modules/order"
	done
	cp "$HERE/init" "$R/init"
	chmod 755 "$R/init"
	mkcpio "$R" "$BASE"
	rm -rf "$R"
	echo "qemu: built $BASE ($(du -k "$BASE" | cut -f1) KiB) in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
fi

KERNEL=$VMLINUZ
if grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
	if [ ! -s "$W/vmlinux" ] || [ "$VMLINUZ" -nt "$W/vmlinux" ]; then
		extract_vmlinux "$VMLINUZ" "$W/vmlinux" || echo "qemu: no vmlinux in $VMLINUZ; booting the bzImage (slower)" >&2
	fi
	[ -s "$W/vmlinux" ] && KERNEL=$W/vmlinux
fi

# 4. Per-run overlay: the guest script and the added files, a second cpio
# the kernel unpacks over the first.
O=$(mktemp -d "$W/run.XXXXXX")
trap 'rm -rf "$O"' EXIT
mkdir -p "$O/ov"
cp "$GUEST" "$O/ov/test.sh"
for a in "${ADDS[@]}"; do
	src=${a%%:*} dst=${a#*:}
	[ "$dst" = "$a" ] && dst=/usr/local/bin/$(basename "$src")
	copy_in "$src" "$dst" "$O/ov"
done
mkcpio "$O/ov" "$O/ov.cpio.gz"
cat "$BASE" "$O/ov.cpio.gz" >"$O/initrd"

# 5. Boot.
ACCEL=${ELK_QEMU_ACCEL:-tcg} CPU=qemu64,+rdrand
[ "$ACCEL" = kvm ] && CPU=${ELK_QEMU_CPU:-host}
LOG=$W/last.log
echo "qemu: kernel $KVER ($(basename "$KERNEL")), accel $ACCEL, log $LOG" >&2
t0=$(date +%s%N)
rc=0
# shellcheck disable=SC2086 # QEMU_EXTRA is split on purpose
timeout "${ELK_QEMU_TIMEOUT:-300}" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" \
	-m 512 -smp 2 -nographic -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$O/initrd" \
	-append "console=ttyS0 panic=-1 quiet mitigations=off" $QEMU_EXTRA \
	</dev/null >"$LOG" 2>&1 &
qpid=$!
if [ "${ELK_QEMU_VERBOSE:-}" = 1 ]; then
	tail -n +1 -f --pid=$qpid "$LOG" >&2 &
fi
wait $qpid || rc=$?
secs=$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $t0) / 1e9 }")
tr -d '\r' <"$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
grep -E '^ELK-QEMU-(OK|FAIL|RESULT):' "$LOG" || true
if grep -q '^ELK-QEMU-RESULT: PASS' "$LOG"; then
	echo "qemu: PASS in $secs s (kernel $KVER)"
	exit 0
fi
[ "$rc" = 124 ] && echo "qemu: timed out after ${ELK_QEMU_TIMEOUT:-300} s" >&2
echo "qemu: FAIL in $secs s (qemu rc=$rc); console log:" >&2
cat "$LOG" >&2
exit 1
