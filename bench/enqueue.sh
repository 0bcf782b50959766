#!/usr/bin/env bash
# bench/enqueue.sh: how fast enqueue turns a list into parts in Redis, how much
# memory it takes, against the raw validation rate of the same file (no Redis) and
# a naive producer that puts one asynq task per number.
#
#   bench/enqueue.sh                      # the README's cases
#   CASES="1000000:csv" bench/enqueue.sh  # rows:format ...
#   VALIDATORS=compiled NAIVE_ROWS=0 bench/enqueue.sh
#
# Each case runs once per validator in VALIDATORS: "compiled" (the default path:
# package phonenum, libphonenumber for what it leaves) and "libphonenumber"
# (DIALQ_PHONE_VALIDATOR=libphonenumber: every number through libphonenumber, the
# path before issue 12). NAIVE_ROWS=0 skips the naive producer.
#
# Lists are generated once (deterministic, seed 1) under $BENCH_DIR/data. Redis DB
# 10 (enqueue) and 12 (naive) are flushed before and after. Results are appended to
# $BENCH_DIR/results/enqueue.jsonl and printed as a markdown table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CASES=${CASES:-"1000000:lines 1000000:csv 1000000:jsonl 10000000:csv"}
NAIVE_ROWS=${NAIVE_ROWS:-100000}
VALIDATORS=${VALIDATORS:-"compiled libphonenumber"}
# Each step gets at most STEP_TIMEOUT seconds.
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
DB=10
NAIVE_DB=12
run_id=$(date -u +%Y%m%dT%H%M%SZ)
work=$BENCH_DIR/enqueue-$run_id
mkdir -p "$work"

