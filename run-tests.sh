#!/usr/bin/env bash
# Run readloom's whole test suite on a fresh machine: set up the venv, start a throwaway
# PostgreSQL and a redis-server on loopback (so the storage and API tests also run on
# Postgres and shared Redis limits), make sure
# Debian's chromium is there for the browser tests, then pytest. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
./bootstrap.sh
if [ -z "${READLOOM_TEST_POSTGRES_URL:-}" ]; then
  if pg_env=$(bash .ci/postgres.sh); then
    eval "$pg_env"
    trap 'bash .ci/postgres.sh stop "$PG_TEST_DIR"' EXIT
  else
    echo "run-tests: PostgreSQL could not be started; Postgres tests will be skipped" >&2
  fi
fi
if [ -z "${READLOOM_TEST_REDIS_URL:-}" ]; then
  if redis_env=$(bash .ci/redis.sh); then
    eval "$redis_env"
    trap 'bash .ci/postgres.sh stop "${PG_TEST_DIR:-/nonexistent}"; bash .ci/redis.sh stop "$REDIS_TEST_DIR"' EXIT
  else
    echo "run-tests: redis-server could not be started; Redis tests will be skipped" >&2
  fi
fi
bash .ci/chromium.sh || echo "run-tests: no chromium; browser tests will be skipped" >&2
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/python -m pytest "$@"
