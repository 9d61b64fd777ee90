#!/usr/bin/env bash
# Quick start: set up, then build the bundled HTTP server with kiln's musl toolchain, bake it,
# boot it, fetch a page from the host through a forwarded port, print it and stop the VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/demo.mjs
