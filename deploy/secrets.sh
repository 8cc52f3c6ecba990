#!/usr/bin/env bash
# Generates the credentials docker compose and Kubernetes use, once: every missing file under
# the secrets directory gets 32 random bytes (hex); existing ones are kept. Nothing here is
# committed (.easel/ is ignored by git).
#
#   deploy/secrets.sh                 create what is missing in .easel/deploy-secrets (or $EASEL_SECRETS_DIR)
#   deploy/secrets.sh k8s [namespace] also print the command that loads them as the Kubernetes
#                                     Secret "easel-credentials" (namespace easel by default)
#
# The directory is 0700, so only its owner reaches the files; the files themselves are 0644
# because compose bind-mounts them into containers that run as other users (node, postgres,
# redis, nobody), which must be able to read them.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${EASEL_SECRETS_DIR:-.easel/deploy-secrets}
# One file per credential; the names are the keys of the Kubernetes Secret too.
names=(cluster_secret signing_key_secret redis_easel_password redis_exporter_password postgres_exporter_password grafana_admin_password
  postgres_superuser_password postgres_replication_password postgres_users_password postgres_images_password postgres_recommendations_password)

mkdir -p "$dir"
chmod 0700 "$dir"
for name in "${names[@]}"; do
  file="$dir/$name"
  if [ ! -s "$file" ]; then
    (umask 022 && od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' >"$file")
    echo "secrets: created $file"
  fi
  chmod 0644 "$file"
done

if [ "${1:-}" = k8s ]; then
  namespace=${2:-easel}
  args=()
  for name in "${names[@]}"; do args+=("--from-file=$name=$dir/$name"); done
  echo "kubectl -n $namespace create secret generic easel-credentials ${args[*]} --dry-run=client -o yaml | kubectl apply -f -"
fi
