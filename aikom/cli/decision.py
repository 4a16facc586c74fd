"""`aikom decision …`: signed decisions (re-verification years later)."""

from __future__ import annotations

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError
from aikom.settings import get_settings

app = typer.Typer(help="Підписані рішення", no_args_is_help=True)


@app.command("verify", help="Повторно перевірити КЕП збереженого рішення")
def verify(
    decision_id: int = typer.Argument(..., help="Номер рішення"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Verify a stored decision's КЕП signature again from its stored bytes."""
    from aikom.db import unit_of_work
    from aikom.services.decisions import reverify_decision
    from aikom.services.trust import current_trust_list

    settings = get_settings()
    try:
        with unit_of_work() as session:
            result = reverify_decision(
                session=session, trust=current_trust_list(settings), decision_id=decision_id
            )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    emit(result.to_dict(), json_output, result.verification.message_uk)
    if not result.verification.ok:
        raise typer.Exit(1)
