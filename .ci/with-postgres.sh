#!/usr/bin/env bash
# Run a command against a private, throwaway PostgreSQL on 127.0.0.1 (DATABASE_URL is set for it).
# Needs Debian's postgresql package; as root it runs the server as the postgres user.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ]; then
  echo "PostgreSQL is not installed: apt-get install postgresql" >&2
  exit 1
fi
PORT=${PGPORT_TEST:-5439}
# Several checkouts may test on one machine: each needs its own port.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "Port $PORT is already in use on 127.0.0.1: set PGPORT_TEST to a free port." >&2
  exit 1
fi
DIR=$(mktemp -d /tmp/bazaar-pg.XXXXXX)
as_pg() { if [ "$(id -u)" = "0" ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
[ "$(id -u)" = "0" ] && chown postgres:postgres "$DIR"
as_pg "$PGBIN/initdb -D $DIR/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
as_pg "$PGBIN/pg_ctl -D $DIR/data -l $DIR/log -w -o '-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200' start" >/dev/null
stop() { as_pg "$PGBIN/pg_ctl -D $DIR/data -m fast stop" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap stop EXIT
psql -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE USER shop PASSWORD 'shop' CREATEDB" -c "CREATE DATABASE shop OWNER shop"
export DATABASE_URL="postgres://shop:shop@127.0.0.1:$PORT/shop"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
"$@"
