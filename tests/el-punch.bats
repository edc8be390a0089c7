#!/usr/bin/env bats
# el-punch: the public endpoint of a WireGuard port through a real NAT
# (nftables masquerade in a namespace), asked of a real STUN server
# (coturn's turnserver), checked against what a real peer (Debian's
# wireguard-go) sees; then two nodes behind two NATs that know only a
# public router get a direct link (the mesh pipeline with el-punch).
#
#   elpA 10.55.1.2 -- 10.55.1.1 elpN1 198.18.101.2 --+
#                                                    198.18.101.1 elpS 198.18.102.1
#   elpC 10.55.2.2 -- 10.55.2.1 elpN2 198.18.102.2 --+   (routes; coturn on :3478
#                                                         and :3479; WireGuard :51820)
#   tunnel: A 10.66.0.2, S 10.66.0.1 (routes 10.66.0.0/24), C 10.66.0.3
# Needs root; skips cleanly otherwise.

load netns   # ns_del; EL_LINK_BACKEND=userspace
NSES="elpA elpC elpN1 elpN2 elpS"

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, raw sockets)"
	[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
	for c in ip jq nft turnserver; do command -v $c >/dev/null || skip "needs $c"; done
	T=$(mktemp -d)
	for s in a c s; do el-keygen --out "$T/$s.json"; jq -r .public_key "$T/$s.json" > "$T/$s.pub"; done
	unset EL_PUNCH_SERVERS EL_PUNCH_TIMEOUT EL_PUNCH_TTL EL_PUNCH_EVERY
	down
}

teardown() {
	down
	[ -z "${T:-}" ] || rm -rf "$T"
}

down() {
	ns_del $NSES
	rm -f /var/run/wireguard/epa0.sock /var/run/wireguard/epc0.sock \
		/var/run/wireguard/eps0.sock /var/run/wireguard/wgs0.sock
}

A() { ip netns exec elpA "$@"; }
C() { ip netns exec elpC "$@"; }
S() { ip netns exec elpS "$@"; }

# nat NS OUTSIDE-IF [random]: a home router. It masquerades what leaves
# through OUTSIDE-IF (with random, a new source port per mapping: a NAT
# that maps per destination, as "symmetric" NATs do) and, like any router,
# drops unsolicited packets to itself. (Without that firewall, an early
# packet from the other side would leave a conntrack entry that takes the
# port the punch needs, and the NAT would pick another.)
nat() {
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$1" nft -f - <<-EOF
	table ip nat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "$2" masquerade ${3:-}
		}
	}
	table inet filter {
		chain input {
			type filter hook input priority filter; policy drop;
			ct state established,related accept
			iifname "lo" accept
		}
	}
	EOF
}

# lab [random]: the namespaces above, NATs and the STUN server.
lab() {
	for ns in $NSES; do ip netns add $ns || skip "cannot create network namespaces"; \
		ip -n $ns link set lo up; done
	veth elpA va 10.55.1.2 elpN1 vna 10.55.1.1
	veth elpN1 vns 198.18.101.2 elpS vsn 198.18.101.1
	veth elpC vc 10.55.2.2 elpN2 vnc 10.55.2.1
	veth elpN2 vns 198.18.102.2 elpS vsm 198.18.102.1
	A ip route add default via 10.55.1.1
	C ip route add default via 10.55.2.1
	ip -n elpN1 route add default via 198.18.101.1
	ip -n elpN2 route add default via 198.18.102.1
	S sysctl -qw net.ipv4.ip_forward=1
	nat elpN1 vns "${1:-}"
	nat elpN2 vns "${1:-}"
	for port in 3478 3479; do
		S turnserver -n --listening-ip 198.18.101.1 --listening-port $port --stun-only \
			--no-cli --no-tls --no-dtls --log-file "$T/turn$port.log" --simple-log \
			--pidfile "$T/turn$port.pid" > /dev/null 2>&1 &
	done
	# until coturn answers (from S itself, no NAT in the way)
	for _ in $(seq 50); do
		S el-punch stun lo --port 4000 --self "$(cat "$T/s.pub")" -q --timeout 0.2 \
			--server 198.18.101.1:3479 > /dev/null && return 0
	done
	echo "coturn did not start:" >&2; cat "$T"/turn*.log >&2
	return 1
}

