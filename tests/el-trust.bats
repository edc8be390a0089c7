#!/usr/bin/env bats
# el-trust: policy errors, --explain naming the rule, pass-through of other
# record types, --peers output shaped for el-link apply, and streaming:
# facts, then expiry leading to a removal record. The device view comes
# from --device FILE, so no root is needed.
#
# Exit codes asserted: 0 ok; 100 usage or malformed input; 111 the
# environment failed (a missing file).

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	T=$(mktemp -d)
	unset EL_TRUST_POLICY EL_TRUST_IFACE EL_TRUST_DEVICE EL_TRUST_SELF EL_TRUST_PEERS EL_TRUST_EXPLAIN
	for n in self router host newc stranger; do el-keygen --out "$T/$n.json"; done
	SELF=$(pub self) ROUTER=$(pub router) HOST=$(pub host) NEWC=$(pub newc) STRANGER=$(pub stranger)
	# Our device: a router (it routes 10.2.0.0/16) and a host peer.
	{
		printf '{"type":"iface","name":"wg0","private_key":"%s","listen_port":51820}\n' "$(jq -r .private_key "$T/self.json")"
		printf '{"type":"peer","public_key":"%s","allowed_ips":["10.0.0.2/32","10.2.0.0/16"]}\n' "$ROUTER"
		printf '{"type":"peer","public_key":"%s","allowed_ips":["10.0.0.3/32"]}\n' "$HOST"
	} > "$T/dev.json"
}
teardown() { rm -rf "$T"; }

pub() { jq -r .public_key "$T/$1.json"; }
# the key-derived link-local address every peer el-trust writes keeps
ll() { el-keygen addr --ll "$1" | jq -r '.address + "/128"'; }
# fact SUBJECT ATTRIBUTE VALUE(JSON) SOURCE [TTL]
fact() {
	printf '{"type":"fact","subject":"%s","attribute":"%s","value":%s,"ttl":%s,"source":"%s"}\n' \
		"$1" "$2" "$3" "${5:-255}" "$4"
}

@test "believed facts are printed byte for byte, rejected ones are not" {
	{
		fact "$HOST" endpoint '"192.0.2.3:51820"' "$ROUTER"      # router: membership
		fact "$NEWC" member null "$HOST"                         # host: endpoint only
		fact "$NEWC" member '{"name":"c","basic":false}' "$ROUTER"
		fact "$HOST" allowed_ip '"10.3.0.0/16"' "$STRANGER"      # untrusted
	} > "$T/in"
	run el-trust --device "$T/dev.json" < "$T/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "$(sed -n 1p "$T/in")" ]
	[ "${lines[1]}" = "$(sed -n 3p "$T/in")" ]
}

@test "--explain names the rule that rejected each fact, on stderr only" {
	{
		fact "$NEWC" member null "$HOST"
		fact "$HOST" allowed_ip '"10.3.0.0/16"' "$HOST"
		fact "$NEWC" endpoint '"192.0.2.9:1"' "$HOST"
		fact "$HOST" endpoint '"192.0.2.9:1"' "$STRANGER"
		fact "$HOST" alive '"00112233445566778899aabbccddeeff"' "$STRANGER"
		fact "$SELF" endpoint '"192.0.2.1:1"' "$ROUTER"
		fact "$HOST" endpoint '"192.0.2.3:1"' "$HOST"
	} > "$T/in"
	el-trust --device "$T/dev.json" --explain < "$T/in" > "$T/out" 2> "$T/err"
	[ "$(wc -l < "$T/out")" -eq 1 ]
	[ "$(wc -l < "$T/err")" -eq 6 ]
	grep -q "^el-trust: line 1: rejected member fact about $NEWC from $HOST (endpoint): member facts need a source trusted at membership \[rule member\]" "$T/err"
	grep -q '^el-trust: line 2: .*allowed_ip facts need a source trusted at allowed-ips or above \[rule allowed-ips\]' "$T/err"
	grep -q '^el-trust: line 3: .*not on the device needs a source trusted at membership \[rule new-subject\]' "$T/err"
	grep -q '^el-trust: line 4: .*(untrusted): endpoint facts need .*\[rule endpoint\]' "$T/err"
	grep -q '^el-trust: line 5: .*\[rule info\]' "$T/err"
	grep -q "^el-trust: line 6: rejected endpoint fact about $SELF .*\[rule self\]" "$T/err"
	# Without --explain, silence.
	[ -z "$(el-trust --device "$T/dev.json" < "$T/in" 2>&1 >/dev/null)" ]
	# The environment says the same.
	[ "$(EL_TRUST_EXPLAIN=1 EL_TRUST_DEVICE="$T/dev.json" el-trust < "$T/in" 2>&1 >/dev/null | wc -l)" -eq 6 ]
}

