#!/usr/bin/env bats
# el-link's userspace WireGuard against Debian's wireguard-go, a peer no one
# here wrote, in two network namespaces (topology in tests/netns.bash).
# Needs root; skips cleanly otherwise.

load netns

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	need_netns wireguard-go wg jq
	T=$(mktemp -d)
	make_keys "$T"
	netns_up
}

teardown() {
	netns_down
	[ -z "${T:-}" ] || rm -rf "$T"
}

# Our side: records on stdin, daemonised once it serves.
ela_up() {
	ela_config "$T" "${1:-}" | A el-link up ela0 --daemon ${EL_TIMERS:+--timers "$EL_TIMERS"}
}

@test "ping both ways over IPv4 and IPv6, handshake started by el-link" {
	ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	A ping -c3 -i0.2 -W1 -n 10.0.0.2
	A ping -c3 -i0.2 -W1 -n fd00::2
	B ping -c3 -i0.2 -W1 -n 10.0.0.1
	B ping -c3 -i0.2 -W1 -n fd00::1
}

@test "handshake started by wireguard-go" {
	ela_up
	wgo_start "$T"
	ping_until "$NSB" 10.0.0.1
	B ping -c3 -i0.2 -W1 -n 10.0.0.1
	A ping -c2 -i0.2 -W1 -n 10.0.0.2
}

@test "TCP both ways (iperf3)" {
	command -v iperf3 >/dev/null || skip "needs iperf3"
	ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	B iperf3 -s -1 -B 10.0.0.2 > /dev/null 2>&1 &
	sleep 0.3
	A iperf3 -c 10.0.0.2 -t 2 -J > "$T/up.json"
	jq -e '.end.sum_received.bytes > 1000000' "$T/up.json"
	A iperf3 -s -1 -B 10.0.0.1 > /dev/null 2>&1 &
	sleep 0.3
	B iperf3 -c 10.0.0.1 -t 2 -J > "$T/down.json"
	jq -e '.end.sum_received.bytes > 1000000' "$T/down.json"
}

@test "wg show, wg showconf and wg set work on our UAPI socket" {
	ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	[ "$(stat -c %a /var/run/wireguard/ela0.sock)" = 700 ]
	A wg show ela0 dump > "$T/dump"
	# interface line: private, public, port; peer line: handshake and transfer
	[ "$(head -1 "$T/dump" | cut -f2)" = "$(cat "$T/a.pub")" ]
	[ "$(head -1 "$T/dump" | cut -f3)" = 51820 ]
	peer=$(sed -n 2p "$T/dump")
	[ "$(echo "$peer" | cut -f1)" = "$(cat "$T/b.pub")" ]
	[ "$(echo "$peer" | cut -f3)" = "$UB:51820" ]
	[ "$(echo "$peer" | cut -f5)" -gt 0 ]   # latest handshake
	[ "$(echo "$peer" | cut -f6)" -gt 0 ]   # received
	[ "$(echo "$peer" | cut -f7)" -gt 0 ]   # sent
	A wg showconf ela0 | grep -q "^PrivateKey = $(cat "$T/a.key")"
	# wg set adds an allowed IP, and we report it
	A wg set ela0 peer "$(cat "$T/b.pub")" allowed-ips 10.0.0.2/32,fd00::2/128,10.9.0.0/16
	A wg show ela0 allowed-ips | grep -q 10.9.0.0/16
	el_show=$(A el-link show ela0)
	echo "$el_show" | jq -e --arg k "$(cat "$T/b.pub")" \
		'.type == "status" and .iface == "ela0" and .public_key == $k and .state == "connected"
		 and .rx_bytes > 0 and .tx_bytes > 0 and (.allowed_ips | index("10.9.0.0/16"))'
}

@test "apply: a bad record changes nothing; a good one changes one peer without a new handshake" {
	ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	hs=$(A wg show ela0 latest-handshakes | cut -f2)
	run A el-link apply ela0 <<EOF2
{"type":"peer","public_key":"$(cat "$T/b.pub")","allowed_ips":["10.7.0.0/16"]}
{"type":"peer","public_key":"$(cat "$T/b.pub")","endpoint":"nonsense"}
EOF2
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 2: endpoint"* ]]
	! A wg show ela0 allowed-ips | grep -q 10.7.0.0/16
	echo "{\"type\":\"peer\",\"public_key\":\"$(cat "$T/b.pub")\",\"allowed_ips\":[\"10.7.0.0/16\"]}" |
		A el-link apply ela0
	A wg show ela0 allowed-ips | grep -q 10.7.0.0/16
	# a route for the new allowed IP, through our interface
	A ip route show 10.7.0.0/16 | grep -q 'dev ela0'
	A ping -c2 -i0.2 -W1 -n 10.0.0.2
	[ "$(A wg show ela0 latest-handshakes | cut -f2)" = "$hs" ]
}

