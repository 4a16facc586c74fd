"""`aikom deputies …`: a director's deputies — list them, deactivate one (appointing one is the `deputy`
process: `aikom process start deputy …`)."""

from __future__ import annotations

from typing import Any

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError

app = typer.Typer(help="Заступники керівника закладу освіти: перелік, деактивація", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
AS_OPTION = typer.Option(..., "--as", help="Керівник закладу: номер картки або email")


@app.command("list", help="Заступники вашого закладу (чинні й колишні): стан, посада, хто призначив")
def list_deputies(actor: str = AS_OPTION, json_output: bool = JSON_OPTION) -> None:
    """The deputies of the director's school, newest first."""
    from aikom import commands
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.services import approvals, deputies

    try:
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        acting = commands.actor_of(person_id)
        with unit_of_work() as session:
            listed = deputies.deputies_for(session=session, actor=acting)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    rows = [
        {
            "person_id": d.id,
            "full_name": d.full_name,
            "email": d.email,
            "position": d.position,
            "state": d.state.value,
            "state_uk": deputies.DEPUTY_STATE_UK[d.state],
            "appointed_by": d.appointed_by,
            "created_at": d.created_at.isoformat(),
        }
        for d in listed
    ]
    lines = [f"Заступників: {len(rows)} (активних: {sum(1 for d in listed if d.state == 'active')})"]
    lines += [
        f"№{d.id} {d.full_name} ({d.position or 'посаду не вказано'}) — {deputies.DEPUTY_STATE_UK[d.state]}; "
        f"призначив: {d.appointed_by or '—'}; картку створено {format_kyiv(d.created_at)}"
        for d in listed
    ]
    if not rows:
        lines.append("У закладу ще немає заступників (призначити: `aikom process start deputy …`).")
    emit({"ok": True, "deputies": rows}, json_output, "\n".join(lines))


@app.command(
    "deactivate", help="Деактивувати активного заступника свого закладу (остаточно; його повідомлять)"
)
def deactivate(
    deputy_id: int = typer.Argument(..., help="Номер картки заступника"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Deactivate a deputy of the director's school in one unit of work."""
    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services import approvals, provisioning

    try:
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        acting = commands.actor_of(person_id)
        with unit_of_work() as session:
            deputy = provisioning.deactivate_deputy(session=session, actor=acting, deputy_id=deputy_id)
            payload: dict[str, Any] = {
                "ok": True,
                "person_id": deputy.id,
                "full_name": deputy.full_name,
                "state": deputy.state.value,
            }
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    message = (
        f"Заступника «{payload['full_name']}» (№{deputy_id}) деактивовано: вхід від імені закладу для нього "
        "закрито, його повідомлено листом."
    )
    payload["message"] = message
    emit(payload, json_output, message)
