#!/usr/bin/env bats
# el-facts local and gossip between el-link userspace devices in network
# namespaces (issue 5's proof). Own names (elfA/elfB/elfC, efa0/efb0/efc0,
# 198.18.1-3.0/24) so this suite cannot collide with tests/netns.bash users.
#
#   elfA vab 198.18.1.1 <--> vba 198.18.1.2 elfB vbc 198.18.2.2 <--> vcb 198.18.2.3 elfC
#   elfA vac 198.18.3.1 <-------------------------------------------> vca 198.18.3.3 elfC
#   tunnel: efa0 10.77.0.1   efb0 10.77.0.2 (routes)   efc0 10.77.0.3
# Needs root; skips cleanly otherwise.

load netns   # ns_del; EL_LINK_BACKEND=userspace
# Short timing so a test runs in seconds.
export EL_FACTS_CYCLE=1 EL_FACTS_ALIVE=2 EL_FACTS_TTL=20
NSES="elfA elfB elfC"

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
	[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
	for c in ip jq; do command -v $c >/dev/null || skip "needs $c"; done
	T=$(mktemp -d)
	for s in a b c; do el-keygen --out "$T/$s.json"; done
	for s in a b c; do jq -r .public_key "$T/$s.json" > "$T/$s.pub"; done
	down
}

teardown() {
	down
	[ -z "${T:-}" ] || rm -rf "$T"
}

A() { ip netns exec elfA "$@"; }
B() { ip netns exec elfB "$@"; }
C() { ip netns exec elfC "$@"; }

down() {
	ns_del $NSES
	rm -f /var/run/wireguard/efa0.sock /var/run/wireguard/efb0.sock /var/run/wireguard/efc0.sock
}

underlay() {
	for ns in $NSES; do ip netns add $ns || skip "cannot create network namespaces"; \
		ip -n $ns link set lo up; done
	veth elfA vab 198.18.1.1 elfB vba 198.18.1.2
	veth elfB vbc 198.18.2.2 elfC vcb 198.18.2.3
	veth elfA vac 198.18.3.1 elfC vca 198.18.3.3
}

two() {
	underlay
	el_up elfA efa0 a 10.77.0.1/24 "$(el_peer b 198.18.1.2:51820 10.77.0.2/32)"
	el_up elfB efb0 b 10.77.0.2/24 "$(el_peer a 198.18.1.1:51820 10.77.0.1/32)"
}

# A and C each know only B, which routes (forwards) 10.77.0.0/24. A and C
# share a veth too, but neither knows the other's key or that address:
# they learn both through B.
three() {
	underlay
	B sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0
	el_up elfA efa0 a 10.77.0.1/24 "$(el_peer b 198.18.1.2:51820 10.77.0.0/24)"
	el_up elfB efb0 b 10.77.0.2/24 "$(el_peer a 198.18.1.1:51820 10.77.0.1/32)" \
		"$(el_peer c 198.18.2.3:51820 10.77.0.3/32)"
	el_up elfC efc0 c 10.77.0.3/24 "$(el_peer b 198.18.2.2:51820 10.77.0.0/24)"
}

# wait_for FILE JQ-FILTER [tries]: until some line of FILE matches.
wait_for() {
	local f=$1 q=$2 n=${3:-100}
	for _ in $(seq "$n"); do
		[ -s "$f" ] && jq -e "select($q)" "$f" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "no line of $f matches $q:" >&2; cat "$f" >&2
	return 1
}

ll() { el-keygen addr --ll "$(cat "$T/$1.pub")" | jq -r .address; }

