#!/usr/bin/env bash
# `make run`: the control plane on an embedded SQLite file (build/run/straits.db) with the
# shipped catalog and default rules, and one site agent on the local backend for the sites of
# the example world, running the example training program (build/examples/jobs/straits-train).
# The first start seeds the example world (examples/serve/seed.json) and keeps the admin token
# in build/run/admin.token. Ctrl-C stops both; `rm -r build/run` starts over.
#
# A calm console: the terminal gets one banner and, at Ctrl-C, the stop lines. Everything the
# two processes say goes to build/run/: the server's JSON log lines (requests, warnings and
# errors alike) to server.log, its own start lines and any failure to serve.out, the agent's
# lines to agent.log. If the server stops by itself, the end of serve.out is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
URL=http://127.0.0.1:$PORT
# Knobs for the console's browser tests (tests/console/run.sh), which start this same world in
# a temporary folder, on a free port, with the debug tree's binaries: the run folder and the
# build tree. `make run` leaves them unset.
RUN=${STRAITS_RUN_DIR:-build/run}
BUILD=${STRAITS_BUILD_DIR:-build}
SITES=(sg-tuas-1 my-sedenak-1 jp-tokyo-1 cn-ulanqab-1)
mkdir -p "$RUN"

# The agent runs its jobs as an unprivileged user when it is root (docs/security.md): their
# folders and the example program must be reachable by that user. When the checkout sits in a
# folder others cannot enter (a home of mode 0700), the agent's folders go to /var/tmp instead.
others_can_reach() {
  local d
  d=$(realpath -m "$1")
  while [ "$d" != "/" ]; do
    d=$(dirname "$d")
    [ -n "$(find "$d" -maxdepth 0 -perm -o+x 2>/dev/null)" ] || return 1
  done
}
agent_dir=$(realpath -m "$RUN/agent")
if [ "$(id -u)" -eq 0 ] && ! others_can_reach "$agent_dir"; then
  agent_dir=/var/tmp/straits-make-run-$(echo "$PWD" | sha256sum | cut -c1-12)
fi
# A new store numbers its jobs from 1 again: the agent's memory of what it ran goes with it.
[ -e "$RUN/straits.db" ] || rm -rf "$agent_dir"
mkdir -p "$agent_dir/bin"
chmod 0711 "$agent_dir"
chmod 0755 "$agent_dir/bin"
install -m 0755 "$BUILD/examples/jobs/straits-train" "$agent_dir/bin/straits-train"

catalog=$("$BUILD/straits" catalog validate 2>&1) || { echo "$catalog" >&2; exit 1; }

# Both run in a session of their own: Ctrl-C reaches this script only, which stops the agent
# first (its last reports still find the server), then the server.
site_flags=()
for s in "${SITES[@]}"; do site_flags+=(--site "$s"); done
setsid "$BUILD/straits" serve --listen "127.0.0.1:$PORT" --store "sqlite:$RUN/straits.db" \
  --seed examples/serve/seed.json --token-file "$RUN/admin.token" \
  --log-file "$RUN/server.log" --quiet --witness "$RUN/witness.jsonl" >"$RUN/serve.out" 2>&1 &
server=$!
agent=""
stop_one() {  # NAME PID: SIGTERM, then wait for it (both stop gracefully on SIGTERM)
  kill -0 "$2" 2>/dev/null || return 0
  printf 'run: stopping the %s ... ' "$1"
  kill -TERM "$2" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
  echo "stopped"
}
# shellcheck disable=SC2317  # stop and stop_one run from the traps
stop() {
  trap - INT TERM HUP EXIT
  echo
  [ -z "$agent" ] || stop_one agent "$agent"
  stop_one server "$server"
  local warnings
  warnings=$(grep -c '"level":"\(warning\|error\)"' "$RUN/server.log" 2>/dev/null || true)
  [ "${warnings:-0}" = 0 ] || echo "run: $warnings warning or error lines in $RUN/server.log"
}
trap 'stop; exit 130' INT TERM HUP
trap stop EXIT

server_gone() {
  echo "run: the server stopped; the end of $RUN/serve.out:" >&2
  tail -n 20 "$RUN/serve.out" >&2
  exit 1
}

# Ready once it answers with the admin token.
for _ in $(seq 300); do
  if [ -s "$RUN/admin.token" ] &&
     STRAITS_URL=$URL STRAITS_TOKEN=$(cat "$RUN/admin.token") "$BUILD/straits" whoami >/dev/null 2>&1; then
    break
  fi
  kill -0 "$server" 2>/dev/null || server_gone
  sleep 0.1
done

# The agent acts with its own token, bound to its sites (made once, kept 0600), never the admin's.
if [ ! -s "$RUN/agent.token" ]; then
  (umask 077 && STRAITS_URL=$URL STRAITS_TOKEN=$(cat "$RUN/admin.token") "$BUILD/straits" token create \
    --role agent --name local-agent "${site_flags[@]}" --label make-run --json |
    sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' >"$RUN/agent.token")
fi
setsid "$BUILD/straits" agent --server "$URL" --token-file "$RUN/agent.token" --backend local \
  --name local-agent --state-dir "$agent_dir" --run-path "$agent_dir/bin:/usr/local/bin:/usr/bin:/bin" \
  "${site_flags[@]}" >"$RUN/agent.log" 2>&1 &
agent=$!

key=$(sed -n 's/^ *audit log signed by key \([0-9a-f]*\).*/\1/p' "$RUN/serve.out" | head -1)
echo "$key" >"$RUN/public.key"
cat <<EOF
straits is running; Ctrl-C stops it
  console $URL/
          sign in with the admin token ($RUN/admin.token) or a seeded user's "token"
          from $RUN/seed-tokens.json (hanshan-ops, li.wei, bellhollow-ops, lionpoint-noc, ...)
  server  $URL, store sqlite:$RUN/straits.db (log $RUN/server.log)
  agent   local-agent, local backend, sites ${SITES[*]}
          runs in ${agent_dir#"$PWD"/} (log $RUN/agent.log)
  world   catalog/ (${catalog#catalog OK: }),
          rules/default/, examples/serve/seed.json
  audit   signed by key ${key:0:16}... ($RUN/public.key), heads witnessed in $RUN/witness.jsonl

  export STRAITS_URL=$URL
  export STRAITS_TOKEN=$(cat "$RUN/admin.token")
  (kept in $RUN/admin.token; the seeded users' tokens are in $RUN/seed-tokens.json)

Try, in another terminal after the two exports:
  ./build/straits job list
  ./build/straits decide --action lease --org hanshan-sg --pool sg-tuas-1-h100 --gpus 64
  ./build/straits audit verify --public-key $RUN/public.key --witness $RUN/witness.jsonl
EOF
wait "$server" || true
# Here only when the server stopped by itself (Ctrl-C runs stop() and exits).
trap - INT TERM HUP EXIT
[ -z "$agent" ] || stop_one agent "$agent"
server_gone
