#!/usr/bin/env bash
# `make lint`: the repository stands alone. Someone who clones it has nothing beside it, so no
# file in it may point outside it:
#   1. no path into a workspace around the checkout: a relative path to a sibling folder
#      of the checkout, or an absolute path under people's or machines' working folders (the
#      patterns below). Facts cite public sources instead (docs/sources.md).
#   2. no markdown link whose target, relative to the page, resolves outside the repository
#      root, is absolute, or does not exist.
#   3. no relative path in a YAML or JSON file (scenarios, catalogs, seeds: read relative to
#      the file) that climbs out of the repository from the file's folder.
# Paths a program uses at run time (/tmp, /usr, /etc, /var, /proc, /dev) are fine, and so
# are URLs. Checked: every file git tracks or would track (untracked, not ignored).
# Usage: scripts/check-paths.sh [FILE...] (default: every such file). Exit 1 on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
self=scripts/check-paths.sh  # it names the patterns it looks for

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files --cached --others --exclude-standard | sort -u)
fi

found=0
finding() {  # FILE:LINE  MESSAGE
  echo "$1: $2" >&2
  found=1
}

# Inside the repository once resolved (PATH relative to the root)?
inside() {
  local full
  full=$(realpath -m "$root/$1")
  [ "$full" = "$root" ] || [ "${full#"$root"/}" != "$full" ]
}

# 1. Workspace paths, anywhere (text files only; one grep over them all).
sibling='\.\./+shared([/"'"'"'` )]|$)'
absolute='(^|[^A-Za-z0-9_.~-])/(work|home|root|Users)/'
while IFS=: read -r f line text; do
  [ "$f" = "$self" ] || finding "$f:$line" "points outside the repository: ${text:0:120}"
done < <(printf '%s\0' "${files[@]}" | xargs -0 grep -nIHE "$sibling|$absolute" -- 2>/dev/null || true)

# 2. Markdown links: [text](target) and ![alt](target), relative to the page.
markdown=()
for f in "${files[@]}"; do case "$f" in *.md) [ -f "$f" ] && markdown+=("$f") ;; esac; done
while IFS=: read -r f line link; do
  target=${link#*](}
  target=${target%)}
  target=${target%% *}  # [text](target "title")
  case "$target" in
    http://* | https://* | mailto:* | '#'* | '') continue ;;
  esac
  target=${target%%#*}
  dir=$(dirname "$f")
  if [ "${target:0:1}" = / ]; then
    finding "$f:$line" "absolute link '$target' (link relative to the page)"
  elif ! inside "$dir/$target"; then
    finding "$f:$line" "link '$target' leaves the repository"
  elif [ ! -e "$dir/$target" ]; then
    finding "$f:$line" "link '$target' names nothing in the repository"
  fi
done < <([ ${#markdown[@]} -eq 0 ] ||
  grep -noHE '\]\([^)[:space:]]+( "[^"]*")?\)' -- "${markdown[@]}" || true)

# 3. Relative paths that climb, in files read relative to their folder.
structured=()
for f in "${files[@]}"; do
  case "$f" in *.yaml | *.yml | *.json) [ -f "$f" ] && structured+=("$f") ;; esac
done
while IFS=: read -r f line path; do
  inside "$(dirname "$f")/$path" || finding "$f:$line" "path '$path' leaves the repository"
done < <([ ${#structured[@]} -eq 0 ] ||
  grep -noHE '(^|[^A-Za-z0-9_.-])(\.\./)+[A-Za-z0-9_.@/-]*' -- "${structured[@]}" |
  sed -E 's/^([^:]+):([0-9]+):[^.]*/\1:\2:/' || true)

if [ "$found" -ne 0 ]; then
  echo "check-paths: the repository must stand alone: cite a public source (docs/sources.md)" \
    "or a file inside it" >&2
  exit 1
fi
echo "check-paths: OK, ${#files[@]} files point nowhere outside the repository"
