#!/bin/sh
# Entry point of the Easel image: every secret file mounted under /run/secrets whose name is an
# environment variable's (CLUSTER_SECRET, REDIS_PASSWORD, ...) becomes that variable, so compose
# secrets reach the config loaders like any other variable; then the command runs as PID 1.
set -eu
if [ -d /run/secrets ]; then
  for file in /run/secrets/*; do
    name=${file##*/}
    case "$name" in
      *[!A-Z0-9_]* | [0-9]*) continue ;;
    esac
    [ -f "$file" ] || continue
    value=$(head -n 1 "$file" | tr -d '\r\n')
    export "$name=$value"
  done
fi
exec "$@"
