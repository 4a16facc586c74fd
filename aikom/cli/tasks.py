"""`aikom tasks …`: what a person may decide, and deciding it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError
from aikom.models import Decision
from aikom.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from aikom.models import ApprovalTask, Person
    from aikom.services.approvals import SignedPayload

app = typer.Typer(help="Завдання на погодження", no_args_is_help=True)


@app.command("list", help="Завдання, які особа може розглянути")
def list_tasks(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Open tasks this person may decide."""
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            tasks = approvals.list_tasks_for(session=session, actor=person)
            rows: list[dict[str, Any]] = [
                {
                    "task_id": t.id,
                    "process_id": t.process_id,
                    "step_key": t.step_key,
                    "title": t.title,
                    "due_at": t.due_at.isoformat() if t.due_at else None,
                    "decisions": t.details.get("decisions", []),
                    "scope_org_unit_id": t.scope_org_unit_id,
                }
                for t in tasks
            ]
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    human = "\n".join(
        f"№{r['task_id']} (процес №{r['process_id']}): {r['title']} — до {r['due_at'] or '—'}" for r in rows
    )
    emit(rows, json_output, human or "Немає завдань, що чекають вашого рішення.")


def _decision_of(decision: str, json_output: bool) -> Decision:
    try:
        return Decision(decision)
    except ValueError:
        fail(
            f"Поле «decision»: «{decision}» не є рішенням; можливі: "
            + ", ".join(d.value for d in Decision)
            + ".",
            "validation_failed",
            json_output,
        )
        raise  # unreachable: fail() exits


@app.command("document")
def document(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    decision: str = typer.Option(..., "--decision", help="approve | reject | confirm | deactivate"),
    comment: str | None = typer.Option(None, "--comment", help="Коментар до рішення"),
    out: Path = typer.Option(..., "--out", help="Куди записати документ рішення (JSON) для підпису КЕП"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Write the canonical decision document to sign with КЕП (then `aikom tasks decide --document`)."""
    from aikom.db import unit_of_work
    from aikom.services import approvals

    chosen = _decision_of(decision, json_output)
    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            task = approvals.get_task(session=session, task_id=task_id)
            # Nobody signs a decision they could not take: refuse precisely now, not after signing.
            approvals.check_may_decide(session=session, task=task, actor=person, decision=chosen)
            content = approvals.decision_document(task=task, actor=person, decision=chosen, comment=comment)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    out.write_bytes(content)
    payload = {"ok": True, "task_id": task_id, "file": str(out), "document": content.decode("utf-8")}
    emit(
        payload,
        json_output,
        f"Документ рішення записано у {out}. Підпишіть його КЕП (файл .p7s) і передайте в "
        "`aikom tasks decide --document … --signature …`.",
    )


def _read_file(path: Path, what: str, json_output: bool) -> bytes:
    if not path.is_file():
        fail(f"Файл {what} «{path}» не знайдено.", "validation_failed", json_output)
    return path.read_bytes()


def _demo_signed(
    session: Session,
    settings: Settings,
    person: Person,
    task: ApprovalTask,
    decision: Decision,
    comment: str | None,
) -> SignedPayload:
    """Sign the decision now with the demo person's key (demo mode only)."""
    from aikom.services import approvals, demo
    from aikom.services.approvals import SignedPayload

    if not settings.demo_mode:
        raise demo.DemoModeOff()
    # Who may decide is refused precisely first, as without the shortcut.
    approvals.check_may_decide(session=session, task=task, actor=person, decision=decision)
    key = demo.demo_key_of(settings, person.id)
    content = approvals.decision_document(task=task, actor=person, decision=decision, comment=comment)
    return SignedPayload(document=content, signature=demo.demo_sign(settings, key, content))


@app.command("decide")
def decide(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    decision: str = typer.Option(..., "--decision", help="approve | reject | confirm | deactivate"),
    comment: str | None = typer.Option(None, "--comment", help="Коментар до рішення"),
    document_file: Annotated[
        Path | None, typer.Option("--document", help="Документ рішення (з `aikom tasks document`)")
    ] = None,
    signature_file: Annotated[
        Path | None, typer.Option("--signature", help="Файл КЕП-підпису документа (.p7s)")
    ] = None,
    demo_sign: bool = typer.Option(
        False, "--demo-sign", help="Лише в демо-режимі: підписати ключем демонстраційної особи"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Commit the signed decision to the database, then resume the waiting process."""
    from aikom.core.kep.cms import encapsulated_content
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services.approvals import SignedPayload
    from aikom.services.reconcile import WakeResult, wake_for_task

    chosen = _decision_of(decision, json_output)
    signed: SignedPayload | None = None
    if demo_sign and (document_file is not None or signature_file is not None):
        fail(
            "Вкажіть або --demo-sign, або --document із --signature, але не все разом.",
            "validation_failed",
            json_output,
        )
    if document_file is not None and signature_file is None:
        fail(
            "Документ рішення без підпису: додайте --signature (підпис .p7s).",
            "validation_failed",
            json_output,
        )
    if signature_file is not None:
        signature = _read_file(signature_file, "підпису", json_output)
        if document_file is not None:
            content: bytes | None = _read_file(document_file, "документа рішення", json_output)
        else:
            # A non-detached signature carries the document it signs.
            content = encapsulated_content(signature, max_bytes=get_settings().max_signature_bytes)
        if content is None:
            fail(
                "Підпис відокремлений: додайте --document (документ рішення з `aikom tasks document`) "
                "або підпишіть документ з вкладеними даними (-nodetach).",
                "validation_failed",
                json_output,
            )
            return
        signed = SignedPayload(document=content, signature=signature)
    settings = get_settings()
    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            if demo_sign:
                task = approvals.get_task(session=session, task_id=task_id)
                signed = _demo_signed(session, settings, person, task, chosen, comment)
            decided = approvals.decide(
                session=session,
                task_id=task_id,
                actor=person,
                decision=chosen,
                comment=comment,
                signed=signed,
            )
            process_id = decided.process_id
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    wake = wake_for_task(task_id)
    payload = {
        "ok": True,
        "task_id": task_id,
        "process_id": process_id,
        "decision": chosen.value,
        "resume": wake.value,
    }
    human = f"Рішення щодо завдання №{task_id} збережено: {approvals.DECISION_LABELS_UK[chosen]}."
    if wake == WakeResult.UNAVAILABLE:
        human += " Сервер процесів зараз недоступний — процес продовжиться автоматично, щойно він запрацює."
    elif wake == WakeResult.RESUMED:
        human += f" Процес №{process_id} продовжено."
    emit(payload, json_output, human)
