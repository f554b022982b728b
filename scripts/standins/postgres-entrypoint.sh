#!/bin/sh
# The part of the official postgres image's entrypoint claire relies on: initialise PGDATA
# on first start (superuser POSTGRES_USER with POSTGRES_PASSWORD, database POSTGRES_DB,
# password authentication over TCP), then run the server listening on every interface.
set -eu
if [ "${1:-}" != "postgres" ]; then
  exec "$@"
fi
shift
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?the stand-in needs POSTGRES_PASSWORD}"
  user=${POSTGRES_USER:-postgres}
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # shellcheck disable=SC2086 # the arguments are meant to be split
  initdb --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w start >/dev/null
  db=${POSTGRES_DB:-$user}
  if [ "$db" != "postgres" ]; then
    psql -v ON_ERROR_STOP=1 -q -h /var/run/postgresql -U "$user" -d postgres \
      -c "CREATE DATABASE \"$db\""
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
