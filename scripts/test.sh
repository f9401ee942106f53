#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: types, lint, and the tests (which start
# real sandboxes and real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The real helm the chart test renders with (runtime/helm/helm).
bash scripts/install-helm.sh
# shellcheck source=scripts/test-postgres.sh
source scripts/test-postgres.sh
echo "test: type-checking"
npx --no-install tsc -p tsconfig.test.json
echo "test: linting"
npx --no-install biome check .
echo "test: running the tests"
npx --no-install vitest run "$@"
