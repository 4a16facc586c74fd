#!/usr/bin/env bash
# Runs the full test suite (installs what it needs first): lint, types, then pytest on real PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
if ! command -v chromium >/dev/null 2>&1; then
    echo "Installing Debian package chromium for the browser tests ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The IMAP intake tests start a private Dovecot on loopback (tests/mail/imap_server.py), Debian's package.
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    echo "Installing Debian package dovecot-imapd for the IMAP tests ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi
echo "== ruff" && .venv/bin/ruff check aikom tests bench
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && exec .venv/bin/pytest "$@"
