#!/bin/bash
# The run report in a real browser. Debian's chromium, headless, opens the
# report.html of tests/data/sim/report/scenario.yaml; the DOM it built must
# hold every chart with the series the page declares, each drawn (a box with
# a size), and on each chart over time one marker per rule change listed in
# run.json. The page and a screenshot are kept as test artefacts.
#
# Usage: report_browser_test.sh STRAITS_BINARY SOURCE_DIR ARTIFACT_DIR
# (registered with ctest by tests/CMakeLists.txt; CHROMIUM overrides the browser).
set -euo pipefail

straits=$1
source_dir=$2
artifacts=$3
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
  echo "FAIL: no browser at $chromium. This test needs Debian's chromium package:" \
    "scripts/install-deps.sh installs it (scripts/packages.txt lists it), or apt-get install chromium." >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

"$straits" sim run "$source_dir/tests/data/sim/report/scenario.yaml" --out "$work/run" --report --quiet
page="$work/run/report.html"
cp "$page" "$artifacts/report.html"

# A profile of its own; no network is needed (and any request would fail to resolve).
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
  --user-data-dir="$work/profile" --host-resolver-rules="MAP * ~NOTFOUND"
  --window-size=1280,4400)
if ! timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$page" >"$work/dom.html" 2>"$work/chromium.log"; then
  cat "$work/chromium.log" >&2
  echo "FAIL: chromium could not render $page" >&2
  exit 1
fi
rm -f "$artifacts/report.png"
timeout 120 "$chromium" "${flags[@]}" --screenshot="$artifacts/report.png" "file://$page" \
  >/dev/null 2>>"$work/chromium.log" || true
if [ ! -s "$artifacts/report.png" ] || [ "$(head -c 4 "$artifacts/report.png" | tail -c 3)" != "PNG" ]; then
  cat "$work/chromium.log" >&2
  echo "FAIL: no screenshot written to $artifacts/report.png" >&2
  exit 1
fi

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# What the page's script saw once laid out: "ID:WIDTHxHEIGHT:DRAWN_SERIES:MARKERS ...".
rendered=$(grep -o 'data-rendered="[^"]*"' "$work/dom.html" | sed 's/data-rendered="//; s/"$//' || true)
[ -n "$rendered" ] || fail "the page's charts were not laid out (no data-rendered on <body>)"
changes=$(grep -c '"change":' "$work/run/run.json" || true)
[ "$changes" -ge 1 ] || fail "run.json lists no rule change in the window; the scenario has one"

check_chart() {
  local id=$1 time_axis=$2 min_series=$3
  local declared entry size drawn markers
  declared=$(grep -o "data-chart=\"$id\" data-kind=\"[a-z]*\" data-series=\"[0-9]*\"" "$work/dom.html" |
    sed 's/.*data-series="//; s/"//' || true)
  if [ -z "$declared" ]; then
    fail "chart $id is missing"
    return
  fi
  entry=$(tr ' ' '\n' <<<"$rendered" | grep "^$id:" || true)
  if [ -z "$entry" ]; then
    fail "chart $id was not laid out"
    return
  fi
  IFS=: read -r _ size drawn markers <<<"$entry"
  [ "${size%x*}" -gt 0 ] && [ "${size#*x}" -gt 0 ] || fail "chart $id has no size ($size)"
  [ "$declared" -ge "$min_series" ] || fail "chart $id declares $declared series, expected at least $min_series"
  [ "$drawn" -eq "$declared" ] || fail "chart $id: $drawn of its $declared series drawn"
  local expected_markers=0
  [ "$time_axis" = time ] && expected_markers=$changes
  [ "$markers" -eq "$expected_markers" ] || fail "chart $id has $markers markers, expected $expected_markers"
  echo "ok: $id, $size px, $drawn series drawn, $markers rule-change markers"
}

# Sites and countries: the scenario runs jobs at sg-tuas-1, sg-jurong-1, jp-tokyo-1 and in
# China (SG, JP, CN); the other charts have one series each.
check_chart utilisation-site time 4
check_chart utilisation-country time 3
check_chart queue time 1
check_chart cost time 1
check_chart jct-cdf none 1
check_chart delay-cdf none 1
check_chart gpu-hours-chip none 1
bars=$(grep -o '<rect class="bar"' "$work/dom.html" | wc -l)
[ "$bars" -ge 2 ] || fail "GPU-hours by chip has $bars bars, expected one per chip used (at least 2)"
grep -q 'class="moves-by-rule"' "$work/dom.html" || fail "the table of moves by rule is missing"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed; the page and its screenshot are in $artifacts" >&2
  exit 1
fi
echo "report rendered by $("$chromium" --version 2>/dev/null | head -1); screenshot: $artifacts/report.png"
