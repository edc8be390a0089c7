#!/bin/bash
# kernel.sh - the kernel backend suite: one VM boot (tests/qemu/run.sh) that
# runs every in-VM check of tests/qemu/guest-kernel.sh with our own el-link
# and el-keygen inside, plus a record file of many peers (ELK_QEMU_PEERS,
# default 600, each with three allowed IPs) that cannot fit one netlink
# message.
#
# With root and /dev/net/tun (and ELK_QEMU_INTEROP not 0), the same boot
# also tests our two implementations against each other: kernel WireGuard in
# the VM, el-link's userspace WireGuard on the host, through qemu's user
# networking (hostfwd of UDP 51820). The host side lives in a private
# network namespace, and qemu runs inside it too, so that slirp's sockets
# use that namespace's loopback and the host's own network is never touched.
#
#   tests/qemu/kernel.sh [--install]      exit 0 PASS, 1 FAIL, 77 cannot run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${ELK_QEMU_PEERS:-600}
for b in el-link el-keygen el-keyx el-facts el-trust el-punch; do
	[ -x "$ROOT/bin/$b" ] || { echo "qemu: build first (make): no bin/$b" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "qemu: cannot run here: needs jq" >&2; exit 77; }
D=$(mktemp -d)
NS=elk-qemu IF=elq0 INTEROP='' HOSTPID=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$HOSTPID" ]; then kill "$HOSTPID" 2>/dev/null || true; wait "$HOSTPID" 2>/dev/null || true; fi
	if [ -n "$INTEROP" ]; then
		ip netns exec "$NS" "$ROOT/bin/el-link" down "$IF" >/dev/null 2>&1 || true
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
		ip netns del "$NS" 2>/dev/null || true
	fi
	rm -rf "$D"
}
trap cleanup EXIT

# Peer keys need not be curve points for the kernel to store them: 32
# distinct bytes each, made by jq in one go (no process per key). Every 7th
# peer has a preshared key. Addresses are written the way wg(8) prints them
# (the comparison inside the VM is textual).
{
	"$ROOT/bin/el-keygen" --out "$D/many-key.json"
	jq -c '{type:"iface", private_key, listen_port:51830}' "$D/many-key.json"
	jq -nc --argjson n "$N" 'range($n) as $i |
		def key($tag): ($tag + ($i | tostring) + "................................")[0:32] | @base64;
		{type:"peer", public_key: key("elk-many-"),
		 endpoint: "198.18.\($i / 256 | floor).\($i % 256):\(10000 + $i)",
		 allowed_ips: ["10.200.\($i / 256 | floor).\($i % 256)/32",
			       "fd00:200::\($i / 100 | floor + 1):\($i % 100 + 1)/128",
			       "10.\(64 + ($i / 256 | floor)).\($i % 256).0/24"]}
		+ (if $i % 7 == 0 then {preshared_key: key("elk-psk-")} else {} end)'
} >"$D/many.jsonl"

# coturn, for el-punch, when the host has it (the test skips that part without)
TURN=()
command -v turnserver >/dev/null && TURN=(--add "$(command -v turnserver)")
ARGS=(--guest "$ROOT/tests/qemu/guest-kernel.sh" --add "$ROOT/bin/el-link"
	--add "$ROOT/bin/el-keygen" --add "$ROOT/bin/el-keyx" --add "$ROOT/bin/el-facts"
	--add "$ROOT/bin/el-trust" --add "$ROOT/bin/el-punch" --add "$ROOT/share/examples/mesh.sh"
	--add "$D/many.jsonl:/data/many.jsonl" "${TURN[@]}")
IN=()
if [ "${ELK_QEMU_INTEROP:-1}" != 0 ] && [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] &&
	command -v busybox >/dev/null; then
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	INTEROP=1
	ip -n "$NS" link set lo up
	"$ROOT/bin/el-keygen" --out "$D/host.json"
	"$ROOT/bin/el-keygen" --out "$D/guest.json"
	{
		jq -c '{type:"iface", private_key, listen_port:51821, addresses:["10.99.0.1/24"]}' "$D/host.json"
		jq -c '{type:"peer", public_key, endpoint:"127.0.0.1:51820", allowed_ips:["10.99.0.2/32"]}' "$D/guest.json"
	} | ip netns exec "$NS" "$ROOT/bin/el-link" up "$IF" --backend userspace --daemon
	{
		jq -c '{type:"iface", private_key, listen_port:51820, addresses:["10.99.0.2/24"]}' "$D/guest.json"
		jq -c '{type:"peer", public_key, endpoint:"10.0.2.2:51821", allowed_ips:["10.99.0.1/32"]}' "$D/host.json"
	} >"$D/interop.jsonl"
	ARGS+=(--add "$D/interop.jsonl:/etc/elk/interop.jsonl"
		--qemu "-netdev user,id=n0,hostfwd=udp:127.0.0.1:51820-:51820 -device virtio-net-pci,netdev=n0,romfile=")
	IN=(ip netns exec "$NS")
	# The host's half, while the VM boots and runs the other checks:
	# ping the VM through the tunnel until it answers, then TCP to it;
	# and take the VM's TCP message.
	(
		for _ in $(seq 240); do
			ip netns exec "$NS" ping -c1 -W1 -n -q 10.99.0.2 >/dev/null 2>&1 && break
		done
		ip netns exec "$NS" ping -c3 -W2 -n -q 10.99.0.2 >"$D/ping.log" 2>&1 && touch "$D/ping.ok"
		for _ in $(seq 30); do
			echo hello-from-host | ip netns exec "$NS" timeout 5 busybox nc 10.99.0.2 7777 2>/dev/null && break
			sleep 1
		done
	) &
	HOSTPID=$!
	ip netns exec "$NS" timeout 280 busybox nc -l -p 7778 >"$D/from-guest.txt" 2>/dev/null &
else
	echo "qemu: VM <-> host interop not run (needs root, /dev/net/tun and busybox; ELK_QEMU_INTEROP=0 turns it off)" >&2
fi

rc=0
"${IN[@]}" "$ROOT/tests/qemu/run.sh" "$@" "${ARGS[@]}" || rc=$?
if [ -n "$INTEROP" ] && [ "$rc" = 0 ]; then
	if [ -e "$D/ping.ok" ]; then
		echo "ELK-QEMU-HOST-OK: host (el-link userspace) -> VM (kernel) ping through the tunnel"
	else
		echo "ELK-QEMU-HOST-FAIL: host -> VM ping"; cat "$D/ping.log" 2>/dev/null; rc=1
	fi
	if grep -q hello-from-guest "$D/from-guest.txt" 2>/dev/null; then
		echo "ELK-QEMU-HOST-OK: VM -> host TCP through the tunnel"
	else
		echo "ELK-QEMU-HOST-FAIL: VM -> host TCP"; rc=1
	fi
	ip netns exec "$NS" "$ROOT/bin/el-link" show "$IF" | jq -c '{state, rx_bytes, tx_bytes}'
	# The same metrics from the userspace backend.
	if ip netns exec "$NS" "$ROOT/bin/el-link" show "$IF" --prometheus |
		grep -q '^edgelink_connections{cable_driver="userspace",interface="elq0",.*status="connected"} 1$'; then
		echo "ELK-QEMU-HOST-OK: show --prometheus on the userspace backend"
	else
		echo "ELK-QEMU-HOST-FAIL: show --prometheus on the userspace backend"; rc=1
	fi
fi
exit $rc
