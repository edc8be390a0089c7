#!/usr/bin/env bats
# el-facts decode/encode: wirelink's recorded packets, signed round trips
# with real keys, forgeries and malformed input, and the fuzz corpus.
#
# Exit codes asserted: 0 ok; 1 a group failed its signature or source check
# (a definite "no"); 100 usage or malformed input.

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	V="$BATS_TEST_DIRNAME/vectors/wirelink-vnet-packets.hex"
	T=$(mktemp -d)
	unset EL_FACTS_KEY EL_FACTS_KEY_FILE EL_FACTS_PEER
}
teardown() { rm -rf "$T"; }

# The three nodes of wirelink's test, by the first bytes of their keys.
CLIENT1=wdPJvx60EN64jFRMXzyRXufHSEvnPjDF8qf1CmFOpHs= # c1d3c9bf...
CLIENT2=x9XnbJsnF64OxxOAWqr4yvghymMZAYGo+dYGc8tzcRw= # c7d5e76c...
CORE=GbDu12ebM9LOq3a/rRsGNYQpgVSx6AL684WEy/eohFk=    # 19b0eed7...

packet() { grep -v '^#' "$V" | sed -n "${1}p"; }
keypair() { el-keygen --out "$T/$1.json"; }
priv() { jq -r .private_key "$T/$1.json"; }
pub() { jq -r .public_key "$T/$1.json"; }

@test "the keys named above are the packets' signers (hex to base64, independently)" {
	[ "$(packet 2 | cut -c5-68 | xxd -r -p | base64)" = "$CLIENT1" ]
	[ "$(packet 1 | cut -c5-68 | xxd -r -p | base64)" = "$CLIENT2" ]
	[ "$(packet 6 | cut -c5-68 | xxd -r -p | base64)" = "$CORE" ]
}

@test "decode --no-verify reads all 66 recorded wirelink packets" {
	[ "$(grep -vc '^#' "$V")" -eq 66 ]
	run el-facts decode --no-verify < "$V"
	[ "$status" -eq 0 ]
	[ -z "$(el-facts decode --no-verify < "$V" 2>&1 >/dev/null)" ]
	[ "${#lines[@]}" -eq 286 ]
	printf '%s\n' "$output" | jq -se '
		all(.[]; .type == "fact" and (keys == ["attribute","source","subject","ttl","type","value"])
			and (.ttl | type == "number"))
		and ([.[].source] | unique | length == 3)'
}

@test "packet 1: client2 tells its member metadata and its boot id" {
	run el-facts decode --no-verify <<< "$(packet 1)"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | jq -se --arg c2 "$CLIENT2" '. == [
		{type: "fact", subject: $c2, attribute: "member",
		 value: {name: "client2@self", basic: false}, ttl: 8, source: $c2},
		{type: "fact", subject: $c2, attribute: "alive",
		 value: "ca95556f8f5d4224b9e21a628d56fa41", ttl: 9, source: $c2}]'
}

@test "packet 3: client2 adds its endpoint 100.1.1.3:51820 (0x64010103, port 0xca6c)" {
	run el-facts decode --no-verify <<< "$(packet 3)"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | jq -se --arg c2 "$CLIENT2" '
		[.[] | [.attribute, .subject == $c2, .value, .ttl]] == [
		["member", true, {name: "client2@self", basic: false}, 8],
		["endpoint", true, "100.1.1.3:51820", 8],
		["alive", true, "ca95556f8f5d4224b9e21a628d56fa41", 9]]
		and all(.[]; .source == $c2)'
}

@test "packet 6: core tells its endpoints, its network and what it knows of client2" {
	run el-facts decode --no-verify <<< "$(packet 6)"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | jq -se --arg core "$CORE" --arg c2 "$CLIENT2" '
		[.[] | [.attribute, .subject, .value, .ttl]] == [
		["endpoint", $core, "100.1.1.1:51820", 8],
		["member", $core, {name: "core@self", basic: false}, 8],
		["member", $c2, {name: "client2@core", basic: false}, 8],
		["endpoint", $core, "10.0.0.1:51820", 8],
		["allowed_ip", $core, "192.168.0.0/24", 8],
		["alive", $core, "9791a9fc5ca246f88e601d27c28f644b", 9]]
		and all(.[]; .source == $core)'
}