@test "other record types pass through untouched, in order, in both modes" {
	{
		echo '{"type":"status","iface":"wg0",  "x":[1,2]}'
		fact "$HOST" endpoint '"192.0.2.3:51820"' "$ROUTER"
		echo '{"type":"peer","public_key":"'"$HOST"'","endpoint":"198.51.100.1:1"}'
	} > "$T/in"
	run el-trust --device "$T/dev.json" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in")" ]
	run el-trust --device "$T/dev.json" --peers < "$T/in"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(sed -n 1p "$T/in")" ]
	printf '%s\n' "${lines[1]}" | jq -e --arg h "$HOST" '. == {type:"peer",public_key:$h,endpoint:"192.0.2.3:51820"}'
	[ "${lines[2]}" = "$(sed -n 3p "$T/in")" ]
}

@test "policy: levels by key and a default; errors name the key and exit 100" {
	printf '{"default":"endpoint","peers":{"%s":"membership"}}\n' "$STRANGER" > "$T/p.json"
	fact "$NEWC" member null "$STRANGER" > "$T/in"
	fact "$NEWC" member null "$ROUTER" >> "$T/in"   # a named policy turns router trust off
	run el-trust --device "$T/dev.json" --policy "$T/p.json" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n 1p "$T/in")" ]

	echo '{"default":"endpoint","colour":"red"}' > "$T/bad1.json"
	run el-trust --policy "$T/bad1.json" < /dev/null
	[ "$status" -eq 100 ]
	[ "$output" = "el-trust: policy $T/bad1.json: colour: unknown key (a policy has \"default\" and \"peers\")" ]
	printf '{"peers":{"%s":"root"}}\n' "$HOST" > "$T/bad2.json"
	run el-trust --policy "$T/bad2.json" < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *"peers.$HOST: not a trust level (untrusted, endpoint, allowed-ips, membership)" ]]
	echo '{"default":"trusted"}' > "$T/bad3.json"
	EL_TRUST_POLICY="$T/bad3.json" run el-trust < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *"default: not a trust level"* ]]
	echo '{"default":' > "$T/bad4.json"
	run el-trust --policy "$T/bad4.json" < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == "el-trust: policy $T/bad4.json: line "* ]]
	run el-trust --policy "$T/missing.json" < /dev/null
	[ "$status" -eq 111 ]
}

@test "usage and malformed facts: 100, with the line and field; the rest still flows" {
	run el-trust --bogus
	[ "$status" -eq 100 ]
	run el-trust --iface wg0 --device "$T/dev.json"
	[ "$status" -eq 100 ]
	run el-trust --self nope < /dev/null
	[ "$status" -eq 100 ]
	{
		fact "$HOST" endpoint '"nowhere"' "$ROUTER"
		echo '{"type":"fact","subject":"'"$HOST"'","attribute":"alive","value":"00"}'
		fact "$HOST" endpoint '"192.0.2.3:51820"' "$ROUTER"
	} > "$T/in"
	run el-trust --device "$T/dev.json" < "$T/in"
	[ "$status" -eq 100 ]
	[[ "${lines[0]}" == 'el-trust: line 1: value: "nowhere" is not an endpoint'* ]]
	[ "${lines[1]}" = "el-trust: line 2: source: missing" ]
	[ "${lines[2]}" = "$(sed -n 3p "$T/in")" ]
}