@test "a mismatched preshared key never lets a packet through" {
	el-keygen psk --raw > "$T/psk1"
	el-keygen psk --raw > "$T/psk2"
	ela_up "+ {preshared_key: \"$(cat "$T/psk1")\"}"
	wgo_start "$T" preshared-key "$T/psk2"
	! ping_until "$NSA" 10.0.0.2 6
	! B ping -c3 -i0.2 -W1 -n 10.0.0.1
	[ "$(A cat /sys/class/net/ela0/statistics/rx_packets)" -eq 0 ]
	[ "$(B cat /sys/class/net/wgo0/statistics/rx_packets)" -eq 0 ]
	[ "$(A wg show ela0 latest-handshakes | cut -f2)" = 0 ]
	# and with the same key on both sides it works
	B wg set wgo0 peer "$(cat "$T/a.pub")" preshared-key "$T/psk1"
	ping_until "$NSA" 10.0.0.2
}

@test "wireguard-go restarted mid-stream: the link recovers" {
	EL_TIMERS=keepalive_timeout=1,rekey_timeout=1 ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	for p in $(ip netns pids "$NSB"); do kill "$p"; done
	# until the old process is gone: it holds UDP 51820 to its last breath
	for _ in $(seq 100); do [ -z "$(ip netns pids "$NSB")" ] && break; sleep 0.05; done
	wgo_start "$T"
	# our session is stale for the new wireguard-go; data without an
	# answer makes us start a new handshake
	ping_until "$NSA" 10.0.0.2 40
	A ping -c3 -i0.2 -W1 -n 10.0.0.2
}

@test "rekey: with shortened timers a new handshake replaces the session, traffic goes on" {
	EL_TIMERS=rekey_after_time=2,keepalive_timeout=1,rekey_timeout=1 ela_up
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	hs1=$(A wg show ela0 latest-handshakes | cut -f2)
	A ping -c 16 -i 0.25 -W1 -n 10.0.0.2 > "$T/ping"
	hs2=$(A wg show ela0 latest-handshakes | cut -f2)
	[ "$hs2" -gt "$hs1" ]
	# no more than a packet lost across the rekey
	grep -Eq ' (1[56]) received' "$T/ping"
}

@test "el-link down stops the device and removes its interface and socket" {
	ela_up
	[ -S /var/run/wireguard/ela0.sock ]
	A ip link show ela0
	A el-link down ela0
	[ ! -e /var/run/wireguard/ela0.sock ]
	! A ip link show ela0 2>/dev/null
	run A el-link show ela0
	[ "$status" -eq 1 ]
}

@test "removing the socket file stops the device; a second up of one name is refused" {
	ela_up
	run A el-link up ela0 < /dev/null
	[ "$status" -eq 111 ]
	[[ "$output" == *"already running"* ]]
	rm /var/run/wireguard/ela0.sock
	for _ in $(seq 40); do A ip link show ela0 >/dev/null 2>&1 || break; sleep 0.1; done
	! A ip link show ela0 2>/dev/null
}

@test "up --daemon with a bad record exits 100 and leaves no device" {
	run sh -c "{ printf '%s\n' '{\"type\":\"iface\",\"listen_port\":51820}' '{\"type\":\"peer\",\"public_key\":\"short\"}'; } |
		ip netns exec $NSA el-link up ela0 --daemon"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 2: public_key: not a key"* ]]
	! A ip link show ela0 2>/dev/null
	[ ! -e /var/run/wireguard/ela0.sock ]
}

