#!/usr/bin/env bats
# el-keygen: key records, wg compatibility, derived addresses, secret files,
# and bad input.

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
	T=$(mktemp -d)
}
teardown() { rm -rf "$T"; }

b64_32() { [ "${#1}" -eq 44 ] && [ "$(printf '%s' "$1" | base64 -d 2>/dev/null | wc -c)" -eq 32 ]; }

@test "el-keygen prints a key pair whose public key wg agrees with" {
	run el-keygen
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | jq -e '.type == "key" and (keys == ["private_key","public_key","type"])'
	priv=$(echo "$output" | jq -r .private_key)
	pub=$(echo "$output" | jq -r .public_key)
	b64_32 "$priv" && b64_32 "$pub"
	[ "$(echo "$priv" | wg pubkey)" = "$pub" ]
	# keys in a fixed order: type first
	[[ "$output" == '{"type":"key","private_key":'* ]]
}

@test "--raw prints exactly what wg genkey / wg pubkey / wg genpsk print" {
	el-keygen --raw > "$T/k"
	[ "$(wc -c < "$T/k")" -eq 45 ]
	wg genkey > "$T/w"
	# same shape as wg's own output: 44 base64 characters and a newline
	[ "$(wc -c < "$T/w")" -eq 45 ]
	wg pubkey < "$T/k" > "$T/p1"
	el-keygen pubkey --raw < "$T/k" > "$T/p2"
	cmp "$T/p1" "$T/p2"
	el-keygen psk --raw > "$T/psk"
	[ "$(wc -c < "$T/psk")" -eq 45 ]
	b64_32 "$(cat "$T/psk")"
}

@test "interop with wg over 300 random keys, both directions" {
	for i in $(seq 150); do
		k=$(wg genkey)
		[ "$(echo "$k" | el-keygen pubkey --raw)" = "$(echo "$k" | wg pubkey)" ] ||
			{ echo "wg key $k: public keys differ"; return 1; }
	done
	for i in $(seq 150); do
		rec=$(el-keygen)
		priv=$(echo "$rec" | jq -r .private_key)
		[ "$(echo "$priv" | wg pubkey)" = "$(echo "$rec" | jq -r .public_key)" ] ||
			{ echo "our key $priv: wg disagrees"; return 1; }
	done
}

@test "pubkey reads a key record and prints only the public key" {
	el-keygen > "$T/k.json"
	run el-keygen pubkey < "$T/k.json"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --argjson k "$(cat "$T/k.json")" \
		'. == {type: "key", public_key: $k.public_key}'
	# unknown fields in the record are ignored
	jq -c '. + {comment: "x", extra: [1]}' "$T/k.json" | el-keygen pubkey | jq -e .public_key
}

@test "a new key each run: keys are never reused" {
	[ "$(el-keygen | jq -r .private_key)" != "$(el-keygen | jq -r .private_key)" ]
	[ "$(el-keygen psk --raw)" != "$(el-keygen psk --raw)" ]
}

@test "psk prints a preshared key record" {
	run el-keygen psk
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '(keys == ["preshared_key","type"]) and .type == "key"'
	b64_32 "$(echo "$output" | jq -r .preshared_key)"
}

@test "addr --ll derives wirelink's link-local address (published vector)" {
	run el-keygen addr --ll 6X/iz1GyW9euj9JIdP7PUl14eoWyoQiAa+BDTB38GhE=
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '. == {type: "address", address: "fe80::afec:ee83:716b:51ac"}'
	[ "$(el-keygen addr --raw --ll 6X/iz1GyW9euj9JIdP7PUl14eoWyoQiAa+BDTB38GhE=)" = fe80::afec:ee83:716b:51ac ]
}

@test "addr --net derives wesher's overlay addresses, IPv4 and IPv6" {
	[ "$(el-keygen addr --net 10.0.0.0/8 test | jq -r .address)" = 10.221.153.165 ]
	[ "$(el-keygen addr --net 10.0.0.0/24 test | jq -r .address)" = 10.0.0.165 ]
	[ "$(el-keygen addr --net 2001:db8::/32 test | jq -r .address)" = 2001:db8:c575:7277:b806:e994:13dd:99a5 ]
	el-keygen addr --net 10.0.0.0/24 test | jq -e '.cidr == "10.0.0.165/24"'
	# host bits of the network are ignored
	[ "$(el-keygen addr --net 10.1.2.3/24 test | jq -r .address)" = 10.1.2.165 ]
	# different names, different addresses
	[ "$(el-keygen addr --net 10.0.0.0/8 a --raw)" != "$(el-keygen addr --net 10.0.0.0/8 b --raw)" ]
}

