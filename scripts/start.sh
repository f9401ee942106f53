#!/usr/bin/env bash
# Sets everything up, then runs the server with its embedded defaults (SQLite, local
# sandboxes). Extra arguments go to `clawport serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx --no-install clawport serve "$@"