@test "packet 10: core relays client1's host route 192.168.0.2/32 (0xc0a80002, 0x20)" {
	run el-facts decode --no-verify <<< "$(packet 10)"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | jq -se --arg core "$CORE" --arg c1 "$CLIENT1" '
		length == 9 and all(.[]; .source == $core)
		and any(.[]; . == {type: "fact", subject: $c1, attribute: "allowed_ip",
			value: "192.168.0.2/32", ttl: 8, source: $core})
		and ([.[] | select(.attribute == "member") | .value.name] ==
			["client2@core", "core@self", "client1@core"])'
}

@test "counts per attribute, value and source across all 66 packets" {
	el-facts decode --no-verify < "$V" > "$T/all"
	jq -se '
		(group_by(.attribute) | map({key: .[0].attribute, value: length}) | from_entries)
			== {alive: 66, member: 103, endpoint: 90, allowed_ip: 27}
		and ([.[] | select(.attribute == "endpoint") | .value] | group_by(.) |
			map({key: .[0], value: length}) | from_entries)
			== {"10.0.0.1:51820": 18, "100.1.1.1:51820": 18, "100.1.1.2:51820": 28,
			    "100.1.1.3:51820": 26}
		and ([.[] | select(.attribute == "allowed_ip") | .value] | group_by(.) |
			map({key: .[0], value: length}) | from_entries)
			== {"192.168.0.0/24": 18, "192.168.0.2/32": 4, "192.168.0.3/32": 5}
		and ([.[] | select(.attribute == "alive") | .value] | unique | length) == 6
		and ([.[] | select(.attribute == "member") | .value.basic] | unique) == [false]
		and (group_by(.source) | map(length) | sort) == [76, 77, 133]
		and ([.[].ttl] | unique) == [2, 5, 8, 9]' "$T/all"
}

@test "encode then decode with real keys: every attribute, signature checked" {
	keypair a
	keypair b
	s=$(pub b)
	cat > "$T/facts" <<-EOF
	{"type":"fact","subject":"$s","attribute":"alive","value":"00112233445566778899aabbccddeeff","ttl":30}
	{"type":"fact","subject":"$s","attribute":"member","value":null,"ttl":255}
	{"type":"fact","subject":"$s","attribute":"member","value":{"name":"web1 ☃","basic":true,"0x7a":"01ff"},"ttl":255}
	{"type":"fact","subject":"$s","attribute":"endpoint","value":"192.0.2.7:51820","ttl":65535}
	{"type":"fact","subject":"$s","attribute":"endpoint","value":"[2001:db8::7]:51820","ttl":0}
	{"type":"fact","subject":"$s","attribute":"allowed_ip","value":"10.1.0.0/16","ttl":128}
	{"type":"fact","subject":"$s","attribute":"allowed_ip","value":"2001:db8:1::/48","ttl":255}
	{"type":"fact","subject":"$s","attribute":"0x78","value":"68656c6c6f","ttl":1}
	EOF
	el-facts encode --key "$(priv a)" --peer "$(pub b)" < "$T/facts" > "$T/hex"
	[ "$(wc -l < "$T/hex")" -eq 1 ]
	run el-facts decode --key "$(priv b)" < "$T/hex"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | jq -se --slurpfile want "$T/facts" --arg a "$(pub a)" \
		'. == [$want[] | . + {source: $a}]'
	# the key also comes from the environment
	EL_FACTS_KEY=$(priv b) el-facts decode < "$T/hex" | jq -se 'length == 8'
}

