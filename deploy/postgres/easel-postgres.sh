#!/bin/sh
# One member of Easel's PostgreSQL HA formation, run the way the launcher runs it
# (src/launcher/postgres-ha.ts): the pg_auto_failover monitor, or a data node. The node that
# starts the formation is initialised here with Easel's settings and registers as primary; the
# other is cloned from it by pg_autoctl (pg_basebackup) and becomes the synchronous standby.
#
#   easel-postgres run       create on first start, then run and supervise this member
#   easel-postgres healthy   exit 0 when this member answers (a data node: and has the databases)
#
# Environment:
#   PG_ROLE              monitor | node
#   PG_PORT              the port PostgreSQL listens on
#   PG_HOSTNAME          the name the other members reach this one by (default: hostname -f)
#   PG_NODE_NAME         the node's name in the formation (default: PG_HOSTNAME up to the first dot)
#   PG_MONITOR           the monitor's host:port (data nodes)
#   PG_INITIAL_PRIMARY   true on the node that starts the formation (default: true when the node
#                        name ends in -0, the first pod of a Kubernetes StatefulSet)
#   PG_DATABASES         databases the primary creates (default: users images recommendations)
#   PG_AUTH              pg_hba method for connections over the network (default: trust). The
#                        credentials work sets scram-sha-256 here, with one role per service.
#   PG_MAX_PREPARED_TRANSACTIONS (default 20), PG_MAX_CONNECTIONS (default 300)
#   PGDATA               the data directory (default /var/lib/postgresql/data)
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data}
PG_HOSTNAME=${PG_HOSTNAME:-$(hostname -f)}
PG_NODE_NAME=${PG_NODE_NAME:-${PG_HOSTNAME%%.*}}
PG_DATABASES=${PG_DATABASES:-users images recommendations}
PG_AUTH=${PG_AUTH:-trust}
export PGDATA

: "${PG_ROLE:?set PG_ROLE to monitor or node}"
: "${PG_PORT:?set PG_PORT}"

psql_local() {
  psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

# initdb with Easel's settings; pg_autoctl adopts the directory (as the launcher does).
init_data_dir() {
  initdb -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-instructions >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<CONF
# easel
max_prepared_transactions = ${1}
max_connections = ${2}
listen_addresses = '*'
CONF
  # Local connections are trusted; the network uses PG_AUTH. pg_basebackup copies this file to the standby.
  cat >"$PGDATA/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
host all all 0.0.0.0/0 ${PG_AUTH}
host all all ::/0 ${PG_AUTH}
host replication all 0.0.0.0/0 ${PG_AUTH}
host replication all ::/0 ${PG_AUTH}
HBA
}

created() {
  [ -f "$XDG_CONFIG_HOME/pg_autoctl$PGDATA/pg_autoctl.cfg" ]
}

initial_primary() {
  case "${PG_INITIAL_PRIMARY:-}" in
    true) return 0 ;;
    false) return 1 ;;
  esac
  case "$PG_NODE_NAME" in
    *-0) return 0 ;;
  esac
  return 1
}

# On whichever node is primary, create the service databases once (idempotent; the standby
# receives them by replication). Runs beside pg_autoctl and ends when they exist.
ensure_databases() {
  wanted=$(echo "$PG_DATABASES" | wc -w)
  while kill -0 "$1" 2>/dev/null; do
    sleep 2
    recovery=$(psql_local -d postgres -c 'select pg_is_in_recovery()' 2>/dev/null) || continue
    for db in $PG_DATABASES; do
      [ "$recovery" = f ] || break
      psql_local -d postgres -c "select 1 from pg_database where datname = '$db'" | grep -q 1 \
        || psql_local -d postgres -c "create database \"$db\"" || true
    done
    have=0
    for db in $PG_DATABASES; do
      psql_local -d postgres -c "select 1 from pg_database where datname = '$db'" 2>/dev/null | grep -q 1 && have=$((have + 1))
    done
    [ "$have" -eq "$wanted" ] && return 0
  done
  return 0
}

run() {
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
  # pg_hba.conf is ours (init_data_dir), so pg_autoctl leaves it alone.
  common="--pgdata $PGDATA --pgport $PG_PORT --pgctl $(command -v pg_ctl) --hostname $PG_HOSTNAME --no-ssl --skip-pg-hba"
  if created; then
    set -- pg_autoctl run --pgdata "$PGDATA"
  elif [ "$PG_ROLE" = monitor ]; then
    [ -f "$PGDATA/PG_VERSION" ] || init_data_dir 0 100
    # shellcheck disable=SC2086
    set -- pg_autoctl create monitor $common --run
  elif [ "$PG_ROLE" = node ]; then
    : "${PG_MONITOR:?set PG_MONITOR (host:port of the monitor)}"
    if initial_primary && [ ! -f "$PGDATA/PG_VERSION" ]; then
      init_data_dir "${PG_MAX_PREPARED_TRANSACTIONS:-20}" "${PG_MAX_CONNECTIONS:-300}"
    fi
    # shellcheck disable=SC2086
    set -- pg_autoctl create postgres $common --listen '*' --name "$PG_NODE_NAME" --dbname postgres \
      --monitor "postgres://autoctl_node@$PG_MONITOR/pg_auto_failover?sslmode=disable" --run
  else
    echo "easel-postgres: PG_ROLE must be monitor or node (got \"$PG_ROLE\")" >&2
    exit 2
  fi
  # This shell stays as pg_autoctl's parent (and PID 1 in a container): it forwards SIGTERM and
  # SIGINT, creates the databases meanwhile, and exits with pg_autoctl's status.
  "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' TERM
  trap 'kill -INT "$child" 2>/dev/null' INT
  if [ "$PG_ROLE" = node ]; then ensure_databases "$child"; fi
  status=0
  while :; do
    wait "$child" && status=0 || status=$?
    kill -0 "$child" 2>/dev/null || break
  done
  exit "$status"
}

healthy() {
  if [ "$PG_ROLE" = monitor ]; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d pg_auto_failover
    return
  fi
  for db in $PG_DATABASES; do
    psql_local -d postgres -c "select 1 from pg_database where datname = '$db'" | grep -q 1 || return 1
  done
}

case "${1:-run}" in
  run) run ;;
  healthy) healthy ;;
  *) echo "usage: easel-postgres run|healthy" >&2; exit 2 ;;
esac
