#!/usr/bin/env bats
# el-keyx between two processes on loopback: pairing, authentication, a man
# in the middle, retries, busy, state, presets, stdio. No root needed.

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	T=$(mktemp -d)
	# a port of our own per test, so runs do not trip over each other
	P=$((20000 + RANDOM % 20000))
	TOKEN=$(el-keygen psk --raw)
}

teardown() {
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$T"
}

# Waits until something listens on TCP port $1, without connecting: a probe
# connection would be a source to the destination.
wait_port() {
	for _ in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "a pairing with a token: each side gets the other's key and the destination's config" {
	el-keygen > "$T/dk"
	el-keygen > "$T/sk"
	el-keyx listen --port "$P" --token "$TOKEN" < "$T/dk" > "$T/d.out" 2> "$T/d.err" &
	wait_port "$P"
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < "$T/sk" > "$T/s.out" 2> "$T/s.err"
	wait
	cat "$T/d.err" "$T/s.err"
	# destination: iface with its own key and 10.0.0.1/24, peer = the source
	jq -se '.[0].type == "iface" and .[0].addresses == ["10.0.0.1/24"] and .[0].listen_port == 51820
		and .[0].mtu == 1420 and .[1].type == "peer" and .[1].allowed_ips == ["10.0.0.2/32"]
		and .[1].persistent_keepalive_interval == 25 and length == 2' "$T/d.out"
	jq -se '.[0].addresses == ["10.0.0.2/24"] and .[1].allowed_ips == ["10.0.0.1/32"]
		and .[1].endpoint == "127.0.0.1:51820" and length == 2' "$T/s.out"
	# the keys: each side's own private key, the other's public key
	[ "$(jq -sr '.[0].private_key' "$T/d.out")" = "$(jq -r .private_key "$T/dk")" ]
	[ "$(jq -sr '.[1].public_key' "$T/d.out")" = "$(jq -r .public_key "$T/sk")" ]
	[ "$(jq -sr '.[1].public_key' "$T/s.out")" = "$(jq -r .public_key "$T/dk")" ]
	grep -q "authenticated by the token" "$T/s.err"
	grep -q "fingerprint" "$T/d.err"
}

@test "whatever a stranger sends (an HTTP request, binary junk) is refused; the destination goes on" {
	command -v socat >/dev/null || skip "needs socat"
	el-keygen --out "$T/dk"
	el-keygen --out "$T/sk"
	el-keyx listen --port "$P" --token "$TOKEN" < "$T/dk" > "$T/d.out" 2> "$T/d.err" &
	dpid=$!
	wait_port "$P"
	# a port scanner's request, a line of binary, a JSON array, a record of
	# another type: each refused as not el-keyx's, none kills the listener
	printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 2 - "TCP:127.0.0.1:$P" > /dev/null || true
	head -c 300 /dev/urandom | tr -d '\n' | sed 's/$/\n/' |
		socat -t 2 - "TCP:127.0.0.1:$P" > /dev/null || true
	echo '[1,2,3]' | socat -t 2 - "TCP:127.0.0.1:$P" > /dev/null || true
	echo '{"type":"peer","public_key":"x"}' | socat -t 2 - "TCP:127.0.0.1:$P" > /dev/null || true
	kill -0 "$dpid"
	[ "$(grep -c "not el-keyx's" "$T/d.err")" -ge 4 ]
	# and a real source still pairs
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < "$T/sk" > "$T/s.out" 2> "$T/s.err"
	wait "$dpid"
	jq -se 'length == 2 and .[1].type == "peer"' "$T/d.out"
	! grep -qi 'sanitizer\|segmentation' "$T/d.err"
	# the same over --stdio: exit 1, a reason, no crash
	run sh -c "printf 'not json\n' | el-keyx listen --stdio --token '$TOKEN' --out '$T/x'"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not el-keyx's"* ]]
}

@test "a wrong token: the source fails with exit 1 and a clear message; nothing is paired" {
	el-keyx listen --port "$P" --token "$TOKEN" < /dev/null > "$T/d.out" 2> "$T/d.err" &
	wait_port "$P"
	run el-keyx connect "127.0.0.1:$P" --token "$(el-keygen psk --raw)" --attempts 3 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"REFUSED: the destination did not prove it holds the token"* ]]
	# not retried: one attempt only
	[ "$(grep -c 'attempt' <<< "$output")" -eq 1 ]
	sleep 0.3
	# the destination printed its interface at once, but no peer
	jq -se 'map(.type) == ["iface"]' "$T/d.out"
	grep -q "REFUSED" "$T/d.err"
	# the destination still serves the right source afterwards
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < /dev/null > "$T/s.out" 2>/dev/null
	wait
	jq -se 'length == 2' "$T/d.out"
}

