#!/usr/bin/env bash
# demo.sh - edgelink's main job on an embedded default: a real WireGuard
# link between two local network namespaces, then traffic through it.
#
#   [elk-demo-a] veth 198.18.0.1  <---->  198.18.0.2 veth [elk-demo-b]
#                demo-a 10.0.0.1  <== WireGuard, UDP 51820 ==>  10.0.0.2 demo-b
#
# Both ends are el-link's userspace WireGuard, configured with records that
# el-keygen makes. (10.0.0.1 is the destination, 10.0.0.2 the source, as
# EdgeLink defaults; el-keyx will agree these automatically.) Needs root.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../.." && pwd)/bin
export PATH="$bin:$PATH"
A=elk-demo-a B=elk-demo-b
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 111; }
tmp=$(mktemp -d)
cleanup() {
	for ns in $A $B; do
		for p in $(ip netns pids $ns 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	done
	sleep 0.3
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*" >&2; }

step "two hosts: namespaces $A and $B joined by a veth pair"
cleanup; tmp=$(mktemp -d)
ip netns add $A; ip netns add $B
ip link add veth-a netns $A type veth peer name veth-b netns $B
ip -n $A addr add 198.18.0.1/24 dev veth-a; ip -n $A link set veth-a up; ip -n $A link set lo up
ip -n $B addr add 198.18.0.2/24 dev veth-b; ip -n $B link set veth-b up; ip -n $B link set lo up

step "keys: el-keygen writes each host's key pair to a 0600 file"
el-keygen --out "$tmp/a.json"; el-keygen --out "$tmp/b.json"
ls -l "$tmp"/*.json >&2

step "links: each side's iface + peer records into 'el-link up'"
conf() {  # KEYFILE PEERKEYFILE OWN-ADDR PEER-ADDR PEER-UNDERLAY
	jq -c --arg a "$3" '{type:"iface", private_key, listen_port:51820, addresses:[$a + "/24"]}' "$1"
	jq -c --arg p "$4" --arg e "$5:51820" \
		'{type:"peer", public_key, endpoint:$e, allowed_ips:[$p + "/32"], persistent_keepalive_interval:25}' "$2"
}
conf "$tmp/a.json" "$tmp/b.json" 10.0.0.1 10.0.0.2 198.18.0.2 > "$tmp/a.conf"
jq -c 'if .private_key then .private_key = "(hidden)" else . end' "$tmp/a.conf" >&2
ip netns exec $A el-link up demo-a --daemon < "$tmp/a.conf"
conf "$tmp/b.json" "$tmp/a.json" 10.0.0.2 10.0.0.1 198.18.0.1 | ip netns exec $B el-link up demo-b --daemon

step "traffic: ping 10.0.0.1 from $B through the tunnel"
ip netns exec $B ping -c 3 -i 0.3 -W 2 10.0.0.1

step "status: el-link show on both sides"
ip netns exec $A el-link show demo-a
ip netns exec $B el-link show demo-b

step "and wg(8) reads our device unchanged"
ip netns exec $A wg show demo-a >&2
ip netns exec $A el-link down demo-a
ip netns exec $B el-link down demo-b
