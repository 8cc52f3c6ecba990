#!/bin/sh
# One node of Easel's Redis cache ring with ACL users from secret files, run as the launcher
# runs it (src/launcher/specs.ts): no persistence, a maxmemory with LRU eviction.
#   easel-redis <port> [maxmemory, default 256mb]
# Users:
#   easel     the services (password in $REDIS_SECRETS/redis_easel_password)
#   exporter  prometheus-redis-exporter: read-only introspection (password in .../redis_exporter_password)
#   default   still on without a password, because the services do not send REDIS_USERNAME /
#             REDIS_PASSWORD yet; the credentials work turns it off here ("user default off").
set -eu
port=${1:?usage: easel-redis <port> [maxmemory]}
maxmemory=${2:-256mb}
secrets=${REDIS_SECRETS:-/run/secrets}
acl=$(mktemp)
chmod 600 "$acl"
read_secret() {
  [ -s "$secrets/$1" ] || { echo "easel-redis: missing secret $secrets/$1 (run deploy/secrets.sh)" >&2; exit 1; }
  # The first line, without its newline.
  head -n 1 "$secrets/$1" | tr -d '\r\n'
}
{
  echo "user default on nopass ~* &* +@all -@dangerous"
  echo "user easel on >$(read_secret redis_easel_password) ~* &* +@all -@dangerous"
  echo "user exporter on >$(read_secret redis_exporter_password) -@all +ping +info +client|setname +config|get +slowlog|get +slowlog|len +latency|latest +memory|stats +select +dbsize +cluster|info"
} >"$acl"
exec redis-server --port "$port" --save '' --appendonly no --protected-mode no \
  --maxmemory "$maxmemory" --maxmemory-policy allkeys-lru --aclfile "$acl"