@test "tshark's WireGuard dissector reads our packets as valid handshakes and data" {
	command -v tshark >/dev/null || skip "needs tshark"
	ela_up
	A timeout 20 tshark -i veA -f 'udp port 51820' -c 8 -w "$T/cap.pcapng" > /dev/null 2>&1 &
	cap=$!
	sleep 1.5
	wgo_start "$T"
	A ping -c4 -i0.2 -W1 -n 10.0.0.2 || true
	wait "$cap" || true
	tshark -r "$T/cap.pcapng" -d udp.port==51820,wg -T fields -e wg.type -e ip.src > "$T/types"
	cat "$T/types"
	# our initiation (1) from A, wireguard-go's response (2), data (4) from us
	grep -Pq "^1\t$UA" "$T/types"
	grep -Pq "^2\t$UB" "$T/types"
	grep -Pq "^4\t$UA" "$T/types"
	# no malformed packets
	! tshark -r "$T/cap.pcapng" -d udp.port==51820,wg 2>/dev/null | grep -qi malformed
}

@test "IPv6 outside the tunnel, and link-local addresses derived from keys inside it" {
	A ip addr add fd01::1/64 dev veA nodad
	B ip addr add fd01::2/64 dev veB nodad
	lla=$(el-keygen addr --ll "$(cat "$T/a.pub")" --raw)
	llb=$(el-keygen addr --ll "$(cat "$T/b.pub")" --raw)
	{
		jq -c --arg ll "$lla/64" '{type:"iface", private_key, listen_port:51820,
			addresses:["10.0.0.1/24", $ll]}' "$T/a.json"
		jq -nc --arg k "$(cat "$T/b.pub")" --arg ll "$llb/128" \
			'{type:"peer", public_key:$k, endpoint:"[fd01::2]:51820",
			  allowed_ips:["10.0.0.2/32", $ll]}'
	} | A el-link up ela0 --daemon
	B env WG_PROCESS_FOREGROUND=1 wireguard-go -f wgo0 > "$T/wgo.log" 2>&1 &
	for _ in $(seq 100); do B wg show wgo0 >/dev/null 2>&1 && break; sleep 0.05; done
	B wg set wgo0 listen-port 51820 private-key "$T/b.key" \
		peer "$(cat "$T/a.pub")" endpoint "[fd01::1]:51820" allowed-ips "10.0.0.1/32,$lla/128"
	B ip addr add 10.0.0.2/24 dev wgo0
	B ip link set wgo0 up
	# the kernel gave wgo0 a random fe80:: address; only the derived one
	# is in our allowed IPs
	B ip -6 addr flush dev wgo0 scope link
	B ip addr add "$llb/64" dev wgo0 nodad
	ping_until "$NSA" 10.0.0.2
	A ping -c3 -i0.2 -W1 -n "$llb%ela0"
	B ping -c3 -i0.2 -W1 -n "$lla%wgo0"
	# ours never had a random one
	[ "$(A ip -6 -o addr show dev ela0 scope link | wc -l)" -eq 1 ]
	# the handshake went over IPv6
	B wg show wgo0 endpoints | grep -q '\[fd01::1\]:51820'
	A el-link show ela0 | jq -e '.endpoint == "[fd01::2]:51820"'
}

@test "stands in for wireguard-go under wg-quick" {
	command -v wg-quick >/dev/null || skip "needs wg-quick"
	mkdir -p "$T/wg"
	cat > "$T/wg/ela0.conf" <<EOF2
[Interface]
PrivateKey = $(cat "$T/a.key")
ListenPort = 51820
Address = 10.0.0.1/24

[Peer]
PublicKey = $(cat "$T/b.pub")
Endpoint = $UB:51820
AllowedIPs = 10.0.0.2/32, 10.5.0.0/16
EOF2
	chmod 600 "$T/wg/ela0.conf"
	# wg-quick tries the kernel first, then runs the userspace implementation
	# with the interface name as its only argument and expects it to return
	A env WG_QUICK_USERSPACE_IMPLEMENTATION="$BATS_TEST_DIRNAME/../share/examples/el-link-userspace" \
		wg-quick up "$T/wg/ela0.conf"
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	A ip route show 10.5.0.0/16 | grep -q 'dev ela0'
	A wg-quick down "$T/wg/ela0.conf"
	! A ip link show ela0 2>/dev/null
}

