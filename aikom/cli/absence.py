"""`aikom absence …`: an admin away for a date range — their tasks go back to the pool or up the cascade."""

from __future__ import annotations

import typer

from aikom.cli.lookup import parse_day
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError

app = typer.Typer(
    help="Відсутність адміністратора: завдання передаються колегам або ОУО вищого рівня", no_args_is_help=True
)

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")


@app.command("set", help="Позначити відсутність на період (з першого дня завдання передаються іншим)")
def set_command(
    actor: str = typer.Option(..., "--as", help="Хто буде відсутній: номер картки або email"),
    starts_on: str = typer.Option(..., "--from", help="Перший день відсутності (РРРР-ММ-ДД)"),
    ends_on: str = typer.Option(..., "--to", help="Останній день відсутності (РРРР-ММ-ДД)"),
    note: str | None = typer.Option(None, "--note", help="Примітка (відпустка, відрядження …)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Record the absence; if it has begun, hand the person's tasks over at once."""
    from aikom.db import unit_of_work
    from aikom.services import absence, approvals

    try:
        first = parse_day(starts_on, field="starts_on", label="Початок відсутності")
        last = parse_day(ends_on, field="ends_on", label="Кінець відсутності")
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            recorded = absence.set_absence(
                session=session,
                actor=person,
                starts_on=first,
                ends_on=last,
                note=(note or "").strip() or None,
            )
            payload = {
                "ok": True,
                "id": recorded.id,
                "person_id": person.id,
                "starts_on": recorded.starts_on.isoformat(),
                "ends_on": recorded.ends_on.isoformat(),
                "note": recorded.note,
            }
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    message = (
        f"Відсутність №{payload['id']} з {recorded.starts_on:%d.%m.%Y} по {recorded.ends_on:%d.%m.%Y} "
        "збережено. Завдання, які ви взяли в роботу, повертаються до спільної черги; якщо у вашому ОУО "
        "немає іншого адміністратора, їх отримує ОУО вищого рівня."
    )
    emit({**payload, "message": message}, json_output, message)


@app.command("end", help="Завершити відсутність: завдання, передані вище, повертаються")
def end_command(
    absence_id: int = typer.Argument(..., help="Номер відсутності (`aikom absence list`)"),
    actor: str = typer.Option(..., "--as", help="Хто повернувся: номер картки або email"),
    json_output: bool = JSON_OPTION,
) -> None:
    """End the absence today; what was offered to the unit above comes back."""
    from aikom.db import unit_of_work
    from aikom.services import absence, approvals

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            ended = absence.end_absence(session=session, actor=person, absence_id=absence_id)
            payload = {
                "ok": True,
                "id": ended.id,
                "ended_at": ended.ended_at.isoformat() if ended.ended_at else None,
            }
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    message = f"Відсутність №{absence_id} завершено: завдання, передані вище, повернуто вашому ОУО."
    emit({**payload, "message": message}, json_output, message)


@app.command("list", help="Відсутності: власні, а для адміністратора — і адміністраторів його території")
def list_command(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    json_output: bool = JSON_OPTION,
) -> None:
    """The person's own absences and, for an admin, those of the admins in their subtree."""
    from aikom.db import unit_of_work
    from aikom.services import absence, approvals

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            rows = absence.list_absences(session=session, viewer=person)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    lines = [
        f"№{a.id} {a.person}: {a.starts_on:%d.%m.%Y}–{a.ends_on:%d.%m.%Y}"
        + (" (триває)" if a.active else " (завершено)" if a.ended_at else "")
        + (f" — {a.note}" if a.note else "")
        for a in rows
    ]
    emit(
        [a.model_dump(mode="json") for a in rows],
        json_output,
        "\n".join(lines) or "Відсутностей не зазначено.",
    )
