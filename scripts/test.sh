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
# setup.sh built dist/ just now: the tests' global setup need not.
export CLAWPORT_TEST_BUILT=1
if [ $# -gt 0 ]; then
  echo "test: running vitest $*"
  exec npx --no-install vitest run "$@"
fi
echo "test: running the in-process tests"
npx --no-install vitest run --project fast
# Then the two lanes side by side, each one file at a time (see vitest.config.ts): one heavy
# file per core. Each line says its lane; the run fails if either lane does.
echo "test: running the gateway lane and the system lane side by side"
lane() {
  npx --no-install vitest run --project "$1" 2>&1 | sed -u "s/^/[$1] /"
  return "${PIPESTATUS[0]}"
}
lane agent &
agent=$!
lane system &
system=$!
status=0
wait "$agent" || status=$?
wait "$system" || status=$?
echo "test: lanes done (exit $status)"
exit "$status"
