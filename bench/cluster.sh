#!/usr/bin/env bash
# bench/cluster.sh: enqueue and delivery rates on a 3-master Redis Cluster beside a
# single Redis, same machine, same run. Both are redis-servers this script starts
# on free loopback ports under $BENCH_DIR (AOF with appendfsync always, as the
# worker requires), so the shared Redis on 6379 is not touched.
#
# For each target (single, cluster): enqueue NUMBERS distinct numbers to yccall in
# PART-number parts (rows/s = read / wall time of the enqueue process), then start
# WORKERS workers (WORKER_CONCURRENCY each) and time until the batch is finished
# (numbers/s); the fake vendor's ledger must hold every number once. REPLICAS=1
# gives the single Redis and every cluster master a replica: the worker then
# confirms each in-flight mark with WAIT 1, and the figures show what that costs.
# Results go to $BENCH_DIR/results/cluster.jsonl and a markdown table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NUMBERS=${NUMBERS:-200000}
PART=${PART:-10000}
# CALL: numbers per vendor call (default the vendor's limit); each call is one
# in-flight mark, so small calls show the cost of confirming marks.
CALL=${CALL:-0}
WORKERS=${WORKERS:-2}
REPLICAS=${REPLICAS:-0}
CONCURRENCY=${CONCURRENCY:-20}
FAKE_ADDR=${FAKE_ADDR:-127.0.0.1:19193}
DELIVER_TIMEOUT=${DELIVER_TIMEOUT:-900}
run_id=$(date -u +%Y%m%dT%H%M%SZ)
work=$BENCH_DIR/cluster-$run_id
mkdir -p "$work"

trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# free_port: a loopback port free now, with its cluster bus port (+10000) free too.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null && continue
		echo "$p"
		return
	done
}

# start_redis DIR PORT ARGS...: a redis-server of this script's own.
start_redis() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes --appendfsync always \
		--logfile "$dir/redis.log" "$@" &
	bench_pids+=($!)
	for _ in $(seq 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "redis-server on $port did not start: see $dir/redis.log"
}

build
file=$BENCH_DIR/data/clean-$NUMBERS.txt
if [[ ! -s $file ]]; then
	log "generating $file"
	"$bin/gen" -n "$NUMBERS" -format lines -bad 0 -dup 0 -seed 2 -o "$file" 2>"$file.gen.json"
fi
eval "$("$bin/env" -base "http://$FAKE_ADDR" -key "$work/speech.pem")"
start_fake "$FAKE_ADDR" "$work/fake.log"

single_port=$(free_port)
start_redis "$work/single" "$single_port"
if ((REPLICAS > 0)); then
	start_redis "$work/single-replica" "$(free_port)" --replicaof 127.0.0.1 "$single_port" --repl-diskless-sync-delay 0
fi
cluster_addrs=()
for i in $(seq $((3 * (1 + REPLICAS)))); do
	p=$(free_port)
	start_redis "$work/node$i" "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
		--repl-diskless-sync-delay 0
	cluster_addrs+=("127.0.0.1:$p")
done
redis-cli --cluster create "${cluster_addrs[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >"$work/cluster-create.log" 2>&1 ||
	die "redis-cli --cluster create failed: see $work/cluster-create.log"
for _ in $(seq 300); do
	redis-cli -p "${cluster_addrs[0]##*:}" cluster info | grep -q cluster_state:ok && break
	sleep 0.1
done
# Replicas must be online before the workers start: their durability check counts them.
if ((REPLICAS > 0)); then
	for _ in $(seq 300); do
		online=0
		for a in "${cluster_addrs[@]}"; do
			redis-cli -p "${a##*:}" info replication | grep -q 'state=online' && online=$((online + 1))
		done
		redis-cli -p "$single_port" info replication | grep -q 'state=online' && online=$((online + 1))
		((online >= 4)) && break
		sleep 0.1
	done
fi

declare -A target_env=(
	[single]="REDIS_URL=redis://127.0.0.1:$single_port/0"
	[cluster]="REDIS_CLUSTER_ADDRS=$(
		IFS=,
		echo "${cluster_addrs[*]}"
	)"
)
results=$BENCH_DIR/results/cluster.jsonl