@test "local: endpoints of non-WireGuard interfaces, alive, peers' allowed IPs, --route" {
	two
	run A el-facts local efa0 --route 10.99.0.0/16
	[ "$status" = 0 ]
	echo "$output"
	a=$(cat "$T/a.pub") b=$(cat "$T/b.pub")
	echo "$output" | jq -se --arg a "$a" --arg b "$b" '
		(map(select(.attribute=="endpoint" and .subject==$a) | .value) | sort) ==
			["198.18.1.1:51820","198.18.3.1:51820"] and
		(map(select(.attribute=="alive" and .subject==$a)) | length) == 1 and
		(map(select(.attribute=="alive"))[0].value | test("^[0-9a-f]{32}$")) and
		any(.[]; .attribute=="allowed_ip" and .subject==$b and .value=="10.77.0.2/32") and
		any(.[]; .attribute=="allowed_ip" and .subject==$a and .value=="10.99.0.0/16") and
		all(.[]; .ttl == 20) and
		all(.[]; .value != "10.77.0.1:51820")'
	# globs pick interfaces
	A el-facts local efa0 --exclude 'vac*' | jq -se --arg a "$a" \
		'map(select(.attribute=="endpoint" and .subject==$a) | .value) == ["198.18.1.1:51820"]'
	A el-facts local efa0 --include vac | jq -se --arg a "$a" \
		'map(select(.attribute=="endpoint" and .subject==$a) | .value) == ["198.18.3.1:51820"]'
	# a fresh boot id per run
	[ "$(A el-facts local efa0 | jq -r 'select(.attribute=="alive").value')" != \
	  "$(A el-facts local efa0 | jq -r 'select(.attribute=="alive").value')" ]
}

@test "local: a peer's endpoint once its handshake is recent" {
	two
	A ping -c1 -W2 10.77.0.2 >/dev/null || A ping -c2 -W2 10.77.0.2
	B el-facts local efb0 | jq -se --arg a "$(cat "$T/a.pub")" \
		'any(.[]; .attribute=="endpoint" and .subject==$a and .value=="198.18.1.1:51820")'
}

@test "local and gossip: usage errors and a missing device" {
	run el-facts local
	[ "$status" = 100 ]
	run el-facts gossip efx0 --ttl 70000
	[ "$status" = 100 ]
	run el-facts local efx0 --bogus
	[ "$status" = 100 ]
	underlay
	run A el-facts local efx0
	[ "$status" -ne 0 ]
}

@test "gossip: two peers exchange signed facts over link-local addresses" {
	two
	A el-facts gossip efa0 > "$T/a.out" 2> "$T/a.err" < /dev/null &
	gpid=$!
	B el-facts gossip efb0 > "$T/b.out" 2> "$T/b.err" < /dev/null &
	a=$(cat "$T/a.pub") b=$(cat "$T/b.pub")
	wait_for "$T/a.out" ".source==\"$b\" and .subject==\"$b\" and .attribute==\"alive\""
	wait_for "$T/a.out" ".source==\"$b\" and .subject==\"$b\" and .value==\"198.18.1.2:51820\""
	wait_for "$T/b.out" ".source==\"$a\" and .subject==\"$a\" and .attribute==\"alive\""
	wait_for "$T/b.out" ".source==\"$a\" and .subject==\"$a\" and .value==\"198.18.1.1:51820\""
	# never a fact about the recipient itself
	! jq -e --arg a "$a" 'select(.subject==$a)' "$T/a.out" | grep -q .
	# link-local addresses in place: ours on the interface, the peer's in
	# its allowed IPs, and they answer each other
	A ip -6 addr show dev efa0 | grep -q "$(ll a)/64"
	A wg show efa0 allowed-ips | grep -q "$(ll b)/128"
	A ping -c1 -W2 "$(ll b)%efa0"
	B ping -c1 -W2 "$(ll a)%efb0"
	# SIGTERM ends it cleanly: exit 0 (and sanitizers' leak checks run)
	# (ip netns exec forks: signal its child, wait for ip)
	kill -TERM "$(pgrep -P "$gpid" -x el-facts)"
	wait "$gpid"
	! grep -i 'error\|sanitizer' "$T/a.err" "$T/b.err"
}

@test "gossip: facts read on stdin are announced" {
	two
	a=$(cat "$T/a.pub") b=$(cat "$T/b.pub")
	mkfifo "$T/in"
	# (A's key from its file, as a device that hides it would need)
	A el-facts gossip efa0 --key-file "$T/a.json" < "$T/in" > /dev/null 2> "$T/a.err" &
	exec 5> "$T/in"
	B el-facts gossip efb0 > "$T/b.out" 2> "$T/b.err" < /dev/null &
	echo "{\"type\":\"fact\",\"subject\":\"$a\",\"attribute\":\"0x70\",\"value\":\"cafe\",\"ttl\":30}" >&5
	wait_for "$T/b.out" ".source==\"$a\" and .attribute==\"0x70\" and .value==\"cafe\""
	exec 5>&-
}

