#!/usr/bin/env bash
# `make run`: the control plane on an embedded SQLite file (build/run/straits.db) with the
# shipped catalog and default rules, and one site agent on the local backend for the sites of
# the example world, running the example training program (build/examples/jobs/straits-train).
# The first start seeds the example world (examples/serve/seed.json) and prints the admin
# token (also kept in build/run/admin.token). Ctrl-C stops both; `rm -r build/run` starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
URL=http://127.0.0.1:$PORT
mkdir -p build/run
export PATH="$PWD/build/examples/jobs:$PATH"

./build/straits catalog validate
./build/straits serve --listen "127.0.0.1:$PORT" --store sqlite:build/run/straits.db \
  --seed examples/serve/seed.json --token-file build/run/admin.token &
server=$!
agent=""
stop() {
  trap - INT TERM EXIT
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null || true
  [ -n "$agent" ] && wait "$agent" 2>/dev/null || true
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop INT TERM EXIT

# Ready once it answers with the admin token.
for _ in $(seq 300); do
  if [ -s build/run/admin.token ] &&
     STRAITS_URL=$URL STRAITS_TOKEN=$(cat build/run/admin.token) ./build/straits whoami >/dev/null 2>&1; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { echo "run: the server stopped" >&2; exit 1; }
  sleep 0.1
done

./build/straits agent --server "$URL" --token-file build/run/admin.token --backend local \
  --name local-agent --state-dir build/run/agent --allow-admin-token \
  --site sg-tuas-1 --site my-sedenak-1 --site jp-tokyo-1 --site cn-ulanqab-1 &
agent=$!
echo "run: server at $URL and a local agent for sg-tuas-1, my-sedenak-1, jp-tokyo-1, cn-ulanqab-1"
echo "run: export STRAITS_URL=$URL STRAITS_TOKEN=\$(cat build/run/admin.token); ./build/straits job list"
wait "$server"
