#!/bin/sh
# demo.sh - edgelink's main job on an embedded default.
#
# Today: the foundation. Two nodes get key pairs, each learns the other's
# public key, and both derive the addresses edgelink will give them: the
# link-local IPv6 address from the public key (for facts inside the tunnel)
# and an overlay address from the host name (10.0.0.0/24, wesher's rule).
# When el-link lands, this becomes a real link between two network
# namespaces with traffic through it.
set -eu
bin=$(cd "$(dirname "$0")/../.." && pwd)/bin
PATH="$bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
net=${EL_DEMO_NET:-10.0.0.0/24}

for node in alpha beta; do
	el-keygen --out "$tmp/$node.key"
	pub=$(el-keygen pubkey < "$tmp/$node.key" | jq -r .public_key)
	ll=$(el-keygen addr --ll "$pub" --raw)
	ov=$(el-keygen addr --net "$net" "$node" --raw)
	printf '%s: key file %s (mode %s)\n' "$node" "$tmp/$node.key" "$(stat -c %a "$tmp/$node.key")" >&2
	jq -nc --arg n "$node" --arg k "$pub" --arg l "$ll" --arg o "$ov" \
		'{type:"peer", name:$n, public_key:$k, allowed_ips:[$o + "/32", $l + "/128"]}'
done
# wg(8) reads our keys unchanged:
printf 'wg agrees on alpha: %s\n' \
	"$([ "$(jq -r .private_key "$tmp/alpha.key" | wg pubkey)" = "$(jq -r .public_key "$tmp/alpha.key")" ] && echo yes || echo NO)" >&2