# A relay that rewrites every public key to the attacker's, both ways.
mitm() {
	cat > "$T/mitm.sh" <<EOF2
#!/bin/bash
coproc UP { socat - TCP:127.0.0.1:$1; }
# coproc descriptors do not reach subshells: give them fixed numbers
exec 5>&"\${UP[1]}" 6<&"\${UP[0]}"
f='if .public_key then .public_key = "$2" else . end'
jq --unbuffered -c "\$f" <&0 >&5 &
jq --unbuffered -c "\$f" <&6
EOF2
	chmod +x "$T/mitm.sh"
	socat TCP-LISTEN:"$3",reuseaddr,fork EXEC:"$T/mitm.sh" &
	wait_port "$3"
}

@test "a man in the middle who rewrites the keys makes both sides fail, loudly" {
	command -v socat >/dev/null || skip "needs socat"
	evil=$(el-keygen | jq -r .public_key)
	el-keyx listen --port "$P" --token "$TOKEN" < /dev/null > "$T/d.out" 2> "$T/d.err" &
	wait_port "$P"
	mitm "$P" "$evil" $((P + 1))
	run el-keyx connect "127.0.0.1:$((P + 1))" --token "$TOKEN" --attempts 1 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"REFUSED"*"someone in the middle"* ]]
	sleep 0.5
	jq -se 'map(.type) == ["iface"]' "$T/d.out"
	grep -q "REFUSED" "$T/d.err"
	# without the relay the same two pair fine
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < /dev/null > /dev/null 2>&1
}

@test "without a token: trust on first use, and a pinned key that does not match is refused" {
	el-keygen > "$T/dk"
	dpub=$(jq -r .public_key "$T/dk")
	el-keyx listen --port "$P" < "$T/dk" > "$T/d.out" 2> "$T/d.err" &
	wait_port "$P"
	run el-keyx connect "127.0.0.1:$P" --peer-key "$(el-keygen | jq -r .public_key)" --attempts 1 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"not the pinned --peer-key"* ]]
	run el-keyx connect "127.0.0.1:$P" --peer-key "$dpub" < /dev/null
	[ "$status" -eq 0 ]
	wait
	grep -q "NOT authenticated: trust on first use" "$T/d.err"
}

@test "the source started first keeps retrying and links once the destination is up" {
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --retry-interval 1 --timeout 1 < /dev/null \
		> "$T/s.out" 2> "$T/s.err" &
	src=$!
	sleep 2.5
	el-keyx listen --port "$P" --token "$TOKEN" < /dev/null > "$T/d.out" 2>/dev/null &
	wait "$src"
	grep -q "attempt 3" "$T/s.err"
	jq -se 'length == 2' "$T/s.out"
}

@test "a second concurrent source is refused cleanly as busy, and pairs later" {
	el-keyx listen --port "$P" --token "$TOKEN" --timeout 3 < /dev/null > "$T/d.out" 2> "$T/d.err" &
	wait_port "$P"
	# a first "source" that connects and says nothing holds the session
	exec 4<>/dev/tcp/127.0.0.1/"$P"
	sleep 0.2
	start=$(date +%s)
	run el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --attempts 1 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"busy"* ]]
	[ $(( $(date +%s) - start )) -lt 3 ]   # refused at once, not hung
	exec 4<&-
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --retry-interval 1 < /dev/null > "$T/s.out" 2>/dev/null
	jq -se 'length == 2' "$T/s.out"
}

@test "the destination decides: addresses (IPv6 too), port, keepalive, MTU, DNS; the source follows" {
	EL_KEYX_WG_PORT=51999 el-keyx listen --port "$P" --token "$TOKEN" \
		--dest-address 10.9.0.1/16,fd00:9::1/64 --source-address 10.9.0.20/16,fd00:9::20/64 \
		--keepalive 10 --mtu 1380 --dns 10.9.0.53 < /dev/null > "$T/d.out" 2>/dev/null &
	wait_port "$P"
	# the source's own flags do not count
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --wg-port 1 --mtu 9000 < /dev/null > "$T/s.out" 2>/dev/null
	wait
	jq -se '.[0].addresses == ["10.9.0.20/16","fd00:9::20/64"] and .[0].listen_port == 51999
		and .[0].mtu == 1380 and .[0].dns == ["10.9.0.53"]
		and .[1].allowed_ips == ["10.9.0.1/32","fd00:9::1/128"] and .[1].endpoint == "127.0.0.1:51999"
		and .[1].persistent_keepalive_interval == 10' "$T/s.out"
	jq -se '.[0].addresses == ["10.9.0.1/16","fd00:9::1/64"]
		and .[1].allowed_ips == ["10.9.0.20/32","fd00:9::20/128"]' "$T/d.out"
}

@test "--keep serves several sources, each with its own address" {
	el-keyx listen --port "$P" --token "$TOKEN" --keep < /dev/null > "$T/d.out" 2>/dev/null &
	wait_port "$P"
	for i in 1 2 3; do
		el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < /dev/null > "$T/s$i.out" 2>/dev/null
	done
	sleep 0.2
	jq -se '[.[] | select(.type == "iface")] | length == 1' "$T/d.out"
	jq -se '[.[] | select(.type == "peer") | .allowed_ips[0]] == ["10.0.0.2/32","10.0.0.3/32","10.0.0.4/32"]' "$T/d.out"
	[ "$(jq -sr '.[0].addresses[0]' "$T/s3.out")" = 10.0.0.4/24 ]
}

