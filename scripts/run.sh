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
agent_dir=$PWD/build/run/agent
if [ "$(id -u)" -eq 0 ] && ! others_can_reach "$agent_dir"; then
  agent_dir=/var/tmp/straits-make-run-$(echo "$PWD" | sha256sum | cut -c1-12)
fi
# A new store numbers its jobs from 1 again: the agent's memory of what it ran goes with it.
[ -e build/run/straits.db ] || rm -rf "$agent_dir"
mkdir -p "$agent_dir/bin"
chmod 0711 "$agent_dir"
chmod 0755 "$agent_dir/bin"
install -m 0755 build/examples/jobs/straits-train "$agent_dir/bin/straits-train"

./build/straits catalog validate
# A quiet console: the server's request logs go to build/run/server.log, its start lines to
# build/run/serve.out (read below), the agent's lines to build/run/agent.log; warnings and
# errors still reach the terminal.
./build/straits serve --listen "127.0.0.1:$PORT" --store sqlite:build/run/straits.db \
  --seed examples/serve/seed.json --token-file build/run/admin.token \
  --log-file build/run/server.log --witness build/run/witness.jsonl >build/run/serve.out &
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
  kill -0 "$server" 2>/dev/null || { cat build/run/serve.out >&2; echo "run: the server stopped" >&2; exit 1; }
  sleep 0.1
done

# The agent acts with its own token, bound to its sites (made once, kept 0600), never the admin's.
if [ ! -s build/run/agent.token ]; then
  (umask 077 && STRAITS_URL=$URL STRAITS_TOKEN=$(cat build/run/admin.token) ./build/straits token create \
    --role agent --name local-agent --site sg-tuas-1 --site my-sedenak-1 --site jp-tokyo-1 \
    --site cn-ulanqab-1 --label make-run --json | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' \
    >build/run/agent.token)
fi
./build/straits agent --server "$URL" --token-file build/run/agent.token --backend local \
  --name local-agent --state-dir "$agent_dir" --run-path "$agent_dir/bin:/usr/local/bin:/usr/bin:/bin" \
  --site sg-tuas-1 --site my-sedenak-1 --site jp-tokyo-1 --site cn-ulanqab-1 >build/run/agent.log 2>&1 &
agent=$!

key=$(sed -n 's/^ *audit log signed by key \([0-9a-f]*\).*/\1/p' build/run/serve.out | head -1)
echo "run: straits serving on $URL (store sqlite:build/run/straits.db)"
echo "run: a site agent with its own token for sg-tuas-1, my-sedenak-1, jp-tokyo-1, cn-ulanqab-1"
echo "     (jobs run as an unprivileged user, in $agent_dir; its lines in build/run/agent.log)"
echo "run: request logs in build/run/server.log; the audit log is signed by key ${key:-?}"
echo "     (heads witnessed in build/run/witness.jsonl); seeded users' tokens in build/run/seed-tokens.json"
echo "run: Ctrl-C stops both. The admin token (also in build/run/admin.token, mode 600):"
echo
echo "  export STRAITS_URL=$URL"
echo "  export STRAITS_TOKEN=$(cat build/run/admin.token)"
echo "  ./build/straits job list"
echo
wait "$server"
