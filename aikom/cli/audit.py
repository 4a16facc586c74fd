"""`aikom audit …`: verify the audit hash chain and show its latest entries."""

from __future__ import annotations

import typer

from aikom.cli.output import emit
from aikom.db import unit_of_work
from aikom.services import audit as audit_service

app = typer.Typer(help="Журнал аудиту: перевірка ланцюжка і останні записи", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Відповідь у JSON")


@app.command("verify", help="Перевірити ланцюжок журналу аудиту й назвати перший пошкоджений запис")
def verify(json_output: bool = JSON_OPTION) -> None:
    """Verify the whole chain; name the first broken entry (exit code 1 when broken)."""
    with unit_of_work() as session:
        report = audit_service.verify_chain(session=session)
    broken = report.first_broken
    payload = {
        "ok": report.ok,
        "entries": report.entries,
        "first_broken": (
            {"id": broken.id, "reason": broken.reason.value, "message": broken.message_uk} if broken else None
        ),
        "head": (
            {"id": report.head_id, "hash": report.head_hash.hex()} if report.head_hash is not None else None
        ),
    }
    if broken is None:
        human = f"Журнал аудиту цілісний: перевірено записів — {report.entries}."
        if report.head_hash is not None:
            human += f" Останній запис №{report.head_id}, геш {report.head_hash.hex()}."
    else:
        human = f"Ланцюжок журналу аудиту порушено на записі №{broken.id}: {broken.message_uk}"
    emit(payload, json_output, human)
    raise typer.Exit(0 if report.ok else 1)


@app.command("tail", help="Останні записи журналу аудиту")
def tail(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="Скільки останніх записів"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show the latest audit entries, oldest first."""
    with unit_of_work() as session:
        recent = audit_service.recent_entries(session=session, limit=limit)
    entries = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor_person_id": e.actor_person_id,
            "actor_label": e.actor_label,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "details": e.details,
            "entry_hash": e.entry_hash.hex(),
        }
        for e in recent
    ]
    lines = [
        f"№{e.id} {e.at.isoformat()} {e.actor_label}: {e.action} {e.object_type}"
        + (f" #{e.object_id}" if e.object_id else "")
        for e in recent
    ]
    emit(entries, json_output, "\n".join(lines) or "Журнал аудиту порожній.")
