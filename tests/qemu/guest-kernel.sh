#!/bin/sh
# guest-kernel.sh - el-link's kernel backend against the real wireguard.ko,
# inside the VM that tests/qemu/kernel.sh boots (dash, as root). Every
# WireGuard link here is configured only through el-link (records on
# stdin); wg(8) only reads, as the independent witness.
#
#   [a] va 192.168.77.1 <-- veth --> vb 192.168.77.2 [b]
#       wg0 10.9.0.1 fd09::1   <== kernel WireGuard ==>   wg0 10.9.0.2 fd09::2
#   [m] wg1 with /data/many.jsonl: hundreds of peers, thousands of allowed IPs
#   [x] [y] [z] the facts mesh: el-facts | el-trust | el-link, y routing
#
# Each check prints "ELK-QEMU-OK: what (uptime s)"; the first failure prints
# "ELK-QEMU-FAIL: what" and ends the script non-zero.
set -eu
umask 077
up() { cut -d' ' -f1 /proc/uptime; }
ok() { echo "ELK-QEMU-OK: $* ($(up) s)"; }
fail() { echo "ELK-QEMU-FAIL: $*"; exit 1; }
A() { ip netns exec a "$@"; }
B() { ip netns exec b "$@"; }
M() { ip netns exec m "$@"; }
pub() { jq -r .public_key "/tmp/$1.json"; }
# handshake NS IFACE KEY: the peer's latest handshake (Unix seconds)
handshake() { ip netns exec "$1" wg show "$2" latest-handshakes | awk -v k="$3" '$1 == k { print $2 }'; }
ifindex() { ip netns exec "$1" ip -o link show "$2" | cut -d: -f1; }

# show_vs_dump NS IFACE: el-link show says what wg show dump says, peer by
# peer (key, endpoint, allowed IPs, handshake, counters, keepalive). A
# keepalive may move a counter between the two reads: try again then.
show_vs_dump() {
	for _ in 1 2 3; do
		ip netns exec "$1" wg show "$2" dump | jq -R -r 'split("\t") | select(length == 8) |
			[.[0], (if .[2] == "(none)" then "-" else .[2] end),
			 (if .[3] == "(none)" then "" else (.[3] | split(",") | sort | join(",")) end),
			 .[4], .[5], .[6], (if .[7] == "off" then "0" else .[7] end)] | @tsv' |
			sort >/tmp/dump.tsv
		ip netns exec "$1" el-link show "$2" | jq -r '[.public_key, (.endpoint // "-"),
			(.allowed_ips | sort | join(",")), .last_handshake, .rx_bytes, .tx_bytes,
			.persistent_keepalive_interval] | @tsv' | sort >/tmp/show.tsv
		cmp -s /tmp/dump.tsv /tmp/show.tsv && return 0
		sleep 1
	done
	echo "wg show dump:"; cat /tmp/dump.tsv
	echo "el-link show:"; cat /tmp/show.tsv
	return 1
}

echo "elk-test: $(el-link --version 2>&1 | head -1)"

# An empty link, forced kernel backend; up with no records, then down.
el-link up elk0 --backend kernel </dev/null || fail "up of an empty link"
ip -d link show elk0 | grep -q wireguard || fail "elk0 is not a wireguard link"
el-link down elk0 || fail "down elk0"
if ip link show elk0 >/dev/null 2>&1; then fail "down left elk0"; fi
ok "up and down of an empty kernel link"

# Two hosts.
for n in a b c; do el-keygen --out /tmp/$n.json; done
ip netns add a
ip netns add b
A ip link set lo up
B ip link set lo up
ip link add va netns a type veth peer name vb netns b
A ip addr add 192.168.77.1/24 dev va
A ip link set va up
B ip addr add 192.168.77.2/24 dev vb
B ip link set vb up

# side SELF PEER SELF_N PEER_N: the records that bring up one side
side() {
	jq -c --arg n "$3" '{type:"iface", private_key, listen_port:51820,
		addresses:["10.9.0.\($n)/24", "fd09::\($n)/64"]}' "/tmp/$1.json"
	jq -nc --arg k "$(pub "$2")" --arg n "$4" '{type:"peer", public_key:$k,
		endpoint:"192.168.77.\($n):51820", allowed_ips:["10.9.0.\($n)/32", "fd09::\($n)/128"]}'
}
side a b 1 2 >/tmp/a.rec
side b a 2 1 >/tmp/b.rec
# a: the default (auto) picks the kernel; b: forced.
A el-link up wg0 </tmp/a.rec || fail "el-link up wg0 in a (auto)"
B el-link up wg0 --backend kernel </tmp/b.rec || fail "el-link up wg0 in b"
A ip -d link show wg0 | grep -q wireguard || fail "a: wg0 is not a kernel wireguard link"
[ ! -e /run/wireguard/wg0.sock ] || fail "a UAPI socket appeared: not the kernel backend"
A wg show wg0 listen-port | grep -qx 51820 || fail "a: listen port"
ok "two kernel links configured by el-link (auto and --backend kernel)"

