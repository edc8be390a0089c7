# netns.bash - two hosts in network namespaces for link tests (bats `load`).
#
#   [elkA]  veA 198.18.0.1/24  <---- veth ---->  veB 198.18.0.2/24  [elkB]
#           ela0 (el-link, userspace)             wgo0 (Debian's wireguard-go)
#           10.0.0.1/24  fd00::1/64   <== WireGuard, UDP 51820 ==>  10.0.0.2/24  fd00::2/64
#
# The underlay uses 198.18.0.0/15 (the benchmarking range); every address
# lives only inside the two namespaces. The interfaces have different names
# so their UAPI sockets (/var/run/wireguard/NAME.sock) do not collide.

NSA=elkA NSB=elkB
# These suites test the userspace backend, also on a host whose kernel has
# WireGuard (where el-link would pick the kernel).
export EL_LINK_BACKEND=userspace
UA=198.18.0.1 UB=198.18.0.2

# Skips the calling test unless namespaces, veth and TUN can be had.
need_netns() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
	[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
	command -v ip >/dev/null || skip "needs iproute2"
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "needs $c"
	done
}

A() { ip netns exec "$NSA" "$@"; }
B() { ip netns exec "$NSB" "$@"; }

netns_up() {
	netns_down
	ip netns add "$NSA" && ip netns add "$NSB" || skip "cannot create network namespaces"
	ip link add veA netns "$NSA" type veth peer name veB netns "$NSB"
	A ip addr add "$UA/24" dev veA
	B ip addr add "$UB/24" dev veB
	A ip link set lo up; A ip link set veA up
	B ip link set lo up; B ip link set veB up
}

# ns_del NS...: ends every process inside each namespace, by PID (TERM,
# then KILL after 5 s), then deletes it. Namespaces that do not exist are
# skipped.
ns_del() {
	local ns p
	for ns in "$@"; do
		ip netns list | grep -qw "^$ns" || continue
		for p in $(ip netns pids "$ns"); do kill "$p" 2>/dev/null; done
		for _ in $(seq 50); do [ -z "$(ip netns pids "$ns")" ] && break; sleep 0.1; done
		for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns"
	done
}

netns_down() {
	ns_del "$NSA" "$NSB" elkM
	rm -f /var/run/wireguard/ela0.sock /var/run/wireguard/elb0.sock /var/run/wireguard/wgo0.sock
}

# keys KEYDIR: a key pair per side, as el-keygen records and wg's files.
make_keys() {
	local d=$1 s
	for s in a b; do
		el-keygen --out "$d/$s.json"
		jq -r .private_key "$d/$s.json" > "$d/$s.key"
		jq -r .public_key "$d/$s.json" > "$d/$s.pub"
	done
}

# wgo_start KEYDIR [extra wg set args]: wireguard-go as host B.
wgo_start() {
	local d=$1; shift
	B env WG_PROCESS_FOREGROUND=1 wireguard-go -f wgo0 > "$d/wgo.log" 2>&1 &
	for _ in $(seq 100); do B wg show wgo0 >/dev/null 2>&1 && break; sleep 0.05; done
	B wg set wgo0 listen-port 51820 private-key "$d/b.key" \
		peer "$(cat "$d/a.pub")" endpoint "$UA:51820" allowed-ips 10.0.0.1/32,fd00::1/128 "$@"
	B ip addr add 10.0.0.2/24 dev wgo0
	B ip addr add fd00::2/64 dev wgo0 nodad
	B ip link set wgo0 up
}

# ela_config KEYDIR [peer jq extras]: the records that bring up host A.
ela_config() {
	local d=$1 extra=${2:-}
	jq -c '{type:"iface", name:"ignored", private_key, listen_port:51820,
		addresses:["10.0.0.1/24","fd00::1/64"]}' "$d/a.json"
	jq -nc --arg k "$(cat "$d/b.pub")" --arg ep "$UB:51820" \
		"{type:\"peer\", public_key:\$k, endpoint:\$ep,
		  allowed_ips:[\"10.0.0.2/32\",\"fd00::2/128\"]} $extra"
}

# ping_until NS ADDR [tries]: true once one ping is answered. A ping with
# no route yet fails at once, so each try also waits a little (PING_GAP,
# 0.2 s): N tries last at least N/5 seconds.
ping_until() {
	local ns=$1 addr=$2 n=${3:-40}
	for _ in $(seq "$n"); do
		ip netns exec "$ns" ping -c1 -W0.5 -n -q "$addr" >/dev/null 2>&1 && return 0
		sleep "${PING_GAP:-0.2}"
	done
	return 1
}

# --- for suites with more hosts: keys in $T/SIDE.json and $T/SIDE.pub ---

# veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces,
# each end with its /24, up.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/24" dev "$2"; ip -n "$1" link set "$2" up
	ip -n "$4" addr add "$6/24" dev "$5"; ip -n "$4" link set "$5" up
}

# el_up NS IFACE SIDE ADDR [peer records...]: an el-link device on 51820.
el_up() {
	local ns=$1 ifc=$2 side=$3 addr=$4; shift 4
	{ jq -c --arg a "$addr" '{type:"iface", private_key, listen_port:51820, addresses:[$a]}' \
		"$T/$side.json"; for p in "$@"; do echo "$p"; done; } |
		ip netns exec "$ns" el-link up "$ifc" --daemon
}

# el_peer SIDE ENDPOINT|- ALLOWED...: a peer record ("-": no endpoint).
el_peer() {
	local k; k=$(cat "$T/$1.pub"); local ep=$2; shift 2
	jq -nc --arg k "$k" --arg ep "$ep" '{type:"peer", public_key:$k, allowed_ips:$ARGS.positional}
		+ (if $ep == "-" then {} else {endpoint:$ep} end)' --args "$@"
}

# rx NS IFACE SIDE: the bytes IFACE in NS received from peer SIDE.
rx() { ip netns exec "$1" wg show "$2" transfer | awk -v k="$(cat "$T/$3.pub")" '$1==k{print $2}'; }
