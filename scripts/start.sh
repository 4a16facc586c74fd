#!/usr/bin/env bash
# Starts the whole system with demo data (installs what it needs first). Ctrl-C stops it in order.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/aikom up "$@"