A ping -c 3 -W 5 10.9.0.2 >/dev/null || fail "ping a -> b (IPv4)"
B ping -c 2 -W 5 10.9.0.1 >/dev/null || fail "ping b -> a (IPv4)"
A ping -c 2 -W 5 fd09::2 >/dev/null || fail "ping a -> b (IPv6)"
B ping -c 2 -W 5 fd09::1 >/dev/null || fail "ping b -> a (IPv6)"
[ "$(handshake a wg0 "$(pub b)")" -gt 0 ] || fail "no handshake recorded"
ok "ping both ways over IPv4 and IPv6 through kernel WireGuard"

show_vs_dump a wg0 || fail "el-link show disagrees with wg show dump (a)"
show_vs_dump b wg0 || fail "el-link show disagrees with wg show dump (b)"
A el-link show wg0 | jq -e 'select(.state == "connected")' >/dev/null || fail "state connected"
ok "el-link show agrees with wg show dump"

# A live change of another peer must not touch b's session or the link.
hs=$(handshake a wg0 "$(pub b)")
idx=$(ifindex a wg0)
jq -nc --arg k "$(pub c)" '{type:"peer", public_key:$k, endpoint:"192.168.77.3:51820",
	allowed_ips:["10.9.0.3/32"], persistent_keepalive_interval:25}' | A el-link apply wg0 ||
	fail "apply: add peer c"
jq -nc --arg k "$(pub c)" '{type:"peer", public_key:$k, endpoint:"192.168.77.4:51821",
	allowed_ips:["10.9.0.4/32"], replace_allowed_ips:true, persistent_keepalive_interval:0}' |
	A el-link apply wg0 || fail "apply: change peer c"
A wg show wg0 endpoints | grep -q "$(pub c).192.168.77.4:51821" || fail "c's endpoint not changed"
A wg show wg0 allowed-ips | grep "$(pub c)" | grep -q '10.9.0.4/32' || fail "c's allowed IPs"
if A wg show wg0 allowed-ips | grep "$(pub c)" | grep -q '10.9.0.3/32'; then
	fail "replace_allowed_ips kept the old one"
fi
A ping -c 2 -W 5 10.9.0.2 >/dev/null || fail "ping a -> b after the change"
[ "$(ifindex a wg0)" = "$idx" ] || fail "the link was recreated"
[ "$(handshake a wg0 "$(pub b)")" = "$hs" ] || fail "b's session was disturbed (handshake $hs -> $(handshake a wg0 "$(pub b)"))"
ok "live change of peer c: same link, b's session untouched (handshake $hs)"

jq -nc --arg k "$(pub c)" '{type:"peer", public_key:$k, remove:true}' | A el-link apply wg0 ||
	fail "apply: remove c"
if A wg show wg0 peers | grep -q "$(pub c)"; then fail "c still there"; fi
A wg show wg0 peers | grep -q "$(pub b)" || fail "b went with c"
A ping -c 2 -W 5 10.9.0.2 >/dev/null || fail "ping after the removal"
[ "$(handshake a wg0 "$(pub b)")" = "$hs" ] || fail "b's session disturbed by the removal"
ok "removal of peer c; b untouched"

A el-link show wg0 --prometheus >/tmp/prom.txt || fail "show --prometheus"
grep -q "^edgelink_connections{cable_driver=\"kernel\",interface=\"wg0\",public_key=\"$(pub b)\",remote_endpoint_ip=\"192.168.77.2\",status=\"connected\"} 1\$" /tmp/prom.txt ||
	{ cat /tmp/prom.txt; fail "prometheus: connection status"; }
grep -q "^edgelink_connection_established_timestamp{.*} $hs\$" /tmp/prom.txt || fail "prometheus: timestamp"
grep -Eq '^edgelink_rx_bytes\{.*\} [1-9][0-9]*$' /tmp/prom.txt || fail "prometheus: rx bytes"
grep -Eq '^edgelink_tx_bytes\{.*\} [1-9][0-9]*$' /tmp/prom.txt || fail "prometheus: tx bytes"
ok "show --prometheus: status, established timestamp, rx and tx bytes"

