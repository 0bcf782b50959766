#!/usr/bin/env bash
# bench/deliver.sh: how fast workers deliver a batch to the fake vendor over
# loopback HTTP, and their peak memory.
#
# NUMBERS distinct numbers (default 1,000,000) go to yccall in PART-number parts
# (10,000); for each added latency (0 and 200 ms) and each fleet size (1 and 3
# workers, WORKER_CONCURRENCY each), the batch is enqueued first, then the workers
# start; numbers/s is accepted numbers / (batch finished_at - worker start). The
# fake vendor runs on the same machine and its CPU counts against the workers'.
# Redis DB 11 is flushed before and after. Results go to
# $BENCH_DIR/results/deliver.jsonl and a markdown table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NUMBERS=${NUMBERS:-1000000}
PART=${PART:-10000}
CONCURRENCY=${CONCURRENCY:-20}
FLEETS=${FLEETS:-"1 3"}
LATENCIES=${LATENCIES:-"0 200"}
FAKE_ADDR=${FAKE_ADDR:-127.0.0.1:19191}
# WORKER_ENV adds variables to each worker, e.g. WORKER_ENV="GOMEMLIMIT=150MiB".
WORKER_ENV=${WORKER_ENV:-}
DELIVER_TIMEOUT=${DELIVER_TIMEOUT:-900}
DB=11
run_id=$(date -u +%Y%m%dT%H%M%SZ)
work=$BENCH_DIR/deliver-$run_id
mkdir -p "$work"

trap 'stop_all; flush_db $DB || true' EXIT
trap 'exit 130' INT TERM

build
file=$BENCH_DIR/data/clean-$NUMBERS.txt
if [[ ! -s $file ]]; then
	log "generating $file"
	"$bin/gen" -n "$NUMBERS" -format lines -bad 0 -dup 0 -seed 2 -o "$file" 2>"$file.gen.json"
fi
eval "$("$bin/env" -base "http://$FAKE_ADDR" -key "$work/speech.pem")"
results=$BENCH_DIR/results/deliver.jsonl