@test "--key-file: el-keygen's record or a bare line; errors never quote the key" {
	keypair a; keypair b
	echo "{\"type\":\"fact\",\"subject\":\"$(pub a)\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.7:51820\"}" > "$T/facts"
	# the record el-keygen --out wrote, then a bare line as wg genkey prints
	el-facts encode --key-file "$T/a.json" --peer "$(pub b)" < "$T/facts" > "$T/hex"
	priv b > "$T/b.key"
	el-facts decode --key-file "$T/b.key" < "$T/hex" | jq -e --arg a "$(pub a)" \
		'.source == $a and .value == "192.0.2.7:51820"'
	EL_FACTS_KEY_FILE="$T/b.json" el-facts decode < "$T/hex" | jq -e '.value == "192.0.2.7:51820"'
	# the option beats the other's variable: a wrong key in the variable
	# does not matter when the file is given
	EL_FACTS_KEY=$(priv a) el-facts decode --key-file "$T/b.json" < "$T/hex" | grep -q 192.0.2.7
	# and with the wrong key the check fails: 1
	run el-facts decode --key-file "$T/a.json" < "$T/hex"
	[ "$status" -eq 1 ]
	# both options: usage
	run el-facts decode --key-file "$T/b.json" --key "$(priv b)" < "$T/hex"
	[ "$status" -eq 100 ]
	[[ "$output" == *"not both"* ]]
	# a missing file: 111; a file that is not a key: 100, naming the file
	# and line, not its content
	run el-facts decode --key-file "$T/nope" < "$T/hex"
	[ "$status" -eq 111 ]
	[[ "$output" == *"$T/nope"* ]]
	printf '%s\n' "$(priv b | cut -c1-40)" > "$T/short.key"
	run el-facts decode --key-file "$T/short.key" < "$T/hex"
	[ "$status" -eq 100 ]
	[[ "$output" == *"--key-file: $T/short.key: line 1"* ]]
	[[ "$output" != *"$(priv b | cut -c1-40)"* ]]
	: > "$T/empty"
	run el-facts encode --key-file "$T/empty" --peer "$(pub b)" < "$T/facts"
	[ "$status" -eq 100 ]
	[[ "$output" == *"is empty"* ]]
}

@test "encode: ttl defaults to 255, an IPv4-mapped endpoint travels as IPv4" {
	keypair a
	keypair b
	echo '{"type":"fact","subject":"'"$(pub b)"'","attribute":"endpoint","value":"[::ffff:192.0.2.9]:1","source":"ignored"}' |
		EL_FACTS_KEY=$(priv a) EL_FACTS_PEER=$(pub b) el-facts encode > "$T/hex"
	# the endpoint fact is 'e' (0x65), ttl 255 = 0xff 0x01
	cut -c149-154 "$T/hex" | grep -qx 65ff01
	el-facts decode --key "$(priv b)" < "$T/hex" |
		jq -e --arg a "$(pub a)" '.value == "192.0.2.9:1" and .ttl == 255 and .source == $a'
}

@test "all 286 recorded facts re-encode, signed by us, and decode back unchanged" {
	keypair a
	keypair b
	el-facts decode --no-verify < "$V" > "$T/all"
	el-facts encode --key "$(priv a)" --peer "$(pub b)" < "$T/all" > "$T/hex"
	# one line per group, none longer than a datagram (1212 bytes = 2424 hex digits)
	[ "$(awk 'length($0) > 2424' "$T/hex" | wc -l)" -eq 0 ]
	[ "$(wc -l < "$T/hex")" -ge 10 ]
	el-facts decode --key "$(priv b)" < "$T/hex" > "$T/back"
	jq -se --slurpfile orig "$T/all" --arg a "$(pub a)" \
		'. == [$orig[] | .source = $a]' "$T/back"
}

@test "encode starts a new group when the next fact would not fit (1136 bytes of facts)" {
	keypair a
	keypair b
	s=$(pub b)
	# 41 bytes each (two-byte ttl 255): 27 fit in 1136, so 60 take 27 + 27 + 6
	for i in $(seq 60); do
		echo '{"type":"fact","subject":"'"$s"'","attribute":"endpoint","value":"10.0.0.'"$i"':51820"}'
	done > "$T/facts"
	el-facts encode --key "$(priv a)" --peer "$s" < "$T/facts" > "$T/hex"
	[ "$(wc -l < "$T/hex")" -eq 3 ]
	# 74 bytes of group header + 27 * 41 = 1181 bytes = 2362 hex digits
	[ "$(awk '{print length($0)}' "$T/hex" | tr '\n' ' ')" = "2362 2362 640 " ]
	el-facts decode --key "$(priv b)" < "$T/hex" |
		jq -se '[.[].value] == [range(1; 61) | "10.0.0.\(.):51820"]'
}