@test "stun: the NAT's public address and port for the WireGuard port, as the peer sees it" {
	command -v wireguard-go >/dev/null && command -v wg >/dev/null || skip "needs wireguard-go and wg"
	lab
	# S: Debian's wireguard-go, knowing A's key but not where A is.
	S env WG_PROCESS_FOREGROUND=1 wireguard-go wgs0 > "$T/wggo.log" 2>&1 &
	for _ in $(seq 50); do [ -S /var/run/wireguard/wgs0.sock ] && break; sleep 0.1; done
	jq -r .private_key "$T/s.json" > "$T/s.key"
	S wg set wgs0 listen-port 51820 private-key "$T/s.key" peer "$(cat "$T/a.pub")" allowed-ips 10.66.0.2/32
	S ip addr add 10.66.0.1/24 dev wgs0
	S ip link set wgs0 up
	el_up elpA epa0 a 10.66.0.2/24 "$(el_peer s 198.18.101.1:51820 10.66.0.1/32)"

	run A el-punch stun epa0 --server 198.18.101.1
	[ "$status" -eq 0 ]
	printf '%s\n' "$output"
	fact=$(printf '%s\n' "$output" | grep '^{')
	# one fact about A: the NAT's outside address, never A's own 10.55.1.2
	printf '%s\n' "$fact" | jq -e --arg a "$(cat "$T/a.pub")" \
		'.type == "fact" and .subject == $a and .attribute == "endpoint" and .ttl == 255 and
		 (.value | test("^198\\.18\\.101\\.2:[0-9]+$"))'
	[ "$(printf '%s\n' "$fact" | wc -l)" -eq 1 ]
	[[ "$output" == *"198.18.101.1: port 51820 leaves as 198.18.101.2:"* ]]
	# WireGuard's own packets leave through the same mapping: the peer
	# sees A's handshake come from exactly that endpoint.
	A ping -c1 -W3 10.66.0.1 >/dev/null || A ping -c2 -W3 10.66.0.1
	[ "$(S wg show wgs0 endpoints | awk '{print $2}')" = "$(printf '%s\n' "$fact" | jq -r .value)" ]
	# two servers, one mapping: one fact; options from the environment
	EL_PUNCH_SERVERS="198.18.101.1:3478,198.18.101.1:3479" EL_PUNCH_TTL=60 \
		A el-punch stun epa0 -q > "$T/two"
	[ "$(wc -l < "$T/two")" -eq 1 ]
	jq -e --argjson f "$fact" '.value == $f.value and .ttl == 60' "$T/two"
	# the fact is what el-facts gossip takes on stdin (announced, not refused)
	# (ended by teardown)
	A el-facts gossip epa0 < "$T/two" > /dev/null 2> "$T/gossip.err" &
	sleep 1
	! grep -q 'input line' "$T/gossip.err"
}

@test "stun: a NAT that maps per destination shows as two answers and a warning" {
	lab random
	el_up elpA epa0 a 10.66.0.2/24
	run A el-punch stun epa0 --server 198.18.101.1:3478 --server 198.18.101.1:3479
	[ "$status" -eq 0 ]
	printf '%s\n' "$output"
	[ "$(printf '%s\n' "$output" | grep -c '^{')" -eq 2 ]
	[[ "$output" == *"servers see different ports: the NAT maps per destination"* ]]
}

@test "stun: no answer is 1, bad usage 100, no raw socket 111; nothing on stdout then" {
	lab
	k=$(cat "$T/a.pub")
	# a server that does not answer: 1, within the timeout
	start=$(date +%s%N)
	run A el-punch stun lo --port 51820 --self "$k" --server 198.18.101.1:3999 --timeout 0.6
	[ "$status" -eq 1 ]
	[[ "$output" == *"198.18.101.1:3999: no answer in 0.6 s"* ]]
	[[ "$output" != *'{'* ]]
	[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]
	run el-punch stun epa0
	[ "$status" -eq 100 ]
	[[ "$output" == *"give a STUN server"* ]]
	run el-punch stun epa0 --server 'x:y:z:99999'
	[ "$status" -eq 100 ]
	run el-punch stun epa0 --server 192.0.2.1 --timeout 0
	[ "$status" -eq 100 ]
	run el-punch punch epa0
	[ "$status" -eq 100 ]
	run el-punch stun lo --self nope --port 1 --server 192.0.2.1
	[ "$status" -eq 100 ]
	# no device: 111, and how to do without it
	run A el-punch stun epx0 --server 198.18.101.1
	[ "$status" -eq 111 ]
	[[ "$output" == *"--port and --self"* ]]
	# without CAP_NET_RAW: 111 saying so
	command -v setpriv >/dev/null || skip "needs setpriv"
	run A setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$BATS_TEST_DIRNAME/../bin/el-punch" stun lo --port 51820 --self "$k" --server 198.18.101.1
	[ "$status" -eq 111 ]
	[[ "$output" == *"CAP_NET_RAW"* ]]
}