@test "gossip: a group from the wrong address or with a bad signature is dropped" {
	two
	A el-facts gossip efa0 > "$T/a.out" 2> "$T/a.err" < /dev/null &
	B el-facts gossip efb0 > /dev/null 2>&1 < /dev/null &
	b=$(cat "$T/b.pub")
	wait_for "$T/a.out" ".source==\"$b\""
	# B signs for someone else (its own key as recipient): A cannot verify
	c=$(cat "$T/c.pub")
	echo "{\"type\":\"fact\",\"subject\":\"$c\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.9:1\"}" |
		el-facts encode --key-file "$T/b.json" --peer "$c" --raw > "$T/bad"
	B python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b'efb0')
s.bind(('$(ll b)',0,0,socket.if_nametoindex('efb0')))
s.sendto(open('$T/bad','rb').read(),('$(ll a)',51821,0,socket.if_nametoindex('efb0')))
" || skip "needs python3"
	for _ in $(seq 30); do grep -q dropped "$T/a.err" && break; sleep 0.1; done
	grep -q 'dropped a datagram' "$T/a.err"
	! jq -e 'select(.value=="192.0.2.9:1")' "$T/a.out" | grep -q .
}

# Runs the mesh pipeline of share/examples on a node, in the background.
mesh() {
	local ns=$1 ifc=$2
	ip netns exec "$ns" env EL_TRUST_EXPLAIN=1 \
		"$BATS_TEST_DIRNAME/../share/examples/mesh.sh" "$ifc" > "$T/$ifc.mesh" 2>&1 &
}


# until A's peer C has C's tunnel address (C healthy at A), or not
direct() {
	local want=$1 c; c=$(cat "$T/c.pub")
	for _ in $(seq 300); do
		if A wg show efa0 allowed-ips | grep "^$c" | grep -q 10.77.0.3/32; then
			[ "$want" = yes ] && return 0
		else
			[ "$want" = no ] && return 0
		fi
		sleep 0.1
	done
	A wg show efa0; cat "$T/efa0.mesh"
	return 1
}

@test "three nodes: A learns C through B, links directly, falls back through B and back" {
	command -v wg >/dev/null || skip "needs wg"
	three
	# B relays what A and C say of themselves (their endpoints on the A-C
	# veth included) and tells what it sees; its own trust is by hand.
	B el-facts gossip efb0 --no-stdin --relay > "$T/b.out" 2> "$T/b.err" &
	export EL_TRUST_STALE=5 EL_TRUST_TRY=2
	mesh elfA efa0
	mesh elfC efc0
	c=$(cat "$T/c.pub")
	# A gets C as a peer, tries C's candidate endpoints (the one B sees is
	# unreachable from A), reaches C over the A-C veth; once facts from C
	# arrive over that tunnel, C's tunnel address is routed to C directly.
	direct yes
	A wg show efa0 endpoints | grep "^$c" | grep -q '198\.18\.3\.3:51820'
	C wg show efc0 allowed-ips | grep "^$(cat "$T/a.pub")" | grep -q 10.77.0.1/32
	A ping -c2 -W2 10.77.0.3
	# the traffic goes A<->C directly: B forwards none of it
	rx_b=$(rx elfB efb0 c)
	A ping -c5 -i0.2 -W2 10.77.0.3
	[ "$(rx elfB efb0 c)" -lt $((rx_b + 5 * 84)) ]

	# Block the direct path: within --stale seconds of silence each side
	# withdraws the other's tunnel address, and 10.77.0.0/24 on B carries
	# A's traffic to C again, with no one stepping in.
	A ip link set vac down
	direct no
	rx_b=$(rx elfB efb0 c)
	for _ in $(seq 20); do A ping -c1 -W1 10.77.0.3 >/dev/null && break; done
	A ping -c3 -W2 10.77.0.3
	[ "$(rx elfB efb0 c)" -gt $((rx_b + 3 * 84)) ]
	# C is still A's peer (B still vouches), at its link-local address
	A wg show efa0 allowed-ips | grep "^$c" | grep -q "$(ll c)/128"

	# Unblock: the endpoint rotation finds C again and traffic goes direct.
	A ip link set vac up
	direct yes
	for _ in $(seq 20); do A ping -c1 -W1 10.77.0.3 >/dev/null && break; done
	rx_b=$(rx elfB efb0 c)
	A ping -c5 -i0.2 -W2 10.77.0.3
	[ "$(rx elfB efb0 c)" -lt $((rx_b + 5 * 84)) ]
	! grep -i 'sanitizer\|failed' "$T/efa0.mesh" "$T/efc0.mesh"
}