@test "--raw: one binary datagram each way" {
	keypair a
	keypair b
	echo '{"type":"fact","subject":"'"$(pub a)"'","attribute":"allowed_ip","value":"10.9.0.0/16"}' |
		el-facts encode --raw --key "$(priv a)" --peer "$(pub b)" > "$T/dgram"
	[ "$(wc -c < "$T/dgram")" -eq $((74 + 1 + 2 + 32 + 5)) ]
	run el-facts decode --raw --key "$(priv b)" < "$T/dgram"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.value == "10.9.0.0/16"'
	# facts that need two datagrams cannot be one raw datagram
	for i in $(seq 30); do
		echo '{"type":"fact","subject":"'"$(pub a)"'","attribute":"endpoint","value":"10.0.0.1:'"$i"'"}'
	done | { run el-facts encode --raw --key "$(priv a)" --peer "$(pub b)"; [ "$status" -eq 100 ]; }
}

@test "a tampered signature is a definite no (exit 1) naming the line" {
	keypair a
	keypair b
	echo '{"type":"fact","subject":"'"$(pub a)"'","attribute":"member","value":{"name":"a"}}' |
		el-facts encode --key "$(priv a)" --peer "$(pub b)" > "$T/hex"
	good=$(cat "$T/hex")
	# flip one hex digit of the tag (bytes 58..73, hex columns 117..148)
	c=${good:120:1}
	[ "$c" = 0 ] && n=1 || n=0
	bad="${good:0:120}$n${good:121}"
	printf '# a comment\n%s\n\n%s\n' "$good" "$bad" > "$T/two"
	run el-facts decode --key "$(priv b)" < "$T/two"
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c '^{')" -eq 1 ] # the good line still decodes
	[[ "$output" == *"el-facts: line 4: signature: the tag does not verify"* ]]
	# a changed fact byte is caught the same way
	bad="${good:0:200}$( [ "${good:200:1}" = f ] && echo e || echo f )${good:201}"
	run el-facts decode --key "$(priv b)" <<< "$bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 1: signature:"* ]]
	# and the wrong recipient cannot verify at all
	keypair c
	run el-facts decode --key "$(priv c)" < "$T/hex"
	[ "$status" -eq 1 ]
	# --no-verify still reads it
	el-facts decode --no-verify <<< "$bad" | jq -e '.attribute == "member"'
}

@test "--source: a group must come from its signer's link-local address" {
	keypair a
	keypair b
	echo '{"type":"fact","subject":"'"$(pub a)"'","attribute":"member"}' |
		el-facts encode --key "$(priv a)" --peer "$(pub b)" > "$T/hex"
	lla=$(el-keygen addr --raw --ll "$(pub a)")
	llb=$(el-keygen addr --raw --ll "$(pub b)")
	el-facts decode --key "$(priv b)" --source "$lla" < "$T/hex" | jq -e '.value == null'
	run el-facts decode --key "$(priv b)" --source "$llb" < "$T/hex"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 1: source: $llb is not $lla, the link-local address of the signer's key"* ]]
	run el-facts decode --no-verify --source fe80::1 <<< "$(packet 1)"
	[ "$status" -eq 1 ]
	run el-facts decode --key "$(priv b)" --source 10.0.0.1 < "$T/hex"
	[ "$status" -eq 100 ]
}

@test "malformed packets are rejected with exit 100 and a reason naming the line" {
	p1=$(packet 1)
	k=$(printf '%s' "$p1" | cut -c5-68)
	cases=(
		"${p1:0:140}|truncated: 70 bytes, a signed group needs at least 74"
		"${p1:0:300}|fact 2 (byte 52 of the group): alive: subject: 22 bytes, need 32"
		"650a${k}0a000001ca6c|attribute 0x65 at top level"
		"zz${p1:2}|not a datagram in hex (column 1)"
		"${p1}0|not a datagram in hex"
		"${p1:0:148}65808004${k}0a000001ca6c|fact 1 (byte 0 of the group): ttl: 65536 is over 65535"
		"${p1:0:148}5300${k}$(printf '%080d' 0)|fact 1 (byte 0 of the group): a signed group inside a signed group"
		"${p1:0:148}6100${k}0a00000021|fact 1 (byte 0 of the group): allowed_ip: prefix length 33 is over 32"
		"${p1:0:148}4500${k}00000000000000000000ffff0a000001ca6c|fact 1 (byte 0 of the group): endpoint: an IPv4-mapped address must be sent as 'e'"
		"${p1:0:148}4d00${k}03620102|fact 1 (byte 0 of the group): member: basic must be one byte, 0 or 1"
		"${p1:0:148}4d00${k}066e01616e0162|fact 1 (byte 0 of the group): member: item 0x6e appears twice"
		"$(printf '53%02424d' 0)|datagram longer than 1212 bytes"
	)
	for c in "${cases[@]}"; do
		run el-facts decode --no-verify <<< "${c%%|*}"
		[ "$status" -eq 100 ] || { echo "status $status for ${c#*|}"; return 1; }
		[[ "$output" == *"el-facts: line 1: ${c#*|}"* ]] || { echo "got: $output"; echo "want: ${c#*|}"; return 1; }
	done
}

