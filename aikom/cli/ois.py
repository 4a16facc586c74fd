"""`aikom ois …`: third-party education information systems (ОІС).

The sub-app is defined here; each area adds its commands to `app` from a module of its own
(`aikom/cli/ois_*.py`), imported at the end of this file for that side effect."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="ОІС: підключення, публічний перелік, доступ закладів, точка рішень про доступ", no_args_is_help=True
)

# Command modules (one line each):
from aikom.cli import ois_gateway as _ois_gateway  # noqa: E402,F401  (aikom ois serve)
