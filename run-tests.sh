#!/usr/bin/env bash
# Run readloom's whole test suite on a fresh machine: set up the venv, start a throwaway
# PostgreSQL on loopback (so the storage and API tests also run on Postgres), make sure
# Debian's chromium is there for the browser tests, then pytest. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
./bootstrap.sh
if [ -z "${READLOOM_TEST_POSTGRES_URL:-}" ] && [ -x .ci/postgres.sh ]; then
  if url=$(.ci/postgres.sh); then
    export READLOOM_TEST_POSTGRES_URL="$url"
  else
    echo "run-tests: PostgreSQL could not be started; Postgres tests will be skipped" >&2
  fi
fi
if [ -x .ci/chromium.sh ]; then .ci/chromium.sh || echo "run-tests: no chromium; browser tests will be skipped" >&2; fi
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv/bin/python -m pytest "$@"
