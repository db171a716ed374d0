#!/usr/bin/env bash
# Installs the Debian packages that are missing: those of scripts/packages.txt,
# or with an argument (e.g. "fuzz") those of scripts/packages-ARG.txt.
# Non-interactive; uses sudo when not run as root. Quiet when nothing is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="$here/packages.txt"
[ $# -gt 0 ] && list="$here/packages-$1.txt"
# The Unix user that a site agent running as root runs jobs as (docs/agents.md): a system user
# with no home and no login shell. Only with the base packages, and only as root.
if [ $# -eq 0 ] && [ "$(id -u)" -eq 0 ] && ! getent passwd straits-run >/dev/null; then
  useradd --system --no-create-home --user-group --shell /usr/sbin/nologin straits-run
fi
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$list")
missing=()
for pkg in "${wanted[@]}"; do
  # A Node.js from elsewhere (NodeSource's nodejs bundles npm) does: Debian's would conflict.
  case $pkg in nodejs | npm) command -v "${pkg/nodejs/node}" >/dev/null && continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
