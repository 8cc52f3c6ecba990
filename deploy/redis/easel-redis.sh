#!/bin/sh
# One node of Easel's Redis cache ring with ACL users from secret files, configured as the
# launcher configures it (src/launcher/redis-config.ts; keep the two in step): no persistence,
# protected mode, a maxmemory with volatile-lru eviction (only entries with a TTL, i.e. cached
# images, are ever evicted; revocations and rate-limit counters carry none).
#   easel-redis <port> [maxmemory, default 256mb]
# Users (passwords stored as SHA-256 in a private ACL file):
#   easel     the gateway, only the commands the cache ring sends (password in $REDIS_SECRETS/redis_easel_password)
#   exporter  prometheus-redis-exporter: read-only introspection (password in .../redis_exporter_password)
#   default   off: nobody gets in without a password.
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
hash_secret() {
  read_secret "$1" | sha256sum | cut -d' ' -f1
}
{
  echo "user default off resetpass resetchannels -@all"
  echo "user easel on #$(hash_secret redis_easel_password) resetchannels ~* -@all +ping +get +mget +set +del +exists +pttl +ttl +expire +pexpire +incr +incrby +decr +multi +exec +discard +flushdb +eval +evalsha +script|load +zadd +zrangebyscore +zrem +zscore +time"
  echo "user exporter on #$(hash_secret redis_exporter_password) resetchannels -@all +ping +info +client|list +config|get +cluster|info +slowlog +latency +memory +select +xinfo +eval"
} >"$acl"
exec redis-server --port "$port" --save '' --appendonly no --protected-mode yes \
  --maxmemory "$maxmemory" --maxmemory-policy volatile-lru --aclfile "$acl"
