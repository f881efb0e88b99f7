#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the storage and API tests.
#
#   eval "$(bash .ci/postgres.sh)"     # exports READLOOM_TEST_POSTGRES_URL and PG_TEST_DIR
#   bash .ci/postgres.sh stop DIR      # stops the cluster started in DIR and removes it
#
# Installs Debian's postgresql if missing (needs root, as CI is), runs initdb as the
# postgres user into a temp dir, picks a free port, creates a user and a database, and
# prints the URL. All progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

if [[ "${1:-}" == "stop" ]]; then
  dir="${2:?usage: postgres.sh stop DIR}"
  bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  su postgres -s /bin/sh -c "'$bindir/pg_ctl' -D '$dir/data' -m fast -w stop" >&2 || true
  rm -rf "$dir"
  exit 0
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"

dir="$(mktemp -d /tmp/readloom-pg.XXXXXX)"
chown postgres:postgres "$dir"
chmod 700 "$dir"

port="$(python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
)"

pw="rl$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
as_pg() { su postgres -s /bin/sh -c "$1" >&2; }

as_pg "'$bindir/initdb' -D '$dir/data' -U postgres -A trust --no-sync -E UTF8 >/dev/null"
as_pg "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/log' -w \
  -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=on -c max_connections=300\" start"

psql_pg() { su postgres -s /bin/sh -c "psql -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 -q -c \"$1\"" >&2; }
psql_pg "CREATE USER readloom WITH PASSWORD '$pw' CREATEDB"
# The tests drop their databases WITH (FORCE), which terminates what is still connected. An
# autovacuum worker on that database belongs to no role, and only a superuser or a member of
# pg_signal_backend may end it: without this a teardown failed now and then (InsufficientPrivilege).
psql_pg "GRANT pg_signal_backend TO readloom"
psql_pg "CREATE DATABASE readloom_test OWNER readloom"

log "cluster in $dir on port $port (stop: bash .ci/postgres.sh stop $dir)"
echo "export READLOOM_TEST_POSTGRES_URL=postgresql://readloom:$pw@127.0.0.1:$port/readloom_test"
echo "export PG_TEST_DIR=$dir"