@test "status: connecting while nothing was sent, error while we send into silence, connected after" {
	# initiations every second instead of every five
	EL_TIMERS=rekey_timeout=1 ela_up
	A el-link show ela0 | jq -e '.state == "connecting" and .last_handshake == 0'
	# wireguard-go is not there yet: our initiations go out, nothing comes back
	A ping -c 30 -i 0.2 -W1 -n 10.0.0.2 > /dev/null 2>&1 &
	sleep 1
	A el-link show ela0 --sample 1.5 | jq -e '.state == "error" and .tx_bytes > 0 and .rx_bytes == 0'
	A el-link show ela0 --prometheus --sample 1 | grep -q 'status="error"'
	wgo_start "$T"
	ping_until "$NSA" 10.0.0.2
	A el-link show ela0 --sample 0.5 | jq -e '.state == "connected"'
	A el-link show ela0 --prometheus | grep -q 'status="connected"'
}

@test "routes follow allowed IPs: replaced and removed peers take their routes with them" {
	ela_up
	k=$(cat "$T/b.pub")
	echo "{\"type\":\"peer\",\"public_key\":\"$k\",\"allowed_ips\":[\"10.7.0.0/16\",\"10.8.0.0/16\"]}" |
		A el-link apply ela0
	A ip route show 10.7.0.0/16 | grep -q 'dev ela0'
	A ip route show 10.8.0.0/16 | grep -q 'dev ela0'
	echo "{\"type\":\"peer\",\"public_key\":\"$k\",\"replace_allowed_ips\":true,\"allowed_ips\":[\"10.0.0.2/32\",\"10.8.0.0/16\"]}" |
		A el-link apply ela0
	[ -z "$(A ip route show 10.7.0.0/16)" ]
	A ip route show 10.8.0.0/16 | grep -q 'dev ela0'
	echo "{\"type\":\"peer\",\"public_key\":\"$k\",\"remove\":true}" | A el-link apply ela0
	[ -z "$(A ip route show 10.8.0.0/16)" ]
	[ -z "$(A wg show ela0 peers)" ]
	# records on up's own stdin do the same
	{ jq -c '{type:"iface", private_key, listen_port:51821}' "$T/b.json"
	  echo "{\"type\":\"peer\",\"public_key\":\"$(cat "$T/a.pub")\",\"allowed_ips\":[\"10.6.0.0/16\"]}"
	  sleep 0.5
	  echo "{\"type\":\"peer\",\"public_key\":\"$(cat "$T/a.pub")\",\"remove\":true}"
	  sleep 0.5; } | B el-link up elb0 &
	for _ in $(seq 20); do [ -n "$(B ip route show 10.6.0.0/16)" ] && break; sleep 0.05; done
	B ip route show 10.6.0.0/16 | grep -q 'dev elb0'
	sleep 0.8
	[ -z "$(B ip route show 10.6.0.0/16)" ]
}

@test "a handshake flood from 100 sources: cookies answer it, rate limited, and the real peer gets through" {
	flood=${ELK_BUILD:-$BATS_TEST_DIRNAME/../build/rel}/tests/tools/wg-flood
	[ -x "$flood" ] || skip "wg-flood not built (make units)"
	ela_config "$T" | A el-link up ela0 --daemon --under-load 50
	srcs=()
	for i in $(seq 100 199); do
		B ip addr add "198.18.0.$i/24" dev veB
		srcs+=("198.18.0.$i")
	done
	# the flood first, then the real peer starts while it is on
	B "$flood" "$UA" 51820 "$(cat "$T/a.pub")" 30000 "${srcs[@]}" > "$T/flood.json" &
	fl=$!
	sleep 0.3
	wgo_start "$T"
	ping_until "$NSB" 10.0.0.1 60
	wait "$fl"
	cat "$T/flood.json"
	# cookies kicked in; each source was answered at most at the handshake
	# rate limit (20 a second after a burst of 5, for the flood's duration
	# plus the second it listened), far fewer times than it sent; and no
	# junk initiation got a handshake response
	jq -e '.sent > 20000 and .cookie_replies > 100 and .other_replies == 0
		and .cookie_replies <= .sources * (5 + 20 * (.seconds + 1.5))
		and .cookie_replies < .sent / 2' "$T/flood.json"
	# the real peer completed a handshake and traffic flows
	[ "$(B wg show wgo0 latest-handshakes | cut -f2)" -gt 0 ]
	B ping -c3 -i0.2 -W1 -n 10.0.0.1
}