@test "--peers: a router's member fact makes a peer record el-link apply takes" {
	{
		# Both peers are heard from (over their own tunnels, as far as
		# el-trust knows): they may have the allowed IPs facts give.
		fact "$NEWC" alive '"00112233445566778899aabbccddeeff"' "$NEWC"
		fact "$HOST" alive '"00112233445566778899aabbccddeeff"' "$HOST"
		fact "$NEWC" allowed_ip '"10.7.0.0/24"' "$ROUTER"
		fact "$NEWC" endpoint '"192.0.2.7:51820"' "$ROUTER"
		fact "$NEWC" member null "$ROUTER"
		fact "$NEWC" member null "$HOST"          # rejected: nothing more
		fact "$HOST" allowed_ip '"10.3.0.0/16"' "$ROUTER"
	} > "$T/in"
	run el-trust --device "$T/dev.json" --peers < "$T/in"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	printf '%s\n' "${lines[0]}" | jq -e --arg k "$NEWC" --arg ll "$(ll "$NEWC")" \
		'. == {type:"peer",public_key:$k,allowed_ips:[$ll,"10.7.0.0/24"],endpoint:"192.0.2.7:51820"}'
	printf '%s\n' "${lines[1]}" | jq -e --arg k "$HOST" --arg ll "$(ll "$HOST")" \
		'. == {type:"peer",public_key:$k,replace_allowed_ips:true,allowed_ips:["10.0.0.3/32",$ll,"10.3.0.0/16"]}'
	# The project's one model (the parser el-link apply uses) takes them:
	# fed back as a device view, they describe the device we asked for.
	{ cat "$T/dev.json"; printf '%s\n' "$output"; } > "$T/dev2.json"
	fact "$NEWC" endpoint '"192.0.2.70:1"' "$HOST" > "$T/in2"   # NEWC is on the device now
	run el-trust --device "$T/dev2.json" < "$T/in2"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in2")" ]
}

@test "--self: facts about ourselves are rejected; else the device's key is ours" {
	fact "$SELF" endpoint '"192.0.2.1:1"' "$ROUTER" > "$T/in"
	[ -z "$(el-trust --device "$T/dev.json" < "$T/in")" ]
	# A device without a private key: --self says who we are.
	grep -v '"iface"' "$T/dev.json" > "$T/nokey.json"
	fact "$HOST" endpoint '"192.0.2.3:1"' "$ROUTER" > "$T/in2"
	[ -n "$(el-trust --device "$T/nokey.json" < "$T/in2")" ]
	[ -z "$(el-trust --device "$T/nokey.json" --self "$HOST" < "$T/in2")" ]
	[ -z "$(EL_TRUST_SELF="$HOST" el-trust --device "$T/nokey.json" < "$T/in2")" ]
}

@test "streaming: records go out as facts arrive; expiry brings a removal" {
	start=$(date +%s)
	{
		fact "$NEWC" member null "$ROUTER" 1
		sleep 2.5
		fact "$HOST" endpoint '"192.0.2.3:51820"' "$ROUTER" 1
	} | el-trust --device "$T/dev.json" --peers > "$T/out" &
	# The member's record is out while the writer still sleeps.
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/out" ] && break; sleep 0.1; done
	head -1 "$T/out" | jq -e --arg k "$NEWC" --arg ll "$(ll "$NEWC")" \
		'. == {type:"peer",public_key:$k,allowed_ips:[$ll]}'
	# A fact lives at least its ttl: nothing is removed within the first second.
	sleep 0.5
	[ "$(wc -l < "$T/out")" -eq 1 ]
	wait
	[ "$(wc -l < "$T/out")" -eq 3 ]
	sed -n 2p "$T/out" | jq -e --arg k "$NEWC" '. == {type:"peer",public_key:$k,remove:true}'
	sed -n 3p "$T/out" | jq -e --arg k "$HOST" '. == {type:"peer",public_key:$k,endpoint:"192.0.2.3:51820"}'
	[ $(( $(date +%s) - start )) -le 5 ]
}

