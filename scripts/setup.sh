#!/usr/bin/env bash
# Sets up a fresh Debian machine to build and test syncjournal:
#   - PostgreSQL server binaries (the tests start a throwaway server on 127.0.0.1),
#   - Chromium (the browser tests drive Debian's build with playwright; nothing is downloaded),
#   - rclone, unison and GNU time (the benchmarks and the safety comparison run them side by side),
#   - the npm workspace (npm ci).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The peers the benchmarks (and their smoke test) and the safety comparison run against.
command -v rclone >/dev/null || missing+=(rclone)
command -v unison >/dev/null || missing+=(unison)
[ -x /usr/bin/time ] || missing+=(time)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The package may start its default cluster on localhost; the tests run their own
  # server on 127.0.0.1 only, so stop the default one.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | while read -r version name _; do
      sudo_if_needed pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
    done
  fi
fi

npm ci --no-audit --no-fund
