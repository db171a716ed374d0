#!/usr/bin/env bash
# Load test of the control plane on loopback with wrk (Debian package): durable
# job submissions, GET of one job, and a list of 100 jobs. Starts its own
# server on a fresh SQLite store in a temporary folder and stops it after.
#
#   bench/api/run.sh [STRAITS_BINARY]      (default build/straits)
#   DURATION=10s CONNECTIONS=32 THREADS=32 bench/api/run.sh
#   SERVE_FLAGS="--io-threads 2" bench/api/run.sh    (more flags for `straits serve`)
#
# The server's default --rate-limit is far above what one wrk token sends here.
#
# Prints, per case: requests/s, p50 and p99 latency, and error answers; and
# checks after a restart that the store holds every acknowledged submission.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straits=$(realpath "${1:-build/straits}")
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
server_threads=${THREADS:-32}
command -v wrk >/dev/null || { echo "bench/api/run.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }

dir=$(mktemp -d /tmp/straits-api-bench.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_server() {
  "$straits" serve --listen 127.0.0.1:0 --store "sqlite:$dir/bench.db" --schedule-interval 0 \
    --threads "$server_threads" --quiet ${SERVE_FLAGS:-} >"$dir/out" 2>"$dir/err" &
  server=$!
  for _ in $(seq 100); do
    grep -q "serving on" "$dir/out" 2>/dev/null && break
    sleep 0.1
  done
  url=$(sed -n 's/^straits serving on \(http[^ ]*\).*/\1/p' "$dir/out")
  [ -n "$url" ] || { cat "$dir/err" >&2; exit 1; }
}

# wrk's output -> "rps p50 p99 errors"
summarise() {
  awk '/Requests\/sec/ {rps=$2}
       /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /error answers/ {err=$3}
       END {printf "%s %s %s %s\n", rps, p50, p99, err}'
}

run_case() {  # name, wrk args...
  local name=$1
  shift
  local result
  result=$(wrk -t2 -c"$connections" -d"$duration" --latency "$@" | tee "$dir/$name.wrk" | summarise)
  read -r rps p50 p99 errors <<<"$result"
  printf "| %-22s | %10s | %8s | %8s | %6s |\n" "$name" "$rps" "$p50" "$p99" "$errors"
}

start_server
export STRAITS_TOKEN
STRAITS_TOKEN=$(sed -n 's/^ *export STRAITS_TOKEN=//p' "$dir/out")
echo "straits $("$straits" --version | cut -d' ' -f2), wrk -t2 -c$connections -d$duration, server --threads $server_threads, $(nproc) cores"
printf "| %-22s | %10s | %8s | %8s | %6s |\n" case "requests/s" p50 p99 errors
printf "|%s|%s|%s|%s|%s|\n" "------------------------" "------------" "----------" "----------" "--------"
run_case "submit job (durable)" -s "$here/submit.lua" "$url/v1/jobs"
acknowledged=$(awk '/requests in/ {print $1}' "$dir/submit job (durable).wrk")
run_case "get job" -s "$here/get.lua" "$url/v1/jobs/j-00000001"
run_case "list 100 jobs" -s "$here/get.lua" "$url/v1/jobs?limit=100"

# Every acknowledged submission survives a restart (wrk counts requests it
# sent; those still in flight when it stopped may be stored unacknowledged).
kill -TERM "$server"
wait "$server" || true
start_server
stored=$(curl -s "$url/healthz" | sed 's/.*"jobs":\([0-9]*\).*/\1/')
echo "submissions answered: $acknowledged; jobs in the store after a restart: $stored"