# Many peers: more than one netlink message each way.
if [ -s /data/many.jsonl ]; then
	n=$(grep -c '"type":"peer"' /data/many.jsonl)
	ip netns add m
	M ip link set lo up
	t0=$(up)
	M el-link up wg1 --backend kernel </data/many.jsonl || fail "up with $n peers"
	t1=$(up)
	[ "$(M wg show wg1 peers | wc -l)" -eq "$n" ] || fail "wg show: not $n peers"
	# What went in, as wg show dump writes it.
	jq -r 'select(.type == "peer") | [.public_key, (.preshared_key // "(none)"), .endpoint,
		(.allowed_ips | sort | join(","))] | @tsv' /data/many.jsonl | sort >/tmp/want.tsv
	M wg show wg1 dump | jq -R -r 'split("\t") | select(length == 8) |
		[.[0], .[1], .[2], (.[3] | split(",") | sort | join(","))] | @tsv' | sort >/tmp/got.tsv
	cmp -s /tmp/want.tsv /tmp/got.tsv || { diff /tmp/want.tsv /tmp/got.tsv | head -20; fail "wg show dump differs from what el-link set"; }
	jq -r 'select(.type == "peer") | [.public_key, .endpoint, (.allowed_ips | sort | join(","))] | @tsv' \
		/data/many.jsonl | sort >/tmp/want2.tsv
	M el-link show wg1 | jq -r '[.public_key, .endpoint, (.allowed_ips | sort | join(","))] | @tsv' |
		sort >/tmp/got2.tsv
	cmp -s /tmp/want2.tsv /tmp/got2.tsv || { diff /tmp/want2.tsv /tmp/got2.tsv | head -20; fail "el-link show differs from what el-link set"; }
	aips=$(M wg show wg1 allowed-ips | wc -w)
	ok "$n peers ($((aips - n)) allowed IPs) set in $(awk "BEGIN { print $t1 - $t0 }") s, read back intact by wg and el-link show"
	# replace_peers goes in the first message only: a second message
	# repeating it would drop the peers of the first.
	{
		echo '{"type":"iface","replace_peers":true}'
		grep '"type":"peer"' /data/many.jsonl | head -250
	} | M el-link apply wg1 || fail "apply replace_peers with 250 peers"
	[ "$(M wg show wg1 peers | wc -l)" -eq 250 ] || fail "replace_peers: $(M wg show wg1 peers | wc -l) peers, not 250"
	ok "replace_peers with 250 peers over several messages leaves exactly those 250"
	M el-link down wg1 || fail "down wg1"
fi

A el-link down wg0 || fail "down a"
if A ip link show wg0 >/dev/null 2>&1; then fail "a: wg0 still there"; fi
out=$(A el-link show wg0 2>&1) && fail "show of a link that is gone succeeded"
echo "$out" | grep -q 'not running' || fail "show after down: \"$out\""
ok "down removes the link; show then says it is not running"

# The EdgeLink pipeline on kernel WireGuard: el-keyx agrees keys and
# addresses between a and b, el-link (auto: the kernel) configures the
# links from the records and returns once el-keyx ends. (b still has wg0 on
# 51820: the destination picks the port.)
tok=$(el-keygen psk --raw)
A sh -c "el-keygen | el-keyx listen -q --token $tok --wg-port 51830 | el-link up wk0" &
kx=$!
sleep 1
B sh -c "el-keygen | el-keyx connect 192.168.77.1 -q --token $tok --retry-interval 1 | el-link up wk0" ||
	fail "keyx: the source pipeline"
wait "$kx" || fail "keyx: the destination pipeline"
A ip -d link show wk0 | grep -q wireguard || fail "keyx: a's wk0 is not a kernel wireguard link"
B ip -d link show wk0 | grep -q wireguard || fail "keyx: b's wk0 is not a kernel wireguard link"
B ping -c 3 -W 5 10.0.0.1 >/dev/null || fail "keyx: ping b -> a"
A ping -c 2 -W 5 10.0.0.2 >/dev/null || fail "keyx: ping a -> b"
A el-link down wk0 || fail "keyx: down a"
B el-link down wk0 || fail "keyx: down b"
ok "el-keygen | el-keyx | el-link on both sides: kernel links, ping both ways"