@test "--out writes a 0600 file atomically, replacing a readable one" {
	umask 022
	echo old > "$T/key.json"
	chmod 644 "$T/key.json"
	run el-keygen --out "$T/key.json"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(stat -c %a "$T/key.json")" = 600 ]
	jq -e '.private_key and .public_key' "$T/key.json"
	# no temporary file left behind
	[ "$(ls "$T")" = key.json ]
	EL_KEYGEN_OUT="$T/psk" el-keygen psk --raw
	[ "$(stat -c %a "$T/psk")" = 600 ]
	b64_32 "$(cat "$T/psk")"
}

@test "--out into a missing directory fails with 111 and leaves nothing" {
	run el-keygen --out "$T/nope/key"
	[ "$status" -eq 111 ]
	[[ "$output" == *"cannot write $T/nope/key"* ]]
	[ ! -e "$T/nope" ]
}

@test "a warning when a private key goes to a file others can read" {
	umask 022
	el-keygen > "$T/readable" 2> "$T/err"
	grep -q 'others can read' "$T/err"
	umask 077
	el-keygen > "$T/private" 2> "$T/err2"
	[ ! -s "$T/err2" ]
	# a public key is no secret: no warning
	umask 022
	el-keygen < /dev/null > /dev/null
	jq -c . "$T/private" | el-keygen pubkey > "$T/pub" 2> "$T/err3"
	[ ! -s "$T/err3" ]
}

@test "bad input: a clear message naming what is wrong, exit 100" {
	run el-keygen pubkey <<< 'not json and not a key'
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: not a private key"* ]]

	run el-keygen pubkey <<< '{"type":"key","private_key":"abc"'
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: not JSON"* ]]

	run el-keygen pubkey <<< '{"type":"key","private_key":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC=="}'
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: private_key: not a key"* ]]
	# never echo key material
	[[ "$output" != *dwdtCnMYpX08* ]]

	run el-keygen pubkey <<< 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp='
	[ "$status" -eq 100 ]
	[[ "$output" == *"not a private key"* ]]
	[[ "$output" != *dwdtCnMYpX08* ]]

	run el-keygen pubkey <<< 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25'
	[ "$status" -eq 100 ]
	[[ "$output" == *"got 40 characters"* ]]

	run el-keygen pubkey <<< '{"type":"peer","public_key":"x"}'
	[ "$status" -eq 100 ]
	[[ "$output" == *'type: "peer" is not a key record'* ]]

	run el-keygen pubkey <<< '{"type":"key","public_key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="}'
	[ "$status" -eq 100 ]
	[[ "$output" == *"private_key: missing"* ]]

	run el-keygen pubkey < /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == *"empty input"* ]]

	printf '\n\ndwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nsecond\n' > "$T/two"
	run el-keygen pubkey < "$T/two"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 4: expected one private key"* ]]

	head -c 70000 /dev/zero | tr '\0' 'A' > "$T/long"
	run el-keygen pubkey < "$T/long"
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: line longer than 65536 bytes"* ]]

	run el-keygen addr --net 10.0.0.300/8 test
	[ "$status" -eq 100 ]
	[[ "$output" == *'--net: "10.0.0.300/8" is not a CIDR'* ]]

	run el-keygen addr --net 10.0.0.1/32 test
	[ "$status" -eq 100 ]
	[[ "$output" == *"leaves no host bits"* ]]

	run el-keygen addr --ll AAAA
	[ "$status" -eq 100 ]
	[[ "$output" == *'--ll: "AAAA" is not a public key'* ]]
}

@test "a key wg prints with a trailing newline or spaces is accepted as wg accepts it" {
	k=$(wg genkey)
	[ "$(printf '%s  \n' "$k" | el-keygen pubkey --raw)" = "$(echo "$k" | wg pubkey)" ]
	[ "$(printf '%s' "$k" | el-keygen pubkey --raw)" = "$(echo "$k" | wg pubkey)" ]
}

@test "usage: --help teaches on stdout, --version, bad usage exits 100" {
	run el-keygen --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: el-keygen"* ]]
	[[ "$output" == *"Examples:"* ]]
	run el-keygen --version
	[ "$status" -eq 0 ]
	[[ "$output" == "el-keygen (edgelink) "* ]]
	run el-keygen --bogus
	[ "$status" -eq 100 ]
	[[ "$output" == *"unknown option --bogus"* ]]
	run el-keygen frobnicate
	[ "$status" -eq 100 ]
	run el-keygen addr
	[ "$status" -eq 100 ]
	run el-keygen addr --net 10.0.0.0/8
	[ "$status" -eq 100 ]
	[[ "$output" == *"NAME is missing"* ]]
	run el-keygen --out
	[ "$status" -eq 100 ]
	run el-keygen --ll 6X/iz1GyW9euj9JIdP7PUl14eoWyoQiAa+BDTB38GhE=
	[ "$status" -eq 100 ]
}
