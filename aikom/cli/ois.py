"""`aikom ois …`: third-party education information systems (ОІС).

The sub-app is defined here; each area adds its commands to `app` from a module of its own
(`aikom/cli/ois_*.py`), imported at the end of this file for that side effect."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="ОІС: підключення, публічний перелік, доступ закладів, точка рішень про доступ", no_args_is_help=True
)

# Command modules, imported for the commands they add to `app`:
from aikom.cli import (  # noqa: E402
    ois_access,  # noqa: F401  (grant, grants, revoke)
    ois_admin,  # noqa: F401  (list, widen, suspend, reinstate, disconnect)
    ois_connection,  # noqa: F401  (register, apply, review, resubmit, agreement, conclusion)
    ois_gateway,  # noqa: F401  (serve)
)