# Kernel WireGuard here, el-link's userspace WireGuard on the host
# (tests/qemu/kernel.sh), through qemu's user networking: the host is
# 10.0.2.2, and its UDP 127.0.0.1:51820 is forwarded to our 51820.
if [ -s /etc/elk/interop.jsonl ]; then
	el-link up wg9 --backend kernel </etc/elk/interop.jsonl || fail "interop: up wg9"
	ping -c 3 -W 5 10.99.0.1 >/dev/null || ping -c 3 -W 5 10.99.0.1 >/dev/null ||
		fail "interop: ping VM -> host"
	ok "VM (kernel) -> host (el-link userspace) ping through the tunnel"
	timeout 120 nc -l -p 7777 >/tmp/msg || true
	grep -q hello-from-host /tmp/msg || fail "interop: no TCP message from the host"
	ok "host -> VM TCP through the tunnel"
	sent=''
	for _ in 1 2 3 4 5; do
		if echo hello-from-guest | timeout 5 nc 10.99.0.1 7778; then sent=1; break; fi
		sleep 1
	done
	[ -n "$sent" ] || fail "interop: TCP VM -> host"
	ok "VM -> host TCP sent"
	wg show wg9 latest-handshakes | awk '{ exit !($2 > 0) }' || fail "interop: no handshake"
fi

# el-facts and el-trust on kernel WireGuard: the three-node mesh of
# tests/el-facts-gossip.bats. x and z know only y, which routes
# 10.8.0.0/24; they learn each other through y (it relays what they say of
# themselves), link directly over their own veth, fall back through y when
# that veth goes down, and go direct again when it comes back up.
#   x vxy 198.18.1.1 -- vyx 198.18.1.2 y vyz 198.18.2.2 -- vzy 198.18.2.3 z
#   x vxz 198.18.3.1 -------------------------------------- vzx 198.18.3.3 z
if command -v el-facts >/dev/null && command -v mesh.sh >/dev/null; then
	X() { ip netns exec x "$@"; }
	Y() { ip netns exec y "$@"; }
	Z() { ip netns exec z "$@"; }
	for n in x y z; do
		el-keygen --out /tmp/m$n.json
		ip netns add $n
		ip -n $n link set lo up
	done
	# mveth NS1 IF1 ADDR1 NS2 IF2 ADDR2
	mveth() {
		ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
		ip -n "$1" addr add "$3/24" dev "$2"
		ip -n "$1" link set "$2" up
		ip -n "$4" addr add "$6/24" dev "$5"
		ip -n "$4" link set "$5" up
	}
	mveth x vxy 198.18.1.1 y vyx 198.18.1.2
	mveth y vyz 198.18.2.2 z vzy 198.18.2.3
	mveth x vxz 198.18.3.1 z vzx 198.18.3.3
	Y sysctl -qw net.ipv4.ip_forward=1 || Y sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
	# mpeer WHO ENDPOINT ALLOWED
	mpeer() {
		jq -nc --arg k "$(pub "m$1")" --arg ep "$2" --arg ip "$3" \
			'{type:"peer", public_key:$k, endpoint:$ep, allowed_ips:[$ip]}'
	}
	# mup NS WHO ADDR: iface record, then peers on stdin
	mup() {
		{ jq -c --arg a "$3" '{type:"iface", private_key, listen_port:51820, addresses:[$a]}' \
			"/tmp/m$2.json"; cat; } | ip netns exec "$1" el-link up wg0 ||
			fail "mesh: el-link up in $1"
	}
	mpeer y 198.18.1.2:51820 10.8.0.0/24 | mup x x 10.8.0.1/24
	{ mpeer x 198.18.1.1:51820 10.8.0.1/32; mpeer z 198.18.2.3:51820 10.8.0.3/32; } |
		mup y y 10.8.0.2/24
	mpeer y 198.18.2.2:51820 10.8.0.0/24 | mup z z 10.8.0.3/24
	X ip -d link show wg0 | grep -q wireguard || fail "mesh: x's wg0 is not a kernel link"
	export EL_FACTS_CYCLE=1 EL_FACTS_ALIVE=2 EL_FACTS_TTL=20 EL_TRUST_STALE=6 EL_TRUST_TRY=2
	Y el-facts gossip wg0 --no-stdin --relay >/tmp/y.facts 2>/tmp/y.err &
	X mesh.sh wg0 >/tmp/x.mesh 2>&1 &
	Z mesh.sh wg0 >/tmp/z.mesh 2>&1 &
	zk=$(pub mz)
	# direct yes|no: until x routes z's tunnel address to z directly, or not
	direct() {
		for _ in $(seq 600); do
			if X wg show wg0 allowed-ips | grep "^$zk" | grep -q 10.8.0.3/32; then
				[ "$1" = yes ] && return 0
			else
				[ "$1" = no ] && return 0
			fi
			sleep 0.1
		done
		X wg show wg0; cat /tmp/x.mesh; cat /tmp/y.err
		return 1
	}
	# y's rx bytes from z: what y forwards from z to x
	yrx() { Y wg show wg0 transfer | awk -v k="$zk" '$1 == k { print $2 }'; }
	direct yes || fail "mesh: x never linked z directly"
	X wg show wg0 endpoints | grep "^$zk" | grep -q '198\.18\.3\.3:51820' || fail "mesh: x's endpoint for z"
	X ping -c 2 -W 5 10.8.0.3 >/dev/null || fail "mesh: ping x -> z, direct"
	r0=$(yrx)
	X ping -c 5 -i 0.2 -W 5 10.8.0.3 >/dev/null || fail "mesh: ping x -> z, direct (2)"
	[ "$(yrx)" -lt $((r0 + 5 * 84)) ] || fail "mesh: the direct traffic went through y"
	ok "el-facts | el-trust | el-link on kernel links: x learns z through y and links directly"
	X ip link set vxz down
	direct no || fail "mesh: z's address stayed on the dead direct link"
	r0=$(yrx)
	for _ in $(seq 20); do X ping -c 1 -W 1 10.8.0.3 >/dev/null && break; done
	X ping -c 3 -W 5 10.8.0.3 >/dev/null || fail "mesh: ping x -> z through y"
	[ "$(yrx)" -gt $((r0 + 3 * 84)) ] || fail "mesh: the traffic did not go through y"
	ok "mesh: direct path down, x's traffic to z goes through y again"
	X ip link set vxz up
	direct yes || fail "mesh: x never found z directly again"
	for _ in $(seq 20); do X ping -c 1 -W 1 10.8.0.3 >/dev/null && break; done
	r0=$(yrx)
	X ping -c 5 -i 0.2 -W 5 10.8.0.3 >/dev/null || fail "mesh: ping x -> z, direct again"
	[ "$(yrx)" -lt $((r0 + 5 * 84)) ] || fail "mesh: after recovery the traffic still went through y"
	ok "mesh: direct path back, direct traffic again"
	for n in x y z; do
		for p in $(ip netns pids $n); do kill "$p" 2>/dev/null || true; done
	done
	sleep 0.5
	for n in x y z; do ip netns exec $n el-link down wg0 || fail "mesh: down in $n"; done
	! grep -i 'sanitizer\|failed' /tmp/x.mesh /tmp/z.mesh || fail "mesh: errors in the pipelines"
