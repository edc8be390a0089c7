#!/usr/bin/env bash
# bench/trust.sh - el-trust as a filter against jq, side by side in one run:
# lines per second through `el-trust` (believing every fact from a trusted
# router, printing them) and through `jq -c 'select(...)'` over the same
# fact stream. Knobs: N=200000 lines, REPS=3. Never a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
N=${N:-200000} REPS=${REPS:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
median() { sort -g | awk '{a[NR]=$1} END{ if(NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }

router=$(el-keygen | jq -r .public_key)
# the device: one router peer that routes 10.0.0.0/8 (so it may tell membership)
printf '{"type":"peer","public_key":"%s","allowed_ips":["10.0.0.0/8"]}\n' "$router" > "$W/device"
subjects=()
for _ in $(seq 50); do subjects+=("$(el-keygen | jq -r .public_key)"); done
echo "bench: making $N fact lines" >&2
awk -v n="$N" -v src="$router" -v subs="${subjects[*]}" 'BEGIN {
	split(subs, s, " ");
	for (i = 0; i < n; i++) {
		k = s[i % 50 + 1];
		if (i % 3 == 0)
			printf "{\"type\":\"fact\",\"subject\":\"%s\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.%d:51820\",\"ttl\":255,\"source\":\"%s\"}\n", k, i % 250 + 1, src;
		else if (i % 3 == 1)
			printf "{\"type\":\"fact\",\"subject\":\"%s\",\"attribute\":\"allowed_ip\",\"value\":\"10.%d.0.0/16\",\"ttl\":255,\"source\":\"%s\"}\n", k, i % 250, src;
		else
			printf "{\"type\":\"fact\",\"subject\":\"%s\",\"attribute\":\"member\",\"value\":null,\"ttl\":255,\"source\":\"%s\"}\n", k, src;
	}
}' > "$W/facts"
run() { # seconds for one pass of "$@" over the facts
	local t0 t1
	t0=$(date +%s%N); "$@" < "$W/facts" > "$W/out"; t1=$(date +%s%N)
	echo "scale=6; ($t1 - $t0) / 1000000000" | bc
}
ours=() anchor=()
for _ in $(seq "$REPS"); do
	ours+=("$(run el-trust --device "$W/device")")
	anchor+=("$(run jq -c 'select(.type == "fact" and .source != null)')")
done
o=$(printf '%s\n' "${ours[@]}" | median)
a=$(printf '%s\n' "${anchor[@]}" | median)
printf '%-34s %12s %12s %8s\n' figure el-trust jq ratio
printf '%-34s %12.0f %12.0f %8.2f\n' "fact lines per second" "$(echo "$N / $o" | bc -l)" \
	"$(echo "$N / $a" | bc -l)" "$(echo "$a / $o" | bc -l)"
echo "(el-trust decides trust for every line; jq only selects. ratio = el-trust speed / jq speed)"
