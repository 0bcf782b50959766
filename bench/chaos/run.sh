#!/usr/bin/env bash
# bench/chaos/run.sh: the chaos test (e2e/chaos_test.go). Three workers are
# SIGKILLed at random every 5-15 s and restarted, and Redis is shut down and
# restarted once, while 200,000 numbers go to a fake vendor that fails calls in
# every way it can; then every number must be accounted for exactly once.
#
#   bench/chaos/run.sh [DURATION]      DURATION of the kills, e.g. 90s, 5m (default 3m)
#
# Needs go and redis-server on PATH. The test runs its own redis-server (append-only,
# on a free port, in a temporary directory): REDIS_URL is not used. Settling after
# the chaos takes up to a few minutes more (asynq recovers a killed worker's parts
# once their leases expire). CHAOS_TIMEOUT sets go test's -timeout (default 60m).
set -euo pipefail

dur=${1:-${CHAOS_DURATION:-3m}}
[[ $dur =~ ^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$ ]] || { echo "chaos: DURATION must look like 90s or 5m, not '$dur'" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "chaos: redis-server is not on PATH" >&2; exit 1; }

cd "$(dirname "$0")/../.."
exec go test -tags chaos -run '^TestChaos$' -count=1 -timeout "${CHAOS_TIMEOUT:-60m}" -v ./e2e -args -chaos.duration "$dur"
