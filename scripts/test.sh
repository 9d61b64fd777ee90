#!/usr/bin/env bash
# The test command (README, .ci/run): set up, then run the whole suite with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# One kernel download per machine, shared by every test file and run.
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-$HOME/.cache/kiln-test}"
npm test
