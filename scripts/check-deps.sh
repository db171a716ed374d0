#!/usr/bin/env bash
# Fails when a module includes a module it may not depend on (the arrows of
# docs/architecture.md, closed transitively), or reaches into another
# module's internal/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [core]=""
  [catalog]="core"
  [policy]="catalog core"
  [sched]="policy catalog core"
  [sim]="sched policy catalog core"
  [store]="policy catalog core"
  [api]="sim store sched policy catalog core"
  [exec]="core"
  [agent]="api exec sim store sched policy catalog core"
  [cli]="sim api agent exec store sched policy catalog core"
)

status=0
for dir in src/*/; do
  module=$(basename "$dir")
  if [ -z "${allowed[$module]+x}" ]; then
    echo "check-deps: src/$module is not a module of docs/architecture.md" >&2
    status=1
    continue
  fi
  while IFS=: read -r file line include; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$include")
    [ "$target" = "$module" ] && continue
    if [[ "$include" == *"/internal/"* ]]; then
      echo "$file:$line: $module reaches into $target's internal/ folder" >&2
      status=1
    elif [[ " ${allowed[$module]} " != *" $target "* ]]; then
      echo "$file:$line: $module may not depend on $target (allowed: ${allowed[$module]:-nothing})" >&2
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" | sed -E 's/^([^:]+):([0-9]+):(.*)$/\1:\2:\3/')
done
exit $status
