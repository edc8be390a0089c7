#!/usr/bin/env bash
# demo.sh - edgelink's main job on an embedded default: two hosts (network
# namespaces) get a secure WireGuard link the EdgeLink way, then traffic
# goes through it.
#
#   [elk-demo-a]  veth 198.18.0.1  <------>  198.18.0.2 veth  [elk-demo-b]
#   destination:                                         source:
#   el-keygen | el-keyx listen --token T      el-keygen | el-keyx connect 198.18.0.1 --token T
#             | el-link up demo-a                       | el-link up demo-b
#   demo-a 10.0.0.1  <======= WireGuard, UDP 51820 =======>  10.0.0.2 demo-b
#
# The key exchange is authenticated by the token; the destination decides
# the addresses (10.0.0.1 / 10.0.0.2), port and keepalive; el-link runs the
# built-in userspace WireGuard on both ends. Needs root.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../.." && pwd)/bin
export PATH="$bin:$PATH"
A=elk-demo-a B=elk-demo-b
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 111; }
cleanup() {
	for ns in $A $B; do
		for p in $(ip netns pids $ns 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	done
	sleep 0.3
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	rm -f /var/run/wireguard/demo-a.sock /var/run/wireguard/demo-b.sock
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*" >&2; }

step "two hosts: namespaces $A and $B joined by a veth pair"
cleanup
ip netns add $A; ip netns add $B
ip link add veth-a netns $A type veth peer name veth-b netns $B
ip -n $A addr add 198.18.0.1/24 dev veth-a; ip -n $A link set veth-a up; ip -n $A link set lo up
ip -n $B addr add 198.18.0.2/24 dev veth-b; ip -n $B link set veth-b up; ip -n $B link set lo up

step "a token both sides share: el-keygen psk --raw"
T=$(el-keygen psk --raw)

step "the link: one pipeline per host"
t0=$(date +%s%N)
ip netns exec $A sh -c "el-keygen | el-keyx listen --token '$T' | el-link up demo-a" &
ip netns exec $B sh -c "el-keygen | el-keyx connect 198.18.0.1 --token '$T' | el-link up demo-b" &
for _ in $(seq 100); do
	ip netns exec $B ping -c1 -W0.3 -q 10.0.0.1 > /dev/null 2>&1 && break
done
printf 'linked: first ping answered %d ms after both commands started\n' \
	$(( ($(date +%s%N) - t0) / 1000000 )) >&2

step "traffic: ping and a TCP stream through the tunnel"
ip netns exec $B ping -c 3 -i 0.3 -W 2 10.0.0.1
if command -v socat > /dev/null; then
	ip netns exec $A socat -u TCP-LISTEN:5001,bind=10.0.0.1 SYSTEM:'sha256sum | cut -c1-16' > /tmp/.elk-demo-got &
	sleep 0.3
	head -c 1000000 /dev/urandom > /tmp/.elk-demo-data
	ip netns exec $B socat -u FILE:/tmp/.elk-demo-data TCP:10.0.0.1:5001
	wait $! 2>/dev/null || true
	[ "$(sha256sum < /tmp/.elk-demo-data | cut -c1-16)" = "$(cat /tmp/.elk-demo-got)" ] &&
		echo "1 MB over TCP from $B to $A arrived intact" >&2
	rm -f /tmp/.elk-demo-data /tmp/.elk-demo-got
fi

step "status: el-link show on both sides"
ip netns exec $A el-link show demo-a
ip netns exec $B el-link show demo-b

step "and wg(8) reads our device unchanged"
ip netns exec $A wg show demo-a >&2
ip netns exec $A el-link down demo-a
ip netns exec $B el-link down demo-b