fi

# el-punch on a kernel WireGuard port: the kernel's socket owns 51820, and
# el-punch still asks coturn from that port (raw sockets) and gets the
# address and port the server saw.
if command -v el-punch >/dev/null && command -v turnserver >/dev/null; then
	ip netns add p
	ip netns add q
	ip -n p link set lo up
	ip -n q link set lo up
	ip link add vp netns p type veth peer name vq netns q
	ip -n p addr add 192.168.88.1/24 dev vp
	ip -n p link set vp up
	ip -n q addr add 192.168.88.2/24 dev vq
	ip -n q link set vq up
	ip netns exec q turnserver -n --listening-ip 192.168.88.2 --listening-port 3478 --stun-only \
		--no-cli --no-tls --no-dtls --log-file /tmp/turn.log --simple-log >/dev/null 2>&1 &
	el-keygen --out /tmp/p.json
	jq -c '{type:"iface", private_key, listen_port:51820}' /tmp/p.json |
		ip netns exec p el-link up wgp || fail "punch: el-link up wgp"
	ip netns exec p ip -d link show wgp | grep -q wireguard || fail "punch: wgp is not a kernel link"
	got=''
	for _ in $(seq 30); do
		got=$(ip netns exec p el-punch stun wgp --server 192.168.88.2 --timeout 1 -q) && break
		sleep 0.2
	done
	echo "$got" | jq -e --arg k "$(pub p)" '.subject == $k and .value == "192.168.88.1:51820"' \
		>/dev/null || { echo "got: $got"; cat /tmp/turn.log; fail "punch: el-punch stun on a kernel port"; }
	ip netns exec p wg show wgp listen-port | grep -qx 51820 || fail "punch: the kernel lost its port"
	ok "el-punch stun from a kernel WireGuard port: coturn saw 192.168.88.1:51820"
	for n in p q; do
		for pid in $(ip netns pids $n); do kill "$pid" 2>/dev/null || true; done
	done
	ip netns exec p el-link down wgp || fail "punch: down wgp"
fi

