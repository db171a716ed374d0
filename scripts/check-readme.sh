#!/usr/bin/env bash
# `make lint`: the README's tables list every command and every make target, so a command
# added to `straits` or a target added to the Makefile without a line in the README fails.
#   - every subcommand `straits --help` lists, and every subcommand of each of them (their
#     own --help), must appear in a row of a README table that starts with `straits GROUP`
#     (`| `straits job submit ...` |`, or one row for several: `straits db migrate\|status`);
#   - every target of the Makefile's .PHONY line must appear in a README table row as
#     `make TARGET`.
# Usage: scripts/check-readme.sh [STRAITS_BINARY] (default: the newest of build/straits and
# build-*/straits). Exit 1 on anything missing.
set -euo pipefail
cd "$(dirname "$0")/.."
readme=README.md

bin=${1:-}
if [ -z "$bin" ]; then
  for candidate in build/straits build-*/straits; do
    [ -x "$candidate" ] || continue
    if [ -z "$bin" ] || [ "$candidate" -nt "$bin" ]; then bin=$candidate; fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "check-readme: no straits binary to ask (make build first, or name one)" >&2
  exit 1
fi

# The subcommands a --help lists: the first word of each line after "Subcommands:".
subcommands() {
  "$bin" "$@" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

# The README's table rows (lines starting with '|').
rows=$(grep '^|' "$readme")
missing=0
miss() {
  echo "check-readme: $readme has no table row for $1" >&2
  missing=1
}

groups=$(subcommands)
[ -n "$groups" ] || { echo "check-readme: '$bin --help' lists no subcommands" >&2; exit 1; }
count=0
for group in $groups; do
  grep -q "^| \`straits $group\\b" <<<"$rows" || { miss "\`straits $group\`"; continue; }
  group_rows=$(grep "^| \`straits $group\\b" <<<"$rows")
  for sub in $(subcommands "$group"); do
    count=$((count + 1))
    # The row's first words name the subcommand: `straits GROUP SUB ...`, or one of a list
    # `straits GROUP A\|SUB\|B ...` (a table cell escapes its pipes).
    grep -qE "^\| \`straits $group ([a-z-]+\\\\\|)*$sub([^a-z-]|$)" <<<"$group_rows" ||
      miss "\`straits $group $sub\`"
  done
done

targets=$(sed -n 's/^\.PHONY: *//p' Makefile | tr ' ' '\n' | sed '/^$/d')
for target in $targets; do
  grep -q "\`make $target\\b" <<<"$rows" || miss "\`make $target\`"
done

if [ "$missing" -ne 0 ]; then
  echo "check-readme: add the rows above to the tables of $readme (Commands, Make targets)" >&2
  exit 1
fi
echo "check-readme: OK, $(wc -w <<<"$groups") commands, $count subcommands and" \
  "$(wc -w <<<"$targets") make targets in $readme"
