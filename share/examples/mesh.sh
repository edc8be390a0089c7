#!/bin/sh
# mesh.sh - one node of a wirelink-style mesh, as an edgelink pipeline:
#
#   el-facts gossip IFACE | el-trust --iface IFACE --peers | el-link apply IFACE
#
# Facts from peers (gossiped inside the tunnel, signed per recipient) go
# through el-trust, which keeps only what their sources may tell and folds
# them into peer records as they arrive and expire; each record is applied
# to the device at once. A peer gets the allowed IPs facts give it only
# while its own facts keep arriving over its tunnel: when the direct path
# breaks, a router's wider prefix carries its traffic again. The device must be up already (el-link up IFACE).
#
# Usage: mesh.sh IFACE [el-facts gossip options...]
#   env: EL_FACTS_CYCLE, EL_FACTS_TTL, EL_FACTS_ALIVE (short in tests),
#        EL_TRUST_STALE, EL_TRUST_TRY (health and endpoint rotation: keep
#        STALE above twice ALIVE plus a cycle), EL_PUNCH_SERVERS (STUN
#        servers: announce our public endpoint, for peers behind NAT),
#        EL_PUNCH_EVERY,
#        EL_TRUST_POLICY (a policy file), EL_TRUST_EXPLAIN=1 (why facts
#        were rejected, on stderr)
set -eu
[ $# -ge 1 ] || { echo "usage: mesh.sh IFACE [el-facts gossip options]" >&2; exit 100; }
iface=$1; shift
# With STUN servers (EL_PUNCH_SERVERS), el-punch tells gossip where our
# WireGuard port appears from outside, again every EL_PUNCH_EVERY seconds
# (60); without, nothing of our own to announce beyond the local facts.
if [ -n "${EL_PUNCH_SERVERS:-}" ]; then
	el-punch stun "$iface" --every "${EL_PUNCH_EVERY:-60}" |
		el-facts gossip "$iface" "$@"
else
	el-facts gossip "$iface" --no-stdin "$@"
fi |
	el-trust --iface "$iface" --peers |
	while IFS= read -r rec; do
		printf '%s\n' "$rec" | el-link apply "$iface" ||
			echo "mesh.sh: el-link apply failed for: $rec" >&2
	done
