#!/usr/bin/env bash
# Start a throwaway redis-server on 127.0.0.1 for the tests that share state between workers.
#
#   eval "$(bash .ci/redis.sh)"      # exports READLOOM_TEST_REDIS_URL and REDIS_TEST_DIR
#   bash .ci/redis.sh stop DIR       # stops the server started in DIR and removes it
#
# Installs Debian's redis-server if missing (needs root, as CI is), picks a free port,
# runs without persistence. Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

log() { echo "redis.sh: $*" >&2; }

if [[ "${1:-}" == "stop" ]]; then
  dir="${2:?usage: redis.sh stop DIR}"
  if [[ -f "$dir/redis.pid" ]]; then
    pid="$(cat "$dir/redis.pid")"  # redis removes its pid file on exit: read it once
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq redis-server >&2
fi

dir="$(mktemp -d /tmp/readloom-redis.XXXXXX)"
port="$(python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
)"

redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
  --pidfile "$dir/redis.pid" --logfile "$dir/log" --save "" --appendonly no >&2
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null
log "redis on port $port (stop: bash .ci/redis.sh stop $dir)"
echo "export READLOOM_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
echo "export REDIS_TEST_DIR=$dir"
