# Shared helpers for the benchmark scripts; source it, do not run it.
# Every script builds the binaries it runs, uses Redis DBs 10-14 only (flushing
# them before and after), and kills what it started on exit.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/dialq-bench}
BENCH_REDIS=${BENCH_REDIS:-redis://127.0.0.1:6379}
# MAX_LOAD: wait (at most WAIT_MAX seconds) until the 1-minute load is below it.
MAX_LOAD=${MAX_LOAD:-1.5}
WAIT_MAX=${WAIT_MAX:-600}
bin=$BENCH_DIR/bin
mkdir -p "$bin" "$BENCH_DIR/data" "$BENCH_DIR/results"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

build() {
	log "building into $bin"
	(cd "$bench_root" && go build -o "$bin/" ./cmd/enqueue ./cmd/worker ./cmd/fakevendor ./bench/gen ./bench/validate ./bench/naive ./bench/env) ||
		die "build failed"
}

# flush_db N: flushes benchmark DB N (10-14 only: tests use 0-9). Test processes
# claim DBs lowest first (internal/testredis keeps dialq:test:db:N in DB 0), so with
# ten or more at once one may hold ours: then stop rather than flush its data.
flush_db() {
	local db=$1 holder
	[[ $db =~ ^1[0-4]$ ]] || die "refusing to flush Redis DB $db: benchmarks use 10-14"
	holder=$(redis-cli -u "$BENCH_REDIS/0" get "dialq:test:db:$db" | tr -d '\r')
	if [[ -n $holder ]] && kill -0 "$holder" 2>/dev/null; then
		die "Redis DB $db is claimed by test process $holder: run the benchmark later"
	fi
	redis-cli -u "$BENCH_REDIS/$db" flushdb >/dev/null || die "redis flushdb $db failed"
}

redis_used_memory() {
	redis-cli -u "$BENCH_REDIS/10" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# wait_quiet: other engineers share this 2-core machine; wait until it is quiet.
wait_quiet() {
	local waited=0
	while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN{exit !(l > m)}'; do
		if ((waited >= WAIT_MAX)); then
			log "load $(load1) still above $MAX_LOAD after ${WAIT_MAX}s: measuring anyway (noted in results)"
			return 0
		fi
		((waited == 0)) && log "load $(load1) > $MAX_LOAD: waiting"
		sleep 10
		waited=$((waited + 10))
	done
}

# cpu_seconds FILE: user + system CPU seconds from a /usr/bin/time -v report.
cpu_seconds() { awk -F': ' '/User time|System time/{s += $2} END{printf "%.2f", s}' "$1"; }

# max_rss_kb FILE: the peak RSS from a /usr/bin/time -v report.
max_rss_kb() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }

# vmhwm_kb PID: a live process's peak RSS.
vmhwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

now() { date +%s.%N; }

machine() {
	printf '%s, %s cores, %s GiB RAM, %s, %s, Redis %s' \
		"$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" "$(nproc)" \
		"$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo)" "$(uname -sr)" \
		"$(go version | awk '{print $3}')" "$(redis-cli -u "$BENCH_REDIS/10" info server | tr -d '\r' | awk -F: '$1=="redis_version"{print $2}')"
}

[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: apt-get install -y time"
command -v jq >/dev/null || die "jq missing: apt-get install -y jq"
command -v redis-cli >/dev/null || die "redis-cli missing"

# cpu_s PID: CPU seconds (user + system) a live process has used.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Background processes this script started; stop_all kills exactly these.
bench_pids=()
stop_all() {
	local p
	for p in "${bench_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${bench_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	bench_pids=()
}

# start_fake ADDR LOG ARGS...: runs the fake vendor in the background (the vendor
# environment must be exported) and waits until it answers.
start_fake() {
	local addr=$1 logf=$2
	shift 2
	curl -s -o /dev/null "http://$addr/healthz" && die "something already listens on $addr: set FAKE_ADDR"
	"$bin/fakevendor" -addr "$addr" "$@" >"$logf" 2>&1 &
	fake_pid=$!
	bench_pids+=("$fake_pid")
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://$addr/healthz" && return 0
		sleep 0.1
	done
	die "fake vendor did not start: see $logf"
}

# wait_finished DB BATCH TIMEOUT: polls enqueue status until the batch is finished
# and prints the last status JSON.
wait_finished() {
	local db=$1 batch=$2 limit=$3 st deadline
	deadline=$(($(date +%s) + limit))
	while :; do
		st=$(REDIS_URL=$BENCH_REDIS/$db "$bin/enqueue" status -json "$batch")
		if jq -e '.finished' <<<"$st" >/dev/null; then
			echo "$st"
			return 0
		fi
		if (($(date +%s) > deadline)); then
			echo "$st"
			log "batch $batch not finished after ${limit}s"
			return 1
		fi
		sleep 0.5
	done
}

# epoch_of RFC3339: seconds since the epoch, with fractions.
epoch_of() { date -d "$1" +%s.%N; }