@test "--device takes el-link show's status records, handshakes included" {
	printf '{"type":"status","iface":"wg0","public_key":"%s","endpoint":"203.0.113.3:1","allowed_ips":["10.0.0.3/32"],"last_handshake":%s,"rx_bytes":1,"tx_bytes":1,"state":"connected"}\n' \
		"$HOST" "$(date +%s)" > "$T/show.json"
	fact "$HOST" endpoint '"192.0.2.3:51820"' "$HOST" > "$T/in"
	# Believed (a peer tells endpoints) ...
	[ -n "$(el-trust --device "$T/show.json" < "$T/in")" ]
	# ... but a peer with a fresh handshake keeps the endpoint that works.
	[ -z "$(el-trust --device "$T/show.json" --peers < "$T/in")" ]
}

@test "--peers: facts' allowed IPs only while the peer itself is heard from" {
	# NEWC joins through the router with a network and two endpoints; it
	# speaks once, then falls silent for longer than --stale.
	{
		fact "$NEWC" allowed_ip '"10.7.0.0/24"' "$ROUTER"
		fact "$NEWC" endpoint '"192.0.2.7:51820"' "$ROUTER"
		fact "$NEWC" endpoint '"198.51.100.7:51820"' "$ROUTER"
		fact "$NEWC" member null "$ROUTER"
		sleep 1.2
		fact "$NEWC" alive '"00112233445566778899aabbccddeeff"' "$NEWC"
		sleep 4.5
	} | el-trust --device "$T/dev.json" --peers --stale 2 --try 1 --explain > "$T/out" 2> "$T/err"
	cat "$T/out" "$T/err"
	l=$(ll "$NEWC")
	# added with its link-local address only, at the newest candidate
	jq -se --arg k "$NEWC" --arg ll "$l" '.[0] ==
		{type:"peer",public_key:$k,allowed_ips:[$ll],endpoint:"198.51.100.7:51820"}' "$T/out"
	# silent: the endpoint moves to the other candidate after a second
	jq -se --arg k "$NEWC" '.[1] == {type:"peer",public_key:$k,endpoint:"192.0.2.7:51820"}' "$T/out"
	# heard: the network goes in, and the endpoint stays while healthy
	jq -se --arg k "$NEWC" --arg ll "$l" 'map(select(.allowed_ips)) | .[1] ==
		{type:"peer",public_key:$k,replace_allowed_ips:true,allowed_ips:[$ll,"10.7.0.0/24"]}' "$T/out"
	jq -se 'map(.allowed_ips | length) | index(2) as $in | .[$in + 1] == 1' "$T/out"
	# silent for --stale seconds: withdrawn again (rotation resumes)
	jq -se --arg k "$NEWC" --arg ll "$l" 'map(select(.allowed_ips)) | .[2] |
		.replace_allowed_ips and .allowed_ips == [$ll]' "$T/out"
	[ "$(jq -s 'map(select(.allowed_ips)) | length' "$T/out")" -eq 3 ]
	# --explain says when health decided, in order
	grep -o 'peer [^ ]*: [a-z ]*' "$T/err" > "$T/said"
	[ "$(sed -n 1p "$T/said")" = "peer $NEWC: not heard from yet" ]
	[ "$(sed -n 2p "$T/said")" = "peer $NEWC: heard over its tunnel" ]
	[ "$(sed -n 3p "$T/said")" = "peer $NEWC: silent for " ]
	grep -q "silent for 2 s: its allowed IPs from facts are withdrawn.*\[rule stale\]" "$T/err"
	# --stale 0 (or EL_TRUST_STALE=0): facts' allowed IPs at once
	{ fact "$NEWC" member null "$ROUTER"; fact "$NEWC" allowed_ip '"10.7.0.0/24"' "$ROUTER"; } |
		EL_TRUST_STALE=0 el-trust --device "$T/dev.json" --peers | tail -1 |
		jq -e --arg ll "$l" '.allowed_ips == [$ll,"10.7.0.0/24"]'
	run el-trust --peers --stale -1 < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *'--stale: "-1" is not a number of seconds'* ]]
}
