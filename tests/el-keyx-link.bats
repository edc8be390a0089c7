#!/usr/bin/env bats
# The whole EdgeLink pipeline in two network namespaces (tests/netns.bash):
#   A (destination): el-keygen | el-keyx listen  --token T | el-link up ela0
#   B (source):      el-keygen | el-keyx connect --token T | el-link up elb0
# then traffic through the link. Needs root; skips cleanly otherwise.

load netns

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	need_netns jq
	T=$(mktemp -d)
	TOKEN=$(el-keygen psk --raw)
	netns_up
}

teardown() {
	netns_down
	[ -z "${T:-}" ] || rm -rf "$T"
}

dst() { A sh -c "el-keygen | el-keyx listen --token '$TOKEN' $* | el-link up ela0" 2>> "$T/dst.err" & }
# Started with the destination, the source may find no listener yet: its
# next try comes after a second, not the default 15.
src() { B sh -c "el-keygen | el-keyx connect $UA --token '$TOKEN' --retry-interval 1 $* | el-link up elb0" 2>> "$T/src.err" & }
# Until the destination listens for key exchanges.
wait_listen() {
	for _ in $(seq 100); do
		[ -n "$(A ss -Hltn 'sport = :50777')" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "the pipelines link two hosts: ping and TCP both ways" {
	dst
	src
	ping_until "$NSB" 10.0.0.1 60
	B ping -c3 -i0.2 -W1 -n 10.0.0.1
	A ping -c3 -i0.2 -W1 -n 10.0.0.2
	B el-link show elb0 | jq -e '.state == "connected" and .endpoint == "198.18.0.1:51820"'
	if command -v iperf3 >/dev/null; then
		A iperf3 -s -1 -B 10.0.0.1 > /dev/null 2>&1 &
		sleep 0.3
		B iperf3 -c 10.0.0.1 -t 1 -J | jq -e '.end.sum_received.bytes > 100000'
		B iperf3 -s -1 -B 10.0.0.2 > /dev/null 2>&1 &
		sleep 0.3
		A iperf3 -c 10.0.0.2 -t 1 -J | jq -e '.end.sum_received.bytes > 100000'
	fi
	grep -q "authenticated by the token" "$T/src.err"
}

@test "the source started first keeps retrying and links when the destination comes up" {
	src --timeout 1
	sleep 2.5
	dst
	ping_until "$NSB" 10.0.0.1 60 || { cat "$T/src.err" "$T/dst.err"; false; }
	grep -q "attempt 2" "$T/src.err"
}

@test "a wrong token: no link, exit 1 and a clear message on the source" {
	dst
	wait_listen
	run B sh -c "el-keyx connect $UA --token $(el-keygen psk --raw) --attempts 1 < /dev/null"
	[ "$status" -eq 1 ]
	[[ "$output" == *"did not prove it holds the token"* ]]
	# the destination's device is up (el-link waits for records) but has no peer
	[ -z "$(A wg show ela0 peers)" ]
}

@test "restarting both sides from their state files relinks with no exchange" {
	A sh -c "el-keygen | el-keyx listen --token '$TOKEN' --state $T/a.state | el-link up ela0" 2>/dev/null &
	B sh -c "el-keygen | el-keyx connect $UA --token '$TOKEN' --retry-interval 1 --state $T/b.state | el-link up elb0" 2>/dev/null &
	ping_until "$NSB" 10.0.0.1 60
	A el-link down ela0
	B el-link down elb0
	# nobody listens on 50777 now: only the state files can bring it back
	A sh -c "el-keyx listen --state $T/a.state < /dev/null | el-link up ela0 --daemon"
	B sh -c "el-keyx connect $UA --state $T/b.state --attempts 1 < /dev/null | el-link up elb0 --daemon"
	ping_until "$NSB" 10.0.0.1 40
	A ping -c2 -i0.2 -W1 -n 10.0.0.2
}

@test "the systemd unit's command line links two hosts from its environment files" {
	unit="$BATS_TEST_DIRNAME/../share/systemd/edgelink@.service"
	exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$exec_start" ]
	el-keygen psk --raw --out "$T/token"
	for side in a b; do el-keygen --out "$T/$side.key"; done
	printf 'EL_KEYX_ROLE=listen\nEL_KEYX_KEY=%s\nEL_KEYX_TOKEN_FILE=%s\nEL_KEYX_STATE=%s\n' \
		"$T/a.key" "$T/token" "$T/a.state" > "$T/ela0.env"
	printf 'EL_KEYX_ROLE=connect\nEL_KEYX_HOST=%s\nEL_KEYX_KEY=%s\nEL_KEYX_TOKEN_FILE=%s\nEL_KEYX_STATE=%s\nEL_KEYX_RETRY_INTERVAL=1\n' \
		"$UA" "$T/b.key" "$T/token" "$T/b.state" > "$T/elb0.env"
	# as systemd would: the environment file's variables, %i = the instance
	run_unit() { # NS IFACE
		ip netns exec "$1" env $(cat "$T/$2.env") sh -c "${exec_start//%i/$2}" 2>> "$T/$2.err" &
	}
	run_unit "$NSB" elb0
	run_unit "$NSA" ela0
	ping_until "$NSB" 10.0.0.1 60
	[ "$(stat -c %a "$T/a.state")" = 600 ]
	# the key the unit used is the one in the key file
	[ "$(A wg show ela0 public-key)" = "$(jq -r .public_key "$T/a.key")" ]
}

@test "a man-in-the-middle namespace that rewrites the keys: both sides fail, loudly" {
	command -v socat >/dev/null || skip "needs socat"
	# elkM sits between: B reaches it at 198.19.2.1, it reaches A at 198.19.1.1
	ip netns add elkM
	ip link add vMA netns elkM type veth peer name vAM netns "$NSA"
	ip link add vMB netns elkM type veth peer name vBM netns "$NSB"
	ip -n elkM addr add 198.19.1.2/24 dev vMA; ip -n "$NSA" addr add 198.19.1.1/24 dev vAM
	ip -n elkM addr add 198.19.2.1/24 dev vMB; ip -n "$NSB" addr add 198.19.2.2/24 dev vBM
	for l in vMA vMB lo; do ip -n elkM link set $l up; done
	A ip link set vAM up; B ip link set vBM up
	evil=$(el-keygen | jq -r .public_key)
	cat > "$T/mitm.sh" <<EOF2
#!/bin/bash
coproc UP { socat - TCP:198.19.1.1:50777; }
exec 5>&"\${UP[1]}" 6<&"\${UP[0]}"
f='if .public_key then .public_key = "$evil" else . end'
jq --unbuffered -c "\$f" <&0 >&5 &
jq --unbuffered -c "\$f" <&6
EOF2
	chmod +x "$T/mitm.sh"
	dst
	wait_listen
	ip netns exec elkM socat TCP-LISTEN:50777,reuseaddr,fork EXEC:"$T/mitm.sh" &
	for _ in $(seq 100); do [ -n "$(ip netns exec elkM ss -Hltn 'sport = :50777')" ] && break; sleep 0.05; done
	run B sh -c "el-keyx connect 198.19.2.1 --token '$TOKEN' --attempts 1 < /dev/null"
	for p in $(ip netns pids elkM); do kill "$p" 2>/dev/null || true; done
	ip netns del elkM
	[ "$status" -eq 1 ]
	[[ "$output" == *"REFUSED"*"someone in the middle"* ]]
	sleep 0.3
	grep -q "REFUSED" "$T/dst.err"
	[ -z "$(A wg show ela0 peers)" ]
}

@test "the example pipeline share/examples/p2p.sh links two hosts" {
	p2p="$BATS_TEST_DIRNAME/../share/examples/p2p.sh"
	A env IFACE=ela0 EL_KEYX_TOKEN="$TOKEN" "$p2p" listen 2>> "$T/dst.err" &
	B env IFACE=elb0 EL_KEYX_TOKEN="$TOKEN" EL_KEYX_RETRY_INTERVAL=1 "$p2p" connect "$UA" 2>> "$T/src.err" &
	ping_until "$NSB" 10.0.0.1 60
	A ping -c2 -i0.2 -W1 -n 10.0.0.2
}
