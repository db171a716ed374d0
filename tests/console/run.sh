#!/usr/bin/env bash
# The web console in a real browser (docs/console.md). Starts the `make run` world exactly as
# scripts/run.sh does (server on SQLite seeded with examples/serve/seed.json, a local agent
# running the example training program), but in a temporary folder and on a free port, with the
# build tree's binaries; then runs the node test files (node's own test runner) that drive
# Debian's chromium through playwright-core, and stops the world at the end.
#
# Usage: run.sh SOURCE_DIR BUILD_DIR [TEST_NAME...]
#   TEST_NAME: roles, jobs, rules, audit (default: all, in that order: the later ones change
#   the world the earlier ones read).
# Screenshots go to BUILD_DIR/console-screenshots/. CHROMIUM overrides the browser;
# STRAITS_CONSOLE_DEV=1 tests the source tree's pages through web/dev-server.mjs.
# Registered with ctest by tests/CMakeLists.txt (label console).
set -euo pipefail

source_dir=$(realpath "$1")
build_dir=$(realpath "$2")
shift 2
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(roles jobs rules audit)
chromium=${CHROMIUM:-/usr/bin/chromium}

# Every missing piece is a failure, never a skip: a console that is not built or not served
# must turn the test red.
[ -f "$source_dir/web/index.html" ] || { echo "FAIL: no web/index.html in $source_dir" >&2; exit 1; }
[ -x "$build_dir/straits" ] || { echo "FAIL: no $build_dir/straits: build it first" >&2; exit 1; }
for tool in node npm "$chromium"; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is missing; scripts/install-deps.sh installs it (scripts/packages.txt)" >&2
    exit 1
  }
done

# Node modules live in the build tree, installed from the committed lock file only when it
# changed (npm ci: exactly the locked versions; the npm registry is the only network used).
modules=$build_dir/console-test
mkdir -p "$modules"
if ! cmp -s "$source_dir/tests/console/package-lock.json" "$modules/package-lock.json" ||
   [ ! -d "$modules/node_modules/playwright-core" ]; then
  cp "$source_dir/tests/console/package.json" "$source_dir/tests/console/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --no-audit --no-fund --loglevel=error) || {
    rm -f "$modules/package-lock.json"
    echo "FAIL: npm ci in $modules" >&2
    exit 1
  }
fi
# The test files sit beside their node_modules so that `import "playwright-core"` resolves.
cp "$source_dir"/tests/console/*.mjs "$modules/"

work=$(mktemp -d /tmp/straits-console-test.XXXXXX)
# The agent runs jobs as an unprivileged user when it is root: its folders must be reachable.
chmod 0755 "$work"
world=""
dev_server=""
# shellcheck disable=SC2317  # runs from the trap
finish() {
  [ -z "$dev_server" ] || kill "$dev_server" 2>/dev/null || true
  if [ -n "$world" ] && kill -0 "$world" 2>/dev/null; then
    kill -TERM "$world" 2>/dev/null || true
    wait "$world" 2>/dev/null || true
  fi
  if [ "${keep_logs:-0}" = 1 ]; then
    for log in serve.out agent.log; do
      [ -f "$work/run/$log" ] || continue
      echo "--- the end of $log" >&2
      tail -n 15 "$work/run/$log" >&2
    done
    echo "--- the server's warnings and errors" >&2
    grep '"level":"\(warning\|error\)"' "$work/run/server.log" 2>/dev/null | tail -n 15 >&2 || true
  fi
  rm -rf "$work"
}
trap finish EXIT

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
STRAITS_RUN_DIR=$work/run STRAITS_BUILD_DIR=$build_dir PORT=$port \
  "$source_dir/scripts/run.sh" >"$work/world.out" 2>&1 &
world=$!
for _ in $(seq 600); do
  grep -q '^straits is running' "$work/world.out" 2>/dev/null && break
  if ! kill -0 "$world" 2>/dev/null; then
    cat "$work/world.out" >&2
    echo "FAIL: the make-run world did not start" >&2
    exit 1
  fi
  sleep 0.1
done
grep -q '^straits is running' "$work/world.out" || {
  cat "$work/world.out" >&2
  echo "FAIL: the make-run world did not start within 60 s" >&2
  exit 1
}

console_url=http://127.0.0.1:$port
# STRAITS_CONSOLE_DEV=1: the pages of the source tree through web/dev-server.mjs (in front of
# the same world) instead of the copy compiled into the binary, to test pages being edited.
if [ "${STRAITS_CONSOLE_DEV:-0}" = 1 ]; then
  dev_port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  STRAITS_URL=$console_url PORT=$dev_port node "$source_dir/web/dev-server.mjs" >"$work/dev-server.out" 2>&1 &
  dev_server=$!
  console_url=http://127.0.0.1:$dev_port
  for _ in $(seq 100); do curl -sf -o /dev/null "$console_url/" && break; sleep 0.1; done
fi

# The console must be served before a browser is worth starting.
curl -sf -o /dev/null "$console_url/" || {
  echo "FAIL: GET / does not answer the console (straits serve without the console?)" >&2
  exit 1
}

shots=$build_dir/console-screenshots
mkdir -p "$shots/docs"
export STRAITS_URL=$console_url
export STRAITS_RUN_DIR=$work/run
export STRAITS_BIN=$build_dir/straits
export STRAITS_SOURCE_DIR=$source_dir
export STRAITS_SCREENSHOTS=$shots
export CHROMIUM=$chromium
status=0
for t in "${tests[@]}"; do
  echo "=== console: $t"
  (cd "$modules" && node --test "$t.test.mjs") || status=1
done
echo "console: screenshots in $shots"
[ $status -eq 0 ] || keep_logs=1
exit $status