@test "--keep steps over the destination's own address inside the source range" {
	el-keyx listen --port "$P" --token "$TOKEN" --keep --dest-address 10.0.0.3/24 \
		< /dev/null > "$T/d.out" 2>/dev/null &
	wait_port "$P"
	for i in 1 2 3; do
		el-keyx connect "127.0.0.1:$P" --token "$TOKEN" < /dev/null > /dev/null 2>&1
	done
	sleep 0.2
	jq -se '[.[] | select(.type == "peer") | .allowed_ips[0]] == ["10.0.0.2/32","10.0.0.4/32","10.0.0.5/32"]' "$T/d.out"
}

@test "--stdio carries the exchange over any byte stream" {
	mkfifo "$T/to_dest" "$T/to_src"
	# read-write opens, so neither side blocks opening its FIFO
	el-keyx listen --stdio --out "$T/d.out" --token "$TOKEN" <> "$T/to_dest" > "$T/to_src" 2>/dev/null &
	timeout 20 el-keyx connect --stdio --out "$T/s.out" --token "$TOKEN" --endpoint 192.0.2.1:51820 \
		<> "$T/to_src" > "$T/to_dest" 2>/dev/null
	wait
	[ "$(stat -c %a "$T/s.out")" = 600 ]
	jq -se '.[1].endpoint == "192.0.2.1:51820" and .[0].addresses == ["10.0.0.2/24"]' "$T/s.out"
	jq -se '.[1].allowed_ips == ["10.0.0.2/32"]' "$T/d.out"
}

@test "--state: the first run pairs and keeps the records (0600); a restart needs no exchange" {
	# a destination stopped before any source came keeps no state
	timeout 1 el-keyx listen --port "$P" --state "$T/none.state" < /dev/null > /dev/null 2>&1 || true
	[ ! -e "$T/none.state" ]
	el-keyx listen --port "$P" --token "$TOKEN" --state "$T/d.state" < /dev/null > "$T/d1" 2>/dev/null &
	wait_port "$P"
	el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --state "$T/s.state" < /dev/null > "$T/s1" 2>/dev/null
	wait
	[ "$(stat -c %a "$T/s.state")" = 600 ]
	[ "$(stat -c %a "$T/d.state")" = 600 ]
	# nobody listens now: the restart works from the state alone
	run el-keyx connect "127.0.0.1:$P" --token "$TOKEN" --state "$T/s.state" --attempts 1 < /dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"restored from"* ]]
	el-keyx connect "127.0.0.1:$P" --state "$T/s.state" < /dev/null > "$T/s2" 2>/dev/null
	cmp "$T/s1" "$T/s2"
	el-keyx listen --state "$T/d.state" < /dev/null > "$T/d2" 2>/dev/null
	cmp "$T/d1" "$T/d2"
}

@test "--preset: own key and the peer's public key, no exchange" {
	el-keygen > "$T/a"
	el-keygen > "$T/b"
	el-keyx connect 192.0.2.7 --preset --peer-key "$(jq -r .public_key "$T/b")" < "$T/a" > "$T/out" 2>/dev/null
	jq -se --arg k "$(jq -r .public_key "$T/b")" --arg p "$(jq -r .private_key "$T/a")" \
		'.[0].private_key == $p and .[0].addresses == ["10.0.0.2/24"] and .[1].public_key == $k
		 and .[1].endpoint == "192.0.2.7:51820" and .[1].allowed_ips == ["10.0.0.1/32"]' "$T/out"
}

@test "bad input and usage: a clear message and exit 100" {
	run el-keyx listen --token not-a-key < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *"token: not a 32-byte key in base64"* ]]
	run el-keyx connect
	[ "$status" -eq 100 ]
	[[ "$output" == *"HOST is missing"* ]]
	run el-keyx connect h --peer-key abc
	[ "$status" -eq 100 ]
	run el-keyx connect h --timeout 0
	[ "$status" -eq 100 ]
	run el-keyx listen --dest-address 10.0.0.300/24
	[ "$status" -eq 100 ]
	[[ "$output" == *"--dest-address"* ]]
	run el-keyx listen --port "$P" <<< "not a key"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: not a private key"* ]]
	run el-keyx listen --stdio
	[ "$status" -eq 100 ]
	[[ "$output" == *"--out FILE"* ]]
	run el-keyx frob
	[ "$status" -eq 100 ]
	run el-keyx --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"el-keyx listen"* ]]
	echo "{}" > "$T/bad.state"
	run el-keyx listen --state "$T/bad.state"
	[ "$status" -eq 100 ]
	[[ "$output" == *"state file"* ]]
}

@test "connect gives up after --attempts with exit 1 when nobody listens" {
	run el-keyx connect "127.0.0.1:$P" --attempts 2 --retry-interval 0 --timeout 1 < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"no pairing after 2 attempts"* ]]
}
