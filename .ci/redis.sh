#!/usr/bin/env bash
# Make sure Debian's redis-server is installed for the shared-breaker tests (tests/llm/).
# The tests start their own redis-server on a free 127.0.0.1 port and skip when it is
# missing. Idempotent and quiet: does nothing when redis-server is already there.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "redis.sh: redis-server is missing; as root: apt-get install redis-server" >&2
  exit 1
fi
log="$(mktemp /tmp/redis-install.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "redis.sh: installing redis-server failed" >&2
  exit 1
fi
command -v redis-server >/dev/null
