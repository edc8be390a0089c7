#!/usr/bin/env bash
# bench/link.sh - el-link's userspace WireGuard against wireguard-go, side by
# side in one run, on the same two namespaces (topology: tests/netns.bash).
#
# For each implementation on side A (side B is always wireguard-go):
#   start: daemon start -> configured -> first ping answered (ms, median)
#   rtt:   ping through the tunnel (ms, median of 100)
#   tcp:   iperf3 A->B, Mbit/s (median of REPS runs of T seconds)
#   cpu:   CPU seconds of side A's daemon per gigabyte carried
#   rx:    iperf3 B->A (side A receives), Mbit/s, and its CPU per GB
#   pair:  both sides started from nothing to the first ping: our EdgeLink
#          pipelines (el-keygen | el-keyx | el-link, key exchange included)
#          against wireguard-go on both sides configured by hand
# and prints each figure with the ratio ours / wireguard-go's.
# Figures are noisy on a shared 2-core machine: compare within one run.
# Knobs: T=5 REPS=3 STARTS=5. Needs root. Never a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
T=${T:-5} REPS=${REPS:-3} STARTS=${STARTS:-5}
# shellcheck source=../tests/netns.bash
source tests/netns.bash
PING_GAP=0.002   # timings: retry a failed ping at once
skip() { echo "bench: $*" >&2; exit 0; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 111; }
for c in wireguard-go wg iperf3 jq; do command -v $c >/dev/null || { echo "bench: needs $c" >&2; exit 111; }; done

# tcp IMPL TP-KEY CPU-KEY [iperf3 options]: REPS iperf3 runs from A to B
# (with -R, B to A); the medians of Mbit/s and of A's daemon's CPU seconds
# per GB go to R[IMPL.TP-KEY] and R[IMPL.CPU-KEY].
tcp() {
	local impl=$1 tk=$2 ck=$3 c0 c1 bits bytes tp=() cpu=()
	shift 3
	for _ in $(seq "$REPS"); do
		c0=$(cputicks "$APID")
		A iperf3 -c 10.0.0.2 "$@" -t "$T" -J > "$W/ip.json"
		c1=$(cputicks "$APID")
		bits=$(jq '.end.sum_received.bits_per_second' "$W/ip.json")
		bytes=$(jq '.end.sum_received.bytes' "$W/ip.json")
		tp+=($(echo "$bits / 1000000" | bc -l))
		cpu+=($(echo "($c1 - $c0) / $(getconf CLK_TCK) / ($bytes / 1000000000)" | bc -l))
	done
	R[$impl.$tk]=$(printf '%s\n' "${tp[@]}" | median)
	R[$impl.$ck]=$(printf '%s\n' "${cpu[@]}" | median)
}

