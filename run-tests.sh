#!/usr/bin/env bash
# Run readloom's whole test suite on a fresh machine: set up the venv, start a throwaway
# PostgreSQL on loopback (so the storage and API tests also run on Postgres), make sure
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
bash .ci/chromium.sh || echo "run-tests: no chromium; browser tests will be skipped" >&2
bash .ci/redis.sh || echo "run-tests: no redis-server; shared-breaker tests will be skipped" >&2
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/python -m pytest "$@"