@test "a fact from an untrusted peer about a new member never reaches the device" {
	two
	a=$(cat "$T/a.pub") b=$(cat "$T/b.pub") c=$(cat "$T/c.pub")
	# B is a plain peer of A (a host /32, no network): trusted for
	# endpoints, not for membership. It claims a new member C.
	# (its stdin stays open, through fd 5, until the end of the test)
	mkfifo "$T/claims"
	B el-facts gossip efb0 < "$T/claims" > /dev/null 2>&1 &
	exec 5> "$T/claims"
	{
		echo "{\"type\":\"fact\",\"subject\":\"$c\",\"attribute\":\"member\",\"value\":null}"
		echo "{\"type\":\"fact\",\"subject\":\"$c\",\"attribute\":\"endpoint\",\"value\":\"198.18.1.9:51820\"}"
		echo "{\"type\":\"fact\",\"subject\":\"$c\",\"attribute\":\"allowed_ip\",\"value\":\"10.77.0.9/32\"}"
	} >&5
	mesh elfA efa0
	for _ in $(seq 100); do
		grep -q "rejected member fact about $c" "$T/efa0.mesh" && break; sleep 0.1
	done
	cat "$T/efa0.mesh"
	grep -q "rejected member fact about $c from $b" "$T/efa0.mesh"
	grep -q "rejected endpoint fact about $c" "$T/efa0.mesh"
	grep -q "rejected allowed_ip fact about $c" "$T/efa0.mesh"
	sleep 1
	! A wg show efa0 peers | grep -qF "$c"
	! A wg show efa0 allowed-ips | grep -q 10.77.0.9
	exec 5>&-
}

@test "el-trust --iface reads the device again: trust follows peers configured meanwhile" {
	two
	a=$(cat "$T/a.pub") b=$(cat "$T/b.pub") c=$(cat "$T/c.pub")
	mkfifo "$T/facts"
	A el-trust --iface efa0 --peers --refresh 1 --stale 0 --explain < "$T/facts" \
		> "$T/out" 2> "$T/err" &
	exec 5> "$T/facts"
	member="{\"type\":\"fact\",\"subject\":\"$c\",\"attribute\":\"member\",\"value\":null,\"ttl\":60,\"source\":\"$b\"}"
	# B is a host peer of A: it may not bring members.
	echo "$member" >&5
	for _ in $(seq 50); do grep -q 'rejected member fact' "$T/err" && break; sleep 0.1; done
	grep -q "rejected member fact about $c from $b (endpoint)" "$T/err"
	# Now B routes a network on A's device (configured by hand, not by
	# el-trust): after the next read it may, and the same fact goes in.
	echo "{\"type\":\"peer\",\"public_key\":\"$b\",\"allowed_ips\":[\"10.77.9.0/24\"]}" | A el-link apply efa0
	sleep 1.5
	echo "$member" >&5
	wait_for "$T/out" ".public_key==\"$c\" and (.remove | not)"
	head -1 "$T/out" | A el-link apply efa0
	A wg show efa0 peers | grep -qF "$c"
	# B removed by hand: C, whom only B vouched for, goes with it.
	echo "{\"type\":\"peer\",\"public_key\":\"$b\",\"remove\":true}" | A el-link apply efa0
	wait_for "$T/out" ".public_key==\"$c\" and .remove" 40
	exec 5>&-
	wait
	[ "$(wc -l < "$T/out")" -eq 2 ]
	# (applied, that leaves A without either)
	tail -1 "$T/out" | A el-link apply efa0
	[ -z "$(A wg show efa0 peers)" ]

	# The plain filter reads the device again too (before judging a fact
	# once --refresh seconds have passed).
	mkfifo "$T/facts2"
	A el-trust --iface efa0 --refresh 1 < "$T/facts2" > "$T/out2" &
	exec 5> "$T/facts2"
	echo "$member" >&5
	echo "{\"type\":\"peer\",\"public_key\":\"$b\",\"allowed_ips\":[\"10.77.9.0/24\"]}" | A el-link apply efa0
	sleep 1.5
	echo "$member" >&5
	exec 5>&-
	wait
	[ "$(cat "$T/out2")" = "$member" ]
}

