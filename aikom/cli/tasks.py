"""`aikom tasks …`: the work queue — list, claim, release, assign — and deciding, one task or many at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aikom.cli.lookup import find_oblast
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed
from aikom.models import Decision
from aikom.settings import get_settings

if TYPE_CHECKING:
    from aikom.core.decisions import BatchDecisionDocument
    from aikom.services.approvals import SignedPayload
    from aikom.services.batch import Choice

app = typer.Typer(help="Завдання на погодження: черга, взяття в роботу, рішення", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
DECISION_HELP = (
    "Рішення: approve (погодити), reject (відхилити), confirm (підтвердити), deactivate (деактивувати)"
)


@app.command("list", help="Черга: завдання, які особа може розглянути (фільтри: тип, область, прострочені)")
def list_tasks(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    process_type: str | None = typer.Option(None, "--type", help="Тип процесу (`aikom process types`)"),
    oblast: str | None = typer.Option(None, "--oblast", help="Область: КАТОТТГ, ЄДРПОУ або номер"),
    overdue: bool = typer.Option(False, "--overdue", help="Лише прострочені"),
    mine: bool = typer.Option(False, "--mine", help="Лише ті, що ви взяли в роботу"),
    unassigned: bool = typer.Option(False, "--unassigned", help="Лише ті, що ніхто не взяв у роботу"),
    offset: int = typer.Option(0, "--offset", min=0, help="Пропустити стільки завдань (сторінки)"),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="Скільки завдань показати (1–200)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """One page of the tasks this person may decide, oldest due first, with its counts."""
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.processes import get_spec
    from aikom.services import approvals, queue

    try:
        if mine and unassigned:
            raise ValidationFailed("claim", "Вкажіть або --mine, або --unassigned, але не обидва разом.")
        if process_type:
            get_spec(process_type, demo=True)
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            filters = queue.QueueFilters(
                process_type=process_type,
                oblast_id=find_oblast(session, oblast).id if oblast else None,
                overdue=overdue,
                claim="mine" if mine else "unassigned" if unassigned else "all",
            )
            page = queue.queue_page(
                session=session, actor=person, filters=filters, offset=offset, limit=limit
            )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    lines = [
        f"Завдань: {page.total} (прострочено: {page.overdue}, у вашій роботі: {page.mine}, "
        f"вільних: {page.unassigned})"
    ]
    for row in page.rows:
        flags = " — ПРОСТРОЧЕНО" if row.overdue else ""
        holder = f", у роботі: {row.claimed_by}" if row.claimed_by else ""
        absent = f", за відсутності: {row.absence_of}" if row.absence_of else ""
        due = format_kyiv(row.due_at) if row.due_at else "—"
        lines.append(f"№{row.task_id} {row.title} ({row.process_title}) — до {due}{flags}{holder}{absent}")
        if row.screen_command:  # decided on a screen of its own, not by `aikom tasks decide`
            lines.append(f"    розглядають на сторінці «{row.screen_title}», командою `{row.screen_command}`")
    if not page.rows:
        lines.append("Немає завдань, що чекають вашого рішення.")
    emit(page.model_dump(mode="json"), json_output, "\n".join(lines))


def _queue_action(
    task_id: int, actor: str, json_output: bool, action: str, assignee: str | None = None
) -> None:
    """Claim, release or assign a task in one unit of work and report who holds it now."""
    from aikom.db import unit_of_work
    from aikom.models import Person
    from aikom.services import approvals, queue

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            if action == "claim":
                task = queue.claim(session=session, task_id=task_id, actor=person)
                message = f"Завдання №{task_id} взято в роботу: рішення ухвалюєте ви."
            elif action == "release":
                task = queue.release(session=session, task_id=task_id, actor=person)
                message = f"Завдання №{task_id} повернуто до спільної черги."
            else:
                assert assignee is not None
                to = approvals.find_person(session=session, ref=assignee)
                task = queue.assign(session=session, task_id=task_id, actor=person, assignee_id=to.id)
                message = f"Завдання №{task_id} призначено: {to.full_name}."
            holder = session.get(Person, task.claimed_by_id) if task.claimed_by_id else None
            payload: dict[str, Any] = {
                "ok": True,
                "task_id": task.id,
                "process_id": task.process_id,
                "claimed_by_id": holder.id if holder else None,
                "claimed_by": holder.full_name if holder else None,
                "message": message,
            }
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    emit(payload, json_output, message)


@app.command("claim", help="Взяти завдання в роботу: рішення ухвалює той, хто його взяв")
def claim(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Take a task: colleagues see who has it, and only the claimer decides it."""
    _queue_action(task_id, actor, json_output, "claim")


