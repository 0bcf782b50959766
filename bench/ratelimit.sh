#!/usr/bin/env bash
# bench/ratelimit.sh: does a fleet of workers keep a vendor's rate together?
# FLEET workers (3) with NXCLOUD_RATE=RATE (20) deliver CALLS NXCloud calls (300:
# CALLS*100 numbers in parts of 100, one call a part) to the fake vendor; the fake
# counts calls per whole second. Reports achieved calls/s (calls / (batch
# finished_at - worker start)) and the busiest one-second window. Redis DB 14 is
# flushed before and after. Results go to $BENCH_DIR/results/ratelimit.jsonl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FLEET=${FLEET:-3}
RATE=${RATE:-20}
CALLS=${CALLS:-300}
PART=100
CONCURRENCY=${CONCURRENCY:-20}
FAKE_ADDR=${FAKE_ADDR:-127.0.0.1:19192}
DB=14
run_id=$(date -u +%Y%m%dT%H%M%SZ)
work=$BENCH_DIR/ratelimit-$run_id
mkdir -p "$work"

trap 'stop_all; flush_db $DB || true' EXIT
trap 'exit 130' INT TERM

build
numbers=$((CALLS * PART))
file=$BENCH_DIR/data/clean-$numbers.txt
[[ -s $file ]] || "$bin/gen" -n "$numbers" -format lines -bad 0 -dup 0 -seed 3 -o "$file" 2>"$file.gen.json"
eval "$("$bin/env" -base "http://$FAKE_ADDR" -key "$work/speech.pem")"

wait_quiet
load_before=$(load1)
flush_db $DB
start_fake "$FAKE_ADDR" "$work/fake.log"
REDIS_URL=$BENCH_REDIS/$DB "$bin/enqueue" -vendor nxcloud -campaign "$bench_root/examples/nxcloud.json" \
	-part-size $PART -json "$file" >"$work/enqueue.json" 2>/dev/null
batch=$(jq -r .batch "$work/enqueue.json")
log "$FLEET workers, NXCLOUD_RATE=$RATE, $CALLS calls"
workers=()
t0=$(now)
for i in $(seq "$FLEET"); do
	REDIS_URL=$BENCH_REDIS/$DB WORKER_CONCURRENCY=$CONCURRENCY WORKER_HTTP_ADDR=127.0.0.1:0 LOG_LEVEL=warn NXCLOUD_RATE=$RATE \
		"$bin/worker" >"$work/worker-$i.log" 2>&1 &
	workers+=($!)
	bench_pids+=($!)
done
ok=true
wait_finished $DB "$batch" $((CALLS / RATE * 4 + 60)) >"$work/status.json" || ok=false
t1=$(now)
curl -sf "http://$FAKE_ADDR/_admin/stats" >"$work/stats.json"
stop_all
finished_at=$(jq -r '.finished_at // empty' "$work/status.json")
end=$t1
[[ -n $finished_at ]] && end=$(epoch_of "$finished_at")

jq -c -n --arg run "$run_id" --argjson fleet "$FLEET" --argjson rate "$RATE" --argjson ok "$ok" \
	--argjson seconds "$(echo "$end - $t0" | bc)" --argjson load_before "$load_before" --argjson load_after "$(load1)" \
	--slurpfile st "$work/status.json" --slurpfile stats "$work/stats.json" '
	($st[0]) as $st | ($stats[0]) as $s | ($s.per_second.nxcloud // []) as $ps |
	{
		run: $run, workers: $fleet, rate: $rate, finished: ($ok and $st.finished), delivered: $st.delivered,
		calls: $s.calls.nxcloud, seconds: ($seconds * 100 | round / 100),
		calls_per_second: ($s.calls.nxcloud / $seconds * 10 | round / 10),
		max_calls_in_a_second: $s.max_per_second.nxcloud,
		per_second: $ps,
		load_before: $load_before, load_after: $load_after
	}' | tee -a "$BENCH_DIR/results/ratelimit.jsonl" >"$work/result.json"
cat "$work/result.json"

echo
echo "Machine: $(machine)"
echo "Run: $run_id, bench/ratelimit.sh FLEET=$FLEET RATE=$RATE CALLS=$CALLS"
echo
echo "| workers | NXCLOUD_RATE | calls | wall | achieved calls/s | busiest one-second window | calls per second | load |"
echo "|---:|---:|---:|---:|---:|---:|---|---|"
jq -r '"| \(.workers) | \(.rate) | \(.calls) | \(.seconds) s | \(.calls_per_second) | \(.max_calls_in_a_second) | \(.per_second | map(tostring) | join(" ")) | \(.load_before)/\(.load_after) |"' "$work/result.json"