@test "a corrupt fact ends its group; facts before it and other lines still print" {
	p1=$(packet 1)
	k=$(printf '%s' "$p1" | cut -c5-68)
	# packet 1's first fact, then an endpoint with a short value
	bad="${p1:0:252}6508${k}0a00"
	printf '%s\n%s\n%s\n' "$(packet 2)" "$bad" "$(packet 3)" > "$T/in"
	run el-facts decode --no-verify < "$T/in"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 2: fact 2 (byte 52 of the group): endpoint: value: 2 bytes, need 6"* ]]
	printf '%s\n' "$output" | grep '^{' | jq -se '[.[].attribute] ==
		["endpoint","member","alive", "member", "member","endpoint","alive"]'
}

@test "encode rejects bad fact records with exit 100 naming line and field" {
	keypair a
	keypair b
	s=$(pub b)
	run_enc() { el-facts encode --key "$(priv a)" --peer "$s"; }
	printf '%s\n' '{"type":"fact","subject":"'"$s"'","attribute":"member"}' \
		'{"type":"fact","subject":"'"$s"'","attribute":"member","ttl":65536}' > "$T/in"
	run run_enc < "$T/in"
	[ "$status" -eq 100 ]
	[[ "$output" == *"el-facts: line 2: ttl: 65536 is out of range 0..65535"* ]]
	echo '{"type":"fact","subject":"'"$s"'","attribute":"endpoint","value":"10.0.0.1"}' > "$T/in"
	run run_enc < "$T/in"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: value: an endpoint is"* ]]
	echo '{"type":"key","public_key":"'"$s"'"}' > "$T/in"
	run run_enc < "$T/in"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: type: \"key\" is not a fact record"* ]]
	echo '{"type":"fact","subject":"'"$s"'","attribute":"0x53","value":""}' > "$T/in"
	run run_enc < "$T/in"
	[ "$status" -eq 100 ]
	[[ "$output" == *"known attribute"* ]]
	# a private key on the command line is never echoed back
	run el-facts encode --key "not-a-key-but-secret" --peer "$s" < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" != *secret* ]]
}

@test "usage: subcommands, options, help" {
	run el-facts
	[ "$status" -eq 100 ]
	run el-facts decode < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *"--no-verify"* ]]
	run el-facts encode < /dev/null
	[ "$status" -eq 100 ]
	# local and gossip have their own suite (el-facts-gossip.bats)
	run el-facts frobnicate
	[ "$status" -eq 100 ]
	run el-facts decode --no-verify --bogus
	[ "$status" -eq 100 ]
	run el-facts --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Examples:"* && "$output" == *"allowed_ip"* ]]
	run el-facts --version
	[ "$status" -eq 0 ]
	[[ "$output" == "el-facts (edgelink) "* ]]
	# empty input is fine: nothing to decode, nothing to encode
	run el-facts decode --no-verify < /dev/null
	[ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "every file of the fuzz corpus decodes or is refused cleanly (exit 0/1/100)" {
	# test_facts_wire replays the corpus with the fuzzer's own checks; this
	# runs it through the command, the way the sanitizer build sees it too.
	dir="$BATS_TEST_DIRNAME/fuzz/corpus/facts_wire"
	[ "$(ls "$dir" | wc -l)" -ge 80 ]
	for f in "$dir"/*; do
		el-facts decode --raw --no-verify < "$f" > /dev/null 2>&1 && rc=0 || rc=$?
		case $rc in
		0 | 100) ;;
		*) echo "$f: exit $rc"; return 1 ;;
		esac
	done
	keypair a
	for f in "$dir"/kat-* "$dir"/ours-* "$dir"/vnet-0*; do
		el-facts decode --raw --key "$(priv a)" < "$f" > /dev/null 2>&1 && rc=0 || rc=$?
		case $rc in
		1 | 100) ;; # not for this key, or not a group at all
		*) echo "$f (--key): exit $rc"; return 1 ;;
		esac
	done
}