@app.command("release", help="Повернути завдання до спільної черги")
def release(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Hand a task back (its claimer, or an admin of its unit or the unit above)."""
    _queue_action(task_id, actor, json_output, "release")


@app.command("assign", help="Призначити завдання колезі (адміністратор ОУО цього рівня чи вищого)")
def assign(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    to: str = typer.Option(..., "--to", help="Кому: номер картки або email"),
    actor: str = typer.Option(..., "--as", help="Адміністратор: номер картки або email"),
    json_output: bool = JSON_OPTION,
) -> None:
    """An admin gives the task to a colleague who may decide it."""
    _queue_action(task_id, actor, json_output, "assign", assignee=to)


def _decision_of(decision: str) -> Decision:
    try:
        return Decision(decision)
    except ValueError:
        raise ValidationFailed(
            "decision",
            f"Рішення: «{decision}» не є рішенням; можливі: {', '.join(d.value for d in Decision)}.",
        ) from None


@app.command("document", help="Сформувати документ рішення для підпису КЕП")
def document(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    decision: str = typer.Option(..., "--decision", help=DECISION_HELP),
    comment: str | None = typer.Option(None, "--comment", help="Коментар до рішення"),
    out: Path = typer.Option(..., "--out", help="Куди записати документ рішення (JSON) для підпису КЕП"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the canonical decision document to sign with КЕП (then `aikom tasks decide --document`)."""
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        chosen = _decision_of(decision)
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


def _read_file(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise ValidationFailed(what, f"Файл {what} «{path}» не знайдено.")
    return path.read_bytes()


def _signed_from_files(document_file: Path | None, signature_file: Path) -> SignedPayload:
    """The signed payload from the files given: a detached signature needs its document."""
    from aikom.core.kep.cms import encapsulated_content
    from aikom.services.approvals import SignedPayload

    signature = _read_file(signature_file, "підпису")
    if document_file is not None:
        content: bytes | None = _read_file(document_file, "документа рішення")
    else:
        # A non-detached signature carries the document it signs.
        content = encapsulated_content(signature, max_bytes=get_settings().max_signature_bytes)
    if content is None:
        raise ValidationFailed(
            "document",
            "Підпис відокремлений: додайте --document (документ рішення з `aikom tasks document`) "
            "або підпишіть документ з вкладеними даними (-nodetach).",
        )
    return SignedPayload(document=content, signature=signature)


def _check_signing_options(demo_sign: bool, document_file: Path | None, signature_file: Path | None) -> None:
    if demo_sign and (document_file is not None or signature_file is not None):
        raise ValidationFailed(
            "signature", "Вкажіть або --demo-sign, або --document із --signature, але не все разом."
        )
    if document_file is not None and signature_file is None:
        raise ValidationFailed(
            "signature", "Документ рішення без підпису: додайте --signature (підпис .p7s)."
        )


def _demo_key(person_id: int) -> str:
    """The demo person's key name (demo mode only; refused precisely otherwise)."""
    from aikom.demo import persons as demo

    settings = get_settings()
    if not settings.demo_mode:
        raise demo.DemoModeOff()
    return demo.demo_key_of(settings, person_id)


def _demo_signed(person_ref: str, task_id: int, decision: Decision, comment: str | None) -> SignedPayload:
    """Sign the decision now with the demo person's key (demo mode only)."""
    from aikom.db import unit_of_work
    from aikom.demo import persons as demo
    from aikom.services import approvals
    from aikom.services.approvals import SignedPayload

    with unit_of_work() as session:
        person = approvals.find_person(session=session, ref=person_ref)
        task = approvals.get_task(session=session, task_id=task_id)
        if not get_settings().demo_mode:
            raise demo.DemoModeOff()
        # Who may decide is refused precisely first, as without the shortcut.
        approvals.check_may_decide(session=session, task=task, actor=person, decision=decision)
        key = _demo_key(person.id)
        content = approvals.decision_document(task=task, actor=person, decision=decision, comment=comment)
    return SignedPayload(document=content, signature=demo.demo_sign(get_settings(), key, content))


@app.command("decide", help="Ухвалити підписане КЕП рішення і продовжити процес")
def decide(
    task_id: int = typer.Argument(..., help="Номер завдання"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    decision: str = typer.Option(..., "--decision", help=DECISION_HELP),
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
    json_output: bool = JSON_OPTION,
) -> None:
    """Commit the signed decision (the application command), then it wakes the waiting process."""
    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        chosen = _decision_of(decision)
        _check_signing_options(demo_sign, document_file, signature_file)
        signed = _signed_from_files(document_file, signature_file) if signature_file is not None else None
        if demo_sign:
            signed = _demo_signed(actor, task_id, chosen, comment)
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        outcome = commands.decide_task(
            task_id=task_id,
            actor=commands.actor_of(person_id),
            decision=chosen,
            comment=comment,
            signed=signed,
        )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    payload = outcome.model_dump()
    payload["message"] = payload.pop("message_uk")
    emit(payload, json_output, outcome.message_uk)


# --- many tasks, one signature ---------------------------------------------------------------------


def _choice(raw: str) -> Choice:
    """`TASK:DECISION[:COMMENT]` → (task, decision, comment)."""
    task, _, rest = raw.partition(":")
    decision, _, comment = rest.partition(":")
    if not task.strip().isdigit() or not decision.strip():
        raise ValidationFailed(
            "decide", f"Рішення «{raw}»: потрібно НОМЕР:РІШЕННЯ[:КОМЕНТАР], наприклад 12:approve:Погоджено."
        )
    return int(task), _decision_of(decision.strip()), comment.strip() or None


def _choices(raw: list[str]) -> list[Choice]:
    if not raw:
        raise ValidationFailed("decide", "Завдання: вкажіть хоча б одне --decide НОМЕР:РІШЕННЯ[:КОМЕНТАР].")
    return [_choice(item) for item in raw]


def _check_may_decide_all(person_ref: str, choices: list[Choice]) -> None:
    """Refuse the batch now, naming every task the person could not decide (not after signing)."""
    from aikom.db import unit_of_work
    from aikom.services import approvals

    refusals = []
    with unit_of_work() as session:
        person = approvals.find_person(session=session, ref=person_ref)
        for task_id, decision, _ in choices:
            try:
                task = approvals.get_task(session=session, task_id=task_id)
                approvals.check_may_decide(session=session, task=task, actor=person, decision=decision)
            except DomainError as refusal:
                refusals.append(refusal.message_uk)
    if refusals:
        raise ValidationFailed("decide", "Пакет не сформовано: " + " ".join(refusals))


def _batch_bytes(person_ref: str, choices: list[Choice]) -> tuple[int, bytes]:
    from aikom.db import unit_of_work
    from aikom.services import approvals, batch

    with unit_of_work() as session:
        person = approvals.find_person(session=session, ref=person_ref)
        return person.id, batch.batch_document(session=session, actor=person, choices=choices)


@app.command("batch-document", help="Сформувати один документ рішень щодо кількох завдань для підпису КЕП")
def batch_document(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    decide: list[str] = typer.Option(
        [], "--decide", help="НОМЕР:РІШЕННЯ[:КОМЕНТАР], наприклад 12:approve:Погоджено (можна кілька)"
    ),
    out: Path = typer.Option(..., "--out", help="Куди записати пакетний документ (JSON) для підпису КЕП"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write the batch decision document: every chosen task with its decision, signed once."""
    try:
        choices = _choices(decide)
        _check_may_decide_all(actor, choices)
        _, content = _batch_bytes(actor, choices)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    out.write_bytes(content)
    payload = {
        "ok": True,
        "tasks": [task_id for task_id, _, _ in choices],
        "file": str(out),
        "document": content.decode("utf-8"),
    }
    emit(
        payload,
        json_output,
        f"Пакетний документ ({len(choices)} завд.) записано у {out}. Підпишіть його КЕП один раз "
        "і передайте в `aikom tasks decide-many --document … --signature …`.",
    )


def _check_selection(document: BatchDecisionDocument, choices: list[Choice]) -> None:
    """The signed document says, for each selected task, the decision (and comment) chosen."""
    from aikom.services.batch import BatchDocumentMismatch

    listed = {item.task: item for item in document.items}
    for task_id, decision, comment in choices:
        item = listed.get(task_id)
        if item is None:
            continue  # the service reports the different task lists as a whole
        if item.decision != decision.value:
            raise BatchDocumentMismatch(
                f"у документі завдання №{task_id} має рішення «{item.decision}», а вибрано «{decision.value}»"
            )
        if comment is not None and item.comment != comment:
            raise BatchDocumentMismatch(f"коментар до завдання №{task_id} у документі інший")


@app.command("decide-many", help="Ухвалити рішення щодо кількох завдань одним підписом КЕП")
def decide_many(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    document_file: Annotated[
        Path | None, typer.Option("--document", help="Пакетний документ (з `aikom tasks batch-document`)")
    ] = None,
    signature_file: Annotated[
        Path | None, typer.Option("--signature", help="Файл КЕП-підпису пакетного документа (.p7s)")
    ] = None,
    decide: list[str] = typer.Option(
        [],
        "--decide",
        help="Вибрані завдання НОМЕР:РІШЕННЯ[:КОМЕНТАР]; документ має перелічувати саме їх "
        "(без --decide — усі завдання документа; з --demo-sign — обов'язково)",
    ),
    demo_sign: bool = typer.Option(
        False, "--demo-sign", help="Лише в демо-режимі: сформувати й підписати пакет ключем демо-особи"
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Decide several tasks under one КЕП signature: each task on its own; exit 1 if any was refused."""
    from aikom import commands
    from aikom.core.decisions import BatchDecisionDocument
    from aikom.db import unit_of_work
    from aikom.demo import persons as demo
    from aikom.services import approvals
    from aikom.services.approvals import SignedPayload
    from aikom.services.batch import BatchDocumentMismatch

    try:
        _check_signing_options(demo_sign, document_file, signature_file)
        choices = [_choice(item) for item in decide]
        if demo_sign:
            if not get_settings().demo_mode:
                raise demo.DemoModeOff()
            person_id, content = _batch_bytes(actor, _choices(decide))
            signed = SignedPayload(
                document=content, signature=demo.demo_sign(get_settings(), _demo_key(person_id), content)
            )
        elif signature_file is not None:
            signed = _signed_from_files(document_file, signature_file)
        else:
            raise ValidationFailed(
                "signature", "Додайте --document і --signature (пакет, підписаний КЕП) або --demo-sign."
            )
        try:
            parsed = BatchDecisionDocument.from_bytes(signed.document)
        except ValueError:
            raise BatchDocumentMismatch("документ пошкоджений або не є пакетним документом рішень") from None
        _check_selection(parsed, choices)
        task_ids = [task_id for task_id, _, _ in choices] or [item.task for item in parsed.items]
        with unit_of_work() as session:
            person_id = approvals.find_person(session=session, ref=actor).id
        outcome = commands.decide_tasks(actor=commands.actor_of(person_id), signed=signed, task_ids=task_ids)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    payload = outcome.model_dump()
    for item in payload["items"]:
        item["message"] = item.pop("message_uk")
    lines = [f"Ухвалено: {outcome.decided}, відмовлено: {outcome.refused}"]
    lines += [f"  №{item.task_id}: {item.message_uk}" for item in outcome.items]
    emit(payload, json_output, "\n".join(lines))
    if not outcome.ok:
        raise typer.Exit(1)