for lat in $LATENCIES; do
	start_fake "$FAKE_ADDR" "$work/fake-$lat.log" -latency-ms "$lat"
	for fleet in $FLEETS; do
		wait_quiet
		load_before=$(load1)
		flush_db $DB
		curl -sf -X POST "http://$FAKE_ADDR/_admin/reset" || die "fake reset failed"
		log "enqueue $NUMBERS numbers (parts of $PART)"
		REDIS_URL=$BENCH_REDIS/$DB "$bin/enqueue" -vendor yccall -campaign "$bench_root/examples/yccall.json" \
			-part-size "$PART" -json "$file" >"$work/enqueue-$lat-$fleet.json" 2>/dev/null
		batch=$(jq -r .batch "$work/enqueue-$lat-$fleet.json")
		fake_cpu0=$(cpu_s "$fake_pid")

		log "latency ${lat}ms: $fleet worker(s), concurrency $CONCURRENCY"
		workers=()
		t0=$(now)
		for i in $(seq "$fleet"); do
			# shellcheck disable=SC2086 # WORKER_ENV is a list of NAME=value words
			env REDIS_URL="$BENCH_REDIS/$DB" WORKER_CONCURRENCY="$CONCURRENCY" WORKER_HTTP_ADDR=127.0.0.1:0 LOG_LEVEL=warn $WORKER_ENV \
				"$bin/worker" >"$work/worker-$lat-$fleet-$i.log" 2>&1 &
			workers+=($!)
			bench_pids+=($!)
		done
		ok=true
		wait_finished $DB "$batch" "$DELIVER_TIMEOUT" >"$work/status-$lat-$fleet.json" || ok=false
		t1=$(now)
		rss=() cpu=()
		for p in "${workers[@]}"; do
			rss+=("$(vmhwm_kb "$p")")
			cpu+=("$(cpu_s "$p")")
		done
		fake_cpu1=$(cpu_s "$fake_pid")
		for p in "${workers[@]}"; do
			kill "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		done
		bench_pids=("$fake_pid")
		curl -sf "http://$FAKE_ADDR/_admin/stats" >"$work/stats-$lat-$fleet.json"
		# The ledger must hold every number exactly once.
		curl -sf "http://$FAKE_ADDR/_admin/ledger?vendor=yccall" |
			jq -c '{ledger_numbers: (.numbers | length), ledger_repeats: ([.numbers[] | select(. != 1)] | length), vendor_tasks: .tasks}' \
				>"$work/ledger-$lat-$fleet.json"
		finished_at=$(jq -r '.finished_at // empty' "$work/status-$lat-$fleet.json")
		end=$t1
		[[ -n $finished_at ]] && end=$(epoch_of "$finished_at")

		jq -c -n --arg run "$run_id" --arg worker_env "$WORKER_ENV" --argjson latency "$lat" --argjson fleet "$fleet" \
			--argjson concurrency "$CONCURRENCY" --argjson part "$PART" --argjson ok "$ok" \
			--argjson seconds "$(echo "$end - $t0" | bc)" --argjson polled "$(echo "$t1 - $t0" | bc)" \
			--argjson rss_kb "[$(
				IFS=,
				echo "${rss[*]}"
			)]" \
			--argjson worker_cpu "[$(
				IFS=,
				echo "${cpu[*]}"
			)]" \
			--argjson fake_cpu "$(echo "$fake_cpu1 - $fake_cpu0" | bc)" \
			--argjson load_before "$load_before" --argjson load_after "$(load1)" \
			--slurpfile st "$work/status-$lat-$fleet.json" --slurpfile stats "$work/stats-$lat-$fleet.json" \
			--slurpfile ledger "$work/ledger-$lat-$fleet.json" '
			($st[0]) as $st | ($stats[0]) as $stats | ($ledger[0]) as $l |
			{
				run: $run, latency_ms: $latency, workers: $fleet, concurrency: $concurrency, part_size: $part, worker_env: $worker_env,
				finished: ($ok and $st.finished), accepted: $st.accepted, delivered: $st.delivered,
				seconds: ($seconds * 100 | round / 100), polled_seconds: ($polled * 100 | round / 100),
				numbers_per_second: ($st.delivered / $seconds | floor),
				calls: $stats.calls.yccall, calls_per_second: ($stats.calls.yccall / $seconds * 10 | round / 10),
				max_calls_in_a_second: $stats.max_per_second.yccall,
				worker_peak_rss_mb: [$rss_kb[] / 1024 | . * 10 | round / 10],
				worker_cpu_seconds: $worker_cpu, fake_cpu_seconds: $fake_cpu,
				ledger_numbers: $l.ledger_numbers, ledger_repeats: $l.ledger_repeats, vendor_tasks: $l.vendor_tasks,
				load_before: $load_before, load_after: $load_after
			}' | tee -a "$results"
	done
	stop_all
done

echo
echo "Machine: $(machine)"
echo "Run: $run_id, bench/deliver.sh NUMBERS=$NUMBERS PART=$PART CONCURRENCY=$CONCURRENCY${WORKER_ENV:+ WORKER_ENV=\"$WORKER_ENV\"}"
echo
echo "| vendor latency | workers × concurrency | numbers/s | wall | calls/s | worker peak RSS | worker CPU s | fake CPU s | ledger | load |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"
jq -r --arg run "$run_id" 'select(.run == $run) |
	"| \(.latency_ms) ms | \(.workers) × \(.concurrency) | \(.numbers_per_second) | \(.seconds) s | \(.calls_per_second) | \(.worker_peak_rss_mb | map(tostring + " MiB") | join(", ")) | \(.worker_cpu_seconds | map(tostring) | join(", ")) | \(.fake_cpu_seconds) | \(.ledger_numbers) numbers, \(.ledger_repeats) repeated | \(.load_before)/\(.load_after) |"' "$results"
