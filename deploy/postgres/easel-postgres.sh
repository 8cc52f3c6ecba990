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
#   PG_SECRETS           folder of the password files (default /run/secrets): postgres_superuser_password,
#                        postgres_replication_password, postgres_<database>_password,
#                        postgres_exporter_password (deploy/secrets.sh makes them)
#   PG_MAX_PREPARED_TRANSACTIONS (default 20), PG_MAX_CONNECTIONS (default 300)
#   PGDATA               the data directory (default /var/lib/postgresql/data)
#
# Authentication as under the launcher (src/launcher/postgres-ha.ts): scram-sha-256 for every
# connection, local ones included (no trust); the superuser's password for administration; one
# role per service (easel_<database>) owning only its database; easel_exporter (pg_monitor);
# pg_auto_failover's autoctl_node and pgautofailover_replicator with the replication password,
# which pg_autoctl and the WAL receiver read from a private passfile. Roles and passwords are set
# at every start (a volume from a trust-era start is converted without a manual step).
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data}
PG_HOSTNAME=${PG_HOSTNAME:-$(hostname -f)}
PG_NODE_NAME=${PG_NODE_NAME:-${PG_HOSTNAME%%.*}}
PG_DATABASES=${PG_DATABASES:-users images recommendations}
PG_SECRETS=${PG_SECRETS:-/run/secrets}
PGPASSFILE=${PGPASSFILE:-$(dirname "$PGDATA")/.easel-pgpass}
export PGDATA PGPASSFILE

: "${PG_ROLE:?set PG_ROLE to monitor or node}"
: "${PG_PORT:?set PG_PORT}"

psql_local() {
  psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

read_secret() {
  [ -s "$PG_SECRETS/$1" ] || { echo "easel-postgres: missing secret $PG_SECRETS/$1 (run deploy/secrets.sh)" >&2; exit 1; }
  head -n 1 "$PG_SECRETS/$1" | tr -d '\r\n'
}

# The passfile pg_autoctl, pg_basebackup, the WAL receiver and this script log in with.
write_passfile() {
  (
    umask 077
    echo "*:*:*:postgres:$(read_secret postgres_superuser_password)"
    echo "*:*:*:autoctl_node:$(read_secret postgres_replication_password)"
    echo "*:*:*:pgautofailover_replicator:$(read_secret postgres_replication_password)"
  ) >"$PGPASSFILE"
  chmod 600 "$PGPASSFILE"
}

# Every connection authenticates with scram-sha-256. pg_basebackup copies this file to the standby.
write_hba() {
  cat >"$PGDATA/pg_hba.conf" <<HBA
# Written by easel-postgres at every start: no trust, scram-sha-256 for everyone.
local all all scram-sha-256
host all all all scram-sha-256
local replication all scram-sha-256
host replication all all scram-sha-256
HBA
}

# initdb with Easel's settings and the superuser's password; pg_autoctl adopts the directory (as the launcher does).
init_data_dir() {
  pwfile=$(mktemp)
  read_secret postgres_superuser_password >"$pwfile"
  initdb -D "$PGDATA" -U postgres -A scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C --no-instructions >/dev/null
  rm -f "$pwfile"
  cat >>"$PGDATA/postgresql.conf" <<CONF
# easel
max_prepared_transactions = ${1}
max_connections = ${2}
listen_addresses = '*'
password_encryption = 'scram-sha-256'
CONF
  write_hba
}

# Creates a login role if missing, then sets its attributes and password (psql variables quote them).
login_role() { # role secret-name [replication]
  psql_local -d postgres -v role="$1" -v pw="$(read_secret "$2")" -v repl="${3:-noreplication}" <<'SQL'
select format('create role %I with login', :'role') where not exists (select 1 from pg_roles where rolname = :'role') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole %s password %L', :'role', :'repl', :'pw') \gexec
SQL
}

superuser_password() {
  psql_local -d postgres -v pw="$(read_secret postgres_superuser_password)" <<'SQL'
select format('alter role postgres with password %L', :'pw') \gexec
SQL
}

exporter_role() {
  login_role easel_exporter postgres_exporter_password && psql_local -d postgres -c 'grant pg_monitor to easel_exporter' >/dev/null
}

# Each service database owned by its role, closed to the others; tables an older start created
# as the superuser handed to that role.
service_databases() {
  for db in $PG_DATABASES; do
    login_role "easel_$db" "postgres_${db}_password" || return 1
    psql_local -d postgres -v db="$db" -v owner="easel_$db" <<'SQL' || return 1
select format('create database %I owner %I', :'db', :'owner') where not exists (select 1 from pg_database where datname = :'db') \gexec
select format('alter database %I owner to %I', :'db', :'owner') \gexec
select format('revoke all on database %I from public', :'db') \gexec
SQL
    psql_local -d "$db" -v owner="easel_$db" <<'SQL' || return 1
select format('alter table %I.%I owner to %I', n.nspname, c.relname, :'owner')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and pg_get_userbyid(c.relowner) <> :'owner'
  and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')) \gexec
SQL
  done
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

# Beside pg_autoctl, once this member answers: passwords and roles (on the monitor, or on the
# primary, which replicates them to the standby), then pg_hba.conf closed to everything but
# scram. Idempotent; ends when done.
secure() {
  while kill -0 "$1" 2>/dev/null; do
    sleep 2
    recovery=$(psql_local -d postgres -c 'select pg_is_in_recovery()' 2>/dev/null) || continue
    if [ "$PG_ROLE" = monitor ]; then
      superuser_password && login_role autoctl_node postgres_replication_password && exporter_role || continue
    elif [ "$recovery" = f ]; then
      superuser_password && login_role pgautofailover_replicator postgres_replication_password replication && exporter_role && service_databases || continue
    else
      # A standby: the primary sets the passwords; close pg_hba.conf once they have arrived.
      psql_local -d postgres -c "select 1 from pg_authid where rolname = 'postgres' and rolpassword is not null" | grep -q 1 || continue
    fi
    write_hba
    psql_local -d postgres -c 'select pg_reload_conf()' >/dev/null || continue
    return 0
  done
  return 0
}

run() {
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
  write_passfile
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
  # SIGINT, sets roles, passwords and databases meanwhile, and exits with pg_autoctl's status.
  "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' TERM
  trap 'kill -INT "$child" 2>/dev/null' INT
  secure "$child"
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