W=$(mktemp -d)
trap 'netns_down; rm -rf "$W"' EXIT
make_keys "$W"
ela_config "$W" > "$W/a.conf"   # made once, outside the timings
median() { sort -g | awk '{a[NR]=$1} END{ if(NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
cputicks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# side A as IMPL ("ours" or "wggo"); sets APID
start_a() {
	if [ "$1" = ours ]; then
		# --daemon returns once the device is configured and serving
		A el-link up ela0 --daemon < "$W/a.conf"
		APID=$(pgrep -n -f 'el-link up ela0')
	else
		ip netns exec "$NSA" env WG_PROCESS_FOREGROUND=1 wireguard-go -f ela0 > /dev/null 2>&1 &
		APID=$!
		for _ in $(seq 200); do A wg show ela0 > /dev/null 2>&1 && break; sleep 0.005; done
		A wg set ela0 listen-port 51820 private-key "$W/a.key" peer "$(cat "$W/b.pub")" \
			endpoint "$UB:51820" allowed-ips 10.0.0.2/32,fd00::2/128
		A ip addr add 10.0.0.1/24 dev ela0
		A ip link set ela0 up
	fi
}
stop_a() {
	kill "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null || true
	rm -f /var/run/wireguard/ela0.sock
	for _ in $(seq 100); do A ip link show ela0 > /dev/null 2>&1 || break; sleep 0.02; done
}

declare -A R
for impl in wggo ours; do
	netns_up
	wgo_start "$W"
	# start -> first ping
	s=()
	for _ in $(seq "$STARTS"); do
		t0=$(now_ms)
		start_a $impl
		ping_until "$NSA" 10.0.0.2 200
		s+=($(( $(now_ms) - t0 )))
		stop_a
		sleep 0.2
	done
	R[$impl.start]=$(printf '%s\n' "${s[@]}" | median)
	start_a $impl
	ping_until "$NSA" 10.0.0.2 200
	R[$impl.rtt]=$(A ping -n -c 100 -i 0.01 10.0.0.2 | sed -n 's/.*time=\([0-9.]*\).*/\1/p' | median)
	B iperf3 -s -B 10.0.0.2 > /dev/null 2>&1 &
	sleep 0.3
	tcp "$impl" tcp cpu
	tcp "$impl" rx rxcpu -R   # the other way: A's receive path
	stop_a
	netns_down
done

# Whole link from nothing: both sides started at once until the first ping
# is answered. Ours: the EdgeLink pipelines with a key exchange; anchor:
# wireguard-go on both sides configured by hand with keys made beforehand.
pair_start() {
	local t0 s=()
	for _ in $(seq "$STARTS"); do
		netns_up
		t0=$(now_ms)
		if [ "$1" = ours ]; then
			A sh -c "el-keygen | el-keyx listen -q --token '$TOKEN' | el-link up ela0" &
			# started together, the source's first try may find no
			# listener; it tries again 50 ms later (the default is 15 s)
			B sh -c "el-keygen | el-keyx connect -q $UA --token '$TOKEN' --retry-interval 0.05 | el-link up elb0" &
			ping_until "$NSB" 10.0.0.1 4000
		else
			for side in A B; do
				if [ $side = A ]; then ns=$NSA; i=ela0; else ns=$NSB; i=wgo0; fi
				ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go -f $i > /dev/null 2>&1 &
			done
			for _ in $(seq 400); do A wg show ela0 > /dev/null 2>&1 && B wg show wgo0 > /dev/null 2>&1 && break; sleep 0.002; done
			A wg set ela0 listen-port 51820 private-key "$W/a.key" peer "$(cat "$W/b.pub")" \
				endpoint "$UB:51820" allowed-ips 10.0.0.2/32
			B wg set wgo0 listen-port 51820 private-key "$W/b.key" peer "$(cat "$W/a.pub")" \
				endpoint "$UA:51820" allowed-ips 10.0.0.1/32
			A ip addr add 10.0.0.1/24 dev ela0; A ip link set ela0 up
			B ip addr add 10.0.0.2/24 dev wgo0; B ip link set wgo0 up
			ping_until "$NSB" 10.0.0.1 4000
		fi
		s+=($(( $(now_ms) - t0 )))
		netns_down
	done
	printf '%s\n' "${s[@]}" | median
}
TOKEN=$(el-keygen psk --raw)
R[ours.pair]=$(pair_start ours)
R[wggo.pair]=$(pair_start wggo)

printf '%-28s %12s %12s %8s\n' figure el-link wireguard-go ratio
row() { printf '%-28s %12.3f %12.3f %8.2f\n' "$1" "${R[ours.$2]}" "${R[wggo.$2]}" \
	"$(echo "${R[ours.$2]} / ${R[wggo.$2]}" | bc -l)"; }
row "start to first ping (ms)" start
row "ping RTT (ms)" rtt
row "TCP A->B (Mbit/s)" tcp
row "CPU s per GB (side A)" cpu
row "TCP B->A (Mbit/s)" rx
row "CPU s per GB (A receiving)" rxcpu
row "both started to ping (ms)" pair
echo "(ratio = el-link / wireguard-go; higher is better for TCP, lower for the rest)"