for target in single cluster; do
	renv=${target_env[$target]}
	wait_quiet
	load_before=$(load1)
	curl -sf -X POST "http://$FAKE_ADDR/_admin/reset" || die "fake reset failed"
	log "$target: enqueue $NUMBERS numbers (parts of $PART)"
	t0=$(now)
	env "$renv" "$bin/enqueue" -vendor yccall -campaign "$bench_root/examples/yccall.json" \
		-part-size "$PART" -call-size "$CALL" -json "$file" >"$work/enqueue-$target.json" 2>"$work/enqueue-$target.err" ||
		die "enqueue on $target failed: see $work/enqueue-$target.err"
	t1=$(now)
	batch=$(jq -r .batch "$work/enqueue-$target.json")

	log "$target: $WORKERS worker(s) × $CONCURRENCY"
	workers=()
	t2=$(now)
	for i in $(seq "$WORKERS"); do
		env "$renv" WORKER_CONCURRENCY="$CONCURRENCY" WORKER_HTTP_ADDR=127.0.0.1:0 LOG_LEVEL=warn \
			"$bin/worker" >"$work/worker-$target-$i.log" 2>&1 &
		workers+=($!)
		bench_pids+=($!)
	done
	ok=true
	deadline=$(($(date +%s) + DELIVER_TIMEOUT))
	while :; do
		st=$(env "$renv" "$bin/enqueue" status -json "$batch")
		jq -e '.finished' <<<"$st" >/dev/null && break
		if (($(date +%s) > deadline)); then
			ok=false
			break
		fi
		sleep 0.5
	done
	echo "$st" >"$work/status-$target.json"
	t3=$(now)
	for p in "${workers[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# WAITs run on the masters: the proof that marks were confirmed.
	waits=0
	if [[ $target == single ]]; then ports=$single_port; else ports=$(printf '%s\n' "${cluster_addrs[@]}" | sed 's/.*://'); fi
	for p in $ports; do
		n=$(redis-cli -p "$p" info commandstats | tr -d '\r' | awk -F'[=,:]' '$1=="cmdstat_wait"{print $3}')
		waits=$((waits + ${n:-0}))
	done
	finished_at=$(jq -r '.finished_at // empty' "$work/status-$target.json")
	end=$t3
	[[ -n $finished_at ]] && end=$(epoch_of "$finished_at")
	curl -sf "http://$FAKE_ADDR/_admin/ledger?vendor=yccall" |
		jq -c '{ledger_numbers: (.numbers | length), ledger_repeats: ([.numbers[] | select(. != 1)] | length)}' >"$work/ledger-$target.json"

	jq -c -n --arg run "$run_id" --arg target "$target" --argjson replicas "$REPLICAS" --argjson waits "$waits" --argjson call "$CALL" --argjson workers "$WORKERS" --argjson concurrency "$CONCURRENCY" \
		--argjson part "$PART" --argjson ok "$ok" \
		--argjson enqueue_s "$(echo "$t1 - $t0" | bc)" --argjson deliver_s "$(echo "$end - $t2" | bc)" \
		--argjson load_before "$load_before" --argjson load_after "$(load1)" \
		--slurpfile sum "$work/enqueue-$target.json" --slurpfile st "$work/status-$target.json" \
		--slurpfile ledger "$work/ledger-$target.json" '
		($sum[0]) as $sum | ($st[0]) as $st | ($ledger[0]) as $l |
		{
			run: $run, target: $target, replicas: $replicas, wait_commands: $waits, call_size: $call, workers: $workers, concurrency: $concurrency, part_size: $part,
			read: $sum.read, enqueue_seconds: ($enqueue_s * 100 | round / 100), rows_per_second: ($sum.read / $enqueue_s | floor),
			finished: ($ok and $st.finished), delivered: $st.delivered,
			deliver_seconds: ($deliver_s * 100 | round / 100), numbers_per_second: ($st.delivered / $deliver_s | floor),
			ledger_numbers: $l.ledger_numbers, ledger_repeats: $l.ledger_repeats,
			load_before: $load_before, load_after: $load_after
		}' | tee -a "$results"
done

echo
echo "Machine: $(machine)"
echo "Run: $run_id, bench/cluster.sh NUMBERS=$NUMBERS PART=$PART WORKERS=$WORKERS CONCURRENCY=$CONCURRENCY CALL=$CALL REPLICAS=$REPLICAS (AOF appendfsync always on every node)"
echo
echo "| Redis (replicas per master) | enqueue rows/s | delivery numbers/s ($WORKERS × $CONCURRENCY workers) | WAITs | ledger | load before/after |"
echo "|---|---:|---:|---:|---|---|"
jq -r --arg run "$run_id" 'select(.run == $run) |
	"| \(.target) (\(.replicas)) | \(.rows_per_second) (\(.enqueue_seconds) s) | \(.numbers_per_second) (\(.deliver_seconds) s) | \(.wait_commands) | \(.ledger_numbers) numbers, \(.ledger_repeats) repeated | \(.load_before)/\(.load_after) |"' "$results"