cleanup() {
	flush_db $DB || true
	flush_db $NAIVE_DB || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build
results=$BENCH_DIR/results/enqueue.jsonl
for c in $CASES; do
	rows=${c%%:*} format=${c##*:}
	ext=$format
	[[ $format == lines ]] && ext=txt
	file=$BENCH_DIR/data/list-$rows.$ext
	if [[ ! -s $file || ! -s $file.gen.json ]]; then
		log "generating $file"
		"$bin/gen" -n "$rows" -format "$format" -seed 1 -o "$file" 2>"$file.gen.json"
	fi

	for val in $VALIDATORS; do
	wait_quiet
	load_before=$(load1)
	log "validate $file ($val)"
	DIALQ_PHONE_VALIDATOR=$val /usr/bin/time -v -o "$work/time-validate-$c-$val.txt" timeout "$STEP_TIMEOUT" \
		"$bin/validate" -vendor yccall "$file" >"$work/validate-$c-$val.json"

	wait_quiet
	flush_db $DB
	mem0=$(redis_used_memory)
	log "enqueue $file ($val)"
	t0=$(now)
	DIALQ_PHONE_VALIDATOR=$val REDIS_URL=$BENCH_REDIS/$DB /usr/bin/time -v -o "$work/time-$c-$val.txt" timeout "$STEP_TIMEOUT" \
		"$bin/enqueue" -vendor yccall -campaign "$bench_root/examples/yccall.json" -json "$file" >"$work/enqueue-$c-$val.json"
	t1=$(now)
	mem1=$(redis_used_memory)
	flush_db $DB

	echo '{"rows":0,"rows_per_second":0,"extrapolated_seconds":0,"redis_bytes_per_number":0}' >"$work/naive-$c.json"
	if ((NAIVE_ROWS > 0)) && [[ $val == "${VALIDATORS%% *}" ]]; then
		wait_quiet
		flush_db $NAIVE_DB
		log "naive: first $NAIVE_ROWS rows of $file"
		REDIS_URL=$BENCH_REDIS/$NAIVE_DB timeout "$STEP_TIMEOUT" "$bin/naive" -limit "$NAIVE_ROWS" -total "$rows" "$file" >"$work/naive-$c.json"
		flush_db $NAIVE_DB
	fi
	load_after=$(load1)

	jq -c -n \
		--arg case "$c" --arg file "$file" --arg run "$run_id" --arg validator "$val" \
		--argjson wall "$(echo "$t1 - $t0" | bc)" \
		--argjson rss_kb "$(max_rss_kb "$work/time-$c-$val.txt")" \
		--argjson cpu_s "$(cpu_seconds "$work/time-$c-$val.txt")" \
		--argjson validate_rss_kb "$(max_rss_kb "$work/time-validate-$c-$val.txt")" \
		--argjson validate_cpu_s "$(cpu_seconds "$work/time-validate-$c-$val.txt")" \
		--argjson redis_bytes "$((mem1 - mem0))" \
		--argjson load_before "$load_before" --argjson load_after "$load_after" \
		--slurpfile gen "$file.gen.json" \
		--slurpfile v "$work/validate-$c-$val.json" \
		--slurpfile e "$work/enqueue-$c-$val.json" \
		--slurpfile n "$work/naive-$c.json" '
		($e[0]) as $e | ($v[0]) as $v | ($n[0]) as $n | ($gen[0]) as $g |
		{
			run: $run, case: $case, validator: $validator, format: $e.format, rows: $e.read, distinct: $e.accepted,
			rejected: $e.rejected, duplicates: $e.duplicates, parts: $e.parts,
			gen_bad: $g.bad, gen_duplicates: $g.duplicates, gen_distinct: $g.distinct,
			enqueue_seconds: $wall, enqueue_rows_per_second: ($e.read / $wall | floor),
			enqueue_cpu_us_per_row: ($cpu_s * 1e6 / $e.read * 100 | round / 100),
			enqueue_rss_mb: ($rss_kb / 1024 * 10 | round / 10),
			rss_target_mb: ((64 * 1048576 + 16 * $e.accepted) / 1048576 * 10 | round / 10),
			redis_mb: ($redis_bytes / 1048576 * 10 | round / 10),
			validate_rows_per_second: ($v.rows_per_second | floor), validate_seconds: $v.seconds,
			validate_cpu_us_per_row: ($validate_cpu_s * 1e6 / $v.read * 100 | round / 100),
			validate_rss_mb: ($validate_rss_kb / 1024 * 10 | round / 10),
			naive_rows: $n.rows, naive_rows_per_second: ($n.rows_per_second | floor),
			naive_extrapolated_seconds: $n.extrapolated_seconds, naive_redis_bytes_per_number: $n.redis_bytes_per_number,
			load_before: $load_before, load_after: $load_after
		}' | tee -a "$results"
	# What enqueue counted must be what the generator wrote.
	jq -e -s '.[-1] | .distinct == .gen_distinct and .rejected == .gen_bad + .gen_duplicates' "$results" >/dev/null ||
		log "WARNING: enqueue's counts differ from the generator's (see $results)"
	done
done

echo
echo "Machine: $(machine)"
echo "Run: $run_id, bench/enqueue.sh CASES=\"$CASES\""
echo
echo "| rows | format | validator | enqueue rows/s (wall) | enqueue CPU µs/row | enqueue peak RSS | RSS target (64 MiB + 16 B/number) | validation only rows/s (CPU µs/row, peak RSS) | naive, 1 task/number: rows/s (time for all rows, extrapolated from the first $NAIVE_ROWS) | Redis bytes/number | load before/after |"
echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
jq -r --arg run "$run_id" 'select(.run == $run) |
	"| \(.rows) | \(.format) | \(.validator) | \(.enqueue_rows_per_second) (\(.enqueue_seconds | . * 10 | round / 10) s) | \(.enqueue_cpu_us_per_row) | \(.enqueue_rss_mb) MiB | \(.rss_target_mb) MiB | \(.validate_rows_per_second) (\(.validate_cpu_us_per_row) µs, \(.validate_rss_mb) MiB) | \(if .naive_rows > 0 then "\(.naive_rows_per_second) (~\(.naive_extrapolated_seconds | round) s)" else "—" end) | \(.redis_mb * 1048576 / .distinct | round) | \(.load_before)/\(.load_after) |"' "$results"
