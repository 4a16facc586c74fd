"""`aikom persons …`: person cards seen from the command line (whose КЕП expires soon)."""

from __future__ import annotations

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed

app = typer.Typer(help="Картки осіб", no_args_is_help=True)

PERSONS_SHOWN = 20


@app.command(
    "kep-expiring",
    help="Особи у вашій зоні відповідальності, чий КЕП (з останнього входу) спливає протягом N днів "
    "або вже сплив, з підсумками за одиницями та областями",
)
def kep_expiring(
    within: int = typer.Option(30, "--within", help="За скільки днів наперед (0–366)"),
    actor: str | None = typer.Option(None, "--as", help="Від імені кого: номер картки особи або email"),
    unit: str | None = typer.Option(
        None, "--unit", help="Одиниця у вашій зоні: КАТОТТГ, ЄДРПОУ, код ЄДЕБО або номер (типово — ваша)"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Persons whose КЕП expires within `--within` days (or has expired) in the scope of `--as`."""
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services.kep_currency import expiring_persons
    from aikom.services.org import find_unit

    try:
        if actor is None:
            raise ValidationFailed(
                "as", "Вкажіть, від імені кого показати список: --as (номер картки або email)."
            )
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=actor)
            unit_id = find_unit(session=session, code=unit).id if unit is not None else None
            found = expiring_persons(session=session, viewer=viewer, within_days=within, org_unit_id=unit_id)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    soon = found.total - found.expired
    lines = [
        f"{found.scope_unit_name}: КЕП спливає протягом {found.within_days} дн. у {soon} ос., "
        f"уже сплив у {found.expired} ос."
    ]
    for person in found.persons[:PERSONS_SHOWN]:
        when = "сплив" if person.expired else f"спливає через {person.days_left} дн.,"
        lines.append(
            f"  {person.full_name} ({person.role_title}, {person.org_unit_name}): {when} "
            f"{format_kyiv(person.kep_not_after)}"
        )
    if len(found.persons) > PERSONS_SHOWN:
        lines.append(f"  … і ще {len(found.persons) - PERSONS_SHOWN} (усі — у --json)")
    if len(found.per_oblast) > 1:
        lines.append(
            "За областями: " + "; ".join(f"{c.name} — {c.expiring + c.expired}" for c in found.per_oblast)
        )
    emit(found.model_dump(mode="json"), json_output, "\n".join(lines))
