"""Output helpers shared by CLI commands: JSON for machines, a Ukrainian line for people."""

from __future__ import annotations

import json
from typing import Any

import typer


def emit(payload: Any, as_json: bool, human: str) -> None:
    """Print `payload` as JSON when asked, else the human-readable line."""
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(human)


def fail(message: str, code: str, as_json: bool, exit_code: int = 1) -> None:
    """Report a refusal (Ukrainian message + reason code) and exit non-zero, never with a traceback."""
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": code, "message": message}, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"Помилка: {message}", err=True)
    raise typer.Exit(exit_code)


def mask_rnokpp(value: str) -> str:
    """A РНОКПП as people see it: the first two and last two digits («31******78»)."""
    digits = value.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]
