#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (tests/web/).
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there; apt's
# output is shown only if the install fails. Playwright drives this chromium through
# executable_path: `playwright install` is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium.sh: /usr/bin/chromium is missing; as root: apt-get install chromium" >&2
  exit 1
fi
log="$(mktemp /tmp/chromium-install.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "chromium.sh: installing chromium failed" >&2
  exit 1
fi
[ -x /usr/bin/chromium ]