@test "stun --every: a mapping that changes is announced, and the old one withdrawn (ttl 0)" {
	lab
	el_up elpA epa0 a 10.66.0.2/24
	# The NAT forgets idle mappings after a second; then it maps from
	# another public address.
	ip netns exec elpN1 sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1 \
		net.netfilter.nf_conntrack_udp_timeout_stream=1
	A el-punch stun epa0 --server 198.18.101.1 --every 3 --timeout 1 > "$T/out" 2> "$T/err" &
	for _ in $(seq 50); do [ -s "$T/out" ] && break; sleep 0.1; done
	ip -n elpN1 addr add 198.18.101.3/24 dev vns
	ip netns exec elpN1 nft flush chain ip nat post
	ip netns exec elpN1 nft add rule ip nat post oifname vns snat to 198.18.101.3
	for _ in $(seq 100); do grep -q '"ttl":0' "$T/out" && break; sleep 0.1; done
	cat "$T/out" "$T/err"
	jq -se '.[0].value == "198.18.101.2:51820" and .[0].ttl == 255' "$T/out"
	jq -se 'map(select(.value == "198.18.101.3:51820" and .ttl == 255)) | length >= 1' "$T/out"
	jq -se 'map(select(.ttl == 0)) == [.[0] | .ttl = 0]' "$T/out"
	grep -q '198.18.101.2:51820 no longer: withdrawn' "$T/err"
}

@test "two nodes behind two NATs, knowing only a public router, link directly" {
	command -v wg >/dev/null || skip "needs wg"
	lab
	# S is the router everybody knows: 10.66.0.0/24 goes through it.
	S sysctl -qw net.ipv4.conf.all.send_redirects=0
	el_up elpS eps0 s 10.66.0.1/24 "$(el_peer a - 10.66.0.2/32)" "$(el_peer c - 10.66.0.3/32)"
	el_up elpA epa0 a 10.66.0.2/24 "$(el_peer s 198.18.101.1:51820 10.66.0.0/24)"
	el_up elpC epc0 c 10.66.0.3/24 "$(el_peer s 198.18.102.1:51820 10.66.0.0/24)"
	export EL_FACTS_CYCLE=1 EL_FACTS_ALIVE=2 EL_FACTS_TTL=20 EL_TRUST_STALE=5 EL_TRUST_TRY=2
	S el-facts gossip eps0 --no-stdin --relay > /dev/null 2> "$T/s.err" &
	# the mesh pipeline, with el-punch telling our public endpoint
	for n in A:epa0 C:epc0; do
		ip netns exec "elp${n%%:*}" env EL_PUNCH_SERVERS=198.18.101.1 EL_PUNCH_EVERY=5 \
			EL_TRUST_EXPLAIN=1 "$BATS_TEST_DIRNAME/../share/examples/mesh.sh" "${n#*:}" \
			> "$T/${n#*:}.mesh" 2>&1 &
	done
	c=$(cat "$T/c.pub")
	for _ in $(seq 400); do
		A wg show epa0 allowed-ips | grep "^$c" | grep -q 10.66.0.3/32 && break
		sleep 0.1
	done
	A wg show epa0; cat "$T/epa0.mesh"
	A wg show epa0 allowed-ips | grep "^$c" | grep -q 10.66.0.3/32
	# A reaches C at C's NAT's public address (its own 10.55.2.2 is
	# unreachable from A): the holes are punched
	A wg show epa0 endpoints | grep "^$c" | grep -q '198\.18\.102\.2:'
	grep -q 'port 51820 leaves as 198.18.101.2:' "$T/epa0.mesh"
	for _ in $(seq 20); do A ping -c1 -W1 10.66.0.3 >/dev/null && break; done
	# direct: S forwards none of it
	rx_s=$(rx elpS eps0 c)
	A ping -c5 -i0.2 -W2 10.66.0.3
	[ "$(rx elpS eps0 c)" -lt $((rx_s + 5 * 84)) ]
	! grep -i 'sanitizer\|failed' "$T/epa0.mesh" "$T/epc0.mesh"
}
