#!/usr/bin/env bash
# Installs what Easel needs and is missing: the Debian packages (redis-server, postgresql,
# pg_auto_failover, prometheus with promtool, the PostgreSQL and Redis exporters, docker-compose
# to validate deploy/docker-compose.yml) with apt-get when run as root, otherwise one line naming
# the command to run; then the npm packages with `npm ci` when node_modules is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin=/usr/lib/postgresql/15/bin
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x "$pg_bin/postgres" ] && [ -x "$pg_bin/initdb" ] || missing+=(postgresql postgresql-15)
[ -f /usr/share/postgresql/15/extension/pgautofailover.control ] || missing+=(postgresql-15-auto-failover)
command -v pg_autoctl >/dev/null 2>&1 || missing+=(pg-auto-failover-cli)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-postgres-exporter >/dev/null 2>&1 || missing+=(prometheus-postgres-exporter)
command -v prometheus-redis-exporter >/dev/null 2>&1 || missing+=(prometheus-redis-exporter)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "install-deps: missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
    # Observability and deployment checks are optional for `make start` (the launcher runs
    # without Prometheus and its exporters); the databases are not.
    for package in "${missing[@]}"; do
      case "$package" in
        prometheus | prometheus-postgres-exporter | prometheus-redis-exporter | docker-compose) ;;
        *) exit 1 ;;
      esac
    done
  fi
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install-deps: Node.js 20 or later is required; see https://nodejs.org/en/download (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund
fi
