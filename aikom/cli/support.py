"""`aikom support …`: the support desk's queue — list, show, reply, note, assign, triage, resolve, close —
and `fetch`, which reads the desk's new mail into its requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed

app = typer.Typer(help="Служба підтримки: черга звернень, відповіді, пошта", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
AS_OPTION = typer.Option(..., "--as", help="Особа служби підтримки: номер картки або email")


def _run(actor_ref: str, json_output: bool, action: Callable[[Any, Any], Any]) -> Any:
    """Run `action(session, actor)` in one unit of work as the named person; a refusal is a message."""
    from aikom.core.actor import Actor
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor_ref)
            return action(session, Actor(person_id=person.id, label=person.full_name))
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)


def _enum(value: str | None, enum: Any, field: str, label: str) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValidationFailed(field, f"{label}: «{value}» — допустимо: {allowed}.") from None


@app.command("list", help="Черга звернень (за замовчуванням — усі відкриті)")
def list_requests(
    actor: str = AS_OPTION,
    state: list[str] = typer.Option([], "--state", help="Стан (можна кілька): new, accepted, …"),
    request_type: str | None = typer.Option(None, "--type", help="Тип: question, kep_trouble, …"),
    oblast: str | None = typer.Option(None, "--oblast", help="Область: КАТОТТГ, ЄДРПОУ або номер"),
    assignee: int | None = typer.Option(None, "--assignee", help="Виконавець: номер картки"),
    mine: bool = typer.Option(False, "--mine", help="Лише мої"),
    unassigned: bool = typer.Option(False, "--unassigned", help="Лише без виконавця"),
    overdue: bool = typer.Option(False, "--overdue", help="Лише прострочені (SLA у робочих годинах)"),
    offset: int = typer.Option(0, "--offset", min=0),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    json_output: bool = JSON_OPTION,
) -> None:
    """One page of the queue with its counts."""
    from aikom.cli.lookup import find_oblast
    from aikom.models import SupportRequestState, SupportRequestType
    from aikom.services import support, support_queue

    def action(session: Any, who: Any) -> Any:
        filters = support_queue.QueueFilters(
            states=[_enum(s, SupportRequestState, "state", "Стан") for s in state]
            or list(support.OPEN_STATES),
            type=_enum(request_type, SupportRequestType, "type", "Тип"),
            oblast_id=find_oblast(session, oblast).id if oblast else None,
            assignee_id=assignee,
            mine=mine,
            unassigned=unassigned,
            overdue=overdue,
        )
        return support_queue.queue_page(
            session=session, actor=who, filters=filters, offset=offset, limit=limit
        )

    page = _run(actor, json_output, action)
    lines = [
        f"Звернень: {page.total} (нових: {page.new}, без виконавця: {page.unassigned}, моїх: {page.mine})"
    ]
    for row in page.rows:
        holder = f", виконавець: {row.assignee}" if row.assignee else ""
        flag = " — УВАГА: відправник не збігається" if row.flag else ""
        lines.append(
            f"#{row.id} [{row.state_label}] {row.type_label}: {row.subject} — {row.requester}{holder}{flag}"
        )
        if row.sla is not None:
            lines.append(
                f"    перша відповідь: {row.sla.first_response.label}; вирішення: {row.sla.resolution.label}"
            )
    emit(page.model_dump(mode="json"), json_output, "\n".join(lines))


@app.command("show", help="Звернення з усім листуванням")
def show(
    request_id: int = typer.Argument(..., help="Номер звернення"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """A request and its thread (internal notes marked)."""
    from aikom.core.timefmt import format_kyiv
    from aikom.services import support_queue

    detail = _run(
        actor,
        json_output,
        lambda s, who: support_queue.request_detail(session=s, actor=who, request_id=request_id),
    )
    r = detail.request
    lines = [
        f"#{r.id} {r.subject}",
        f"Тип: {r.type_label}; стан: {r.state_label}; пріоритет: {detail.priority_label}",
        f"Заявник: {r.requester}; організація: {r.org_unit or '—'}; виконавець: {r.assignee or '—'}",
    ]
    if r.linked_request_id:
        lines.append(f"Пов’язане звернення: #{r.linked_request_id}")
    if detail.filed_by:
        lines.append(f"Подано службою підтримки ({detail.filed_by}) від імені {r.requester}")
    if detail.process is not None:
        p = detail.process
        step = f"; поточний крок: {p.current_step_uk}" if p.current_step_uk else ""
        lines.append(f"Процес №{p.id} «{p.title}»: {p.state_uk}{step} ({p.path})")
    elif detail.process_to_start:
        lines.append(
            f"Можна запустити процес «{detail.process_to_start}»: aikom support start-process {r.id}"
        )
    if r.sla is not None:
        lines.append(
            f"SLA: перша відповідь — {r.sla.first_response.label}; вирішення — {r.sla.resolution.label}"
        )
    for m in detail.messages:
        kind = "нотатка" if m.visibility == "internal" else ("вхідне" if m.direction == "in" else "відповідь")
        lines.append(f"--- {format_kyiv(m.created_at)} · {m.author} · {kind}")
        lines.append(m.body)
        lines += [f"    вкладення: {a.file_name} ({a.size_bytes} Б)" for a in m.attachments]
    emit(detail.model_dump(mode="json"), json_output, "\n".join(lines))


def _done(result: dict[str, Any], json_output: bool, message: str) -> None:
    emit({"ok": True, **result, "message": message}, json_output, message)


@app.command("reply", help="Публічна відповідь заявнику (надсилається листом)")
def reply(
    request_id: int = typer.Argument(...),
    text: str | None = typer.Option(None, "--text", help="Текст відповіді"),
    canned: str | None = typer.Option(
        None, "--canned", help="Шаблон відповіді: received, need_edrpou, kep_advice, new_school, …"
    ),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """A public reply: its text, or a canned reply by code."""
    from aikom.services import support, support_sla

    if (text is None) == (canned is None):
        fail("Вкажіть або --text (текст відповіді), або --canned (код шаблону).", "validation", json_output)

    def action(session: Any, who: Any) -> Any:
        if canned is not None:
            return support_sla.reply_canned(session=session, actor=who, request_id=request_id, code=canned).id
        return support.reply(session=session, actor=who, request_id=request_id, body=text or "").id

    message = _run(actor, json_output, action)
    _done(
        {"request_id": request_id, "message_id": message},
        json_output,
        f"Відповідь у звернення #{request_id} надіслано.",
    )


@app.command("canned", help="Шаблони відповідей служби підтримки")
def canned_list(json_output: bool = JSON_OPTION) -> None:
    """The configured canned replies."""
    from aikom.services import support_sla

    replies = support_sla.canned_replies()
    emit(
        {"canned": [{"code": code, "label": label} for code, label in replies.items()]},
        json_output,
        "\n".join(f"{code} — {label}" for code, label in replies.items()),
    )


@app.command("note", help="Внутрішня нотатка (заявник її не бачить)")
def note(
    request_id: int = typer.Argument(...),
    text: str = typer.Option(..., "--text", help="Текст нотатки"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """An internal note."""
    from aikom.services import support

    message = _run(
        actor,
        json_output,
        lambda s, who: support.add_note(session=s, actor=who, request_id=request_id, body=text).id,
    )
    _done(
        {"request_id": request_id, "message_id": message},
        json_output,
        f"Нотатку до звернення #{request_id} додано.",
    )


@app.command("assign", help="Призначити виконавця (без --to — взяти собі; --nobody — зняти)")
def assign(
    request_id: int = typer.Argument(...),
    to: str | None = typer.Option(None, "--to", help="Виконавець: номер картки або email"),
    nobody: bool = typer.Option(False, "--nobody", help="Зняти виконавця"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Assign or claim."""
    from aikom.services import approvals, support

    def action(session: Any, who: Any) -> Any:
        assignee_id = (
            None if nobody else approvals.find_person(session=session, ref=to).id if to else who.person_id
        )
        request = support.assign(session=session, actor=who, request_id=request_id, assignee_id=assignee_id)
        return {"request_id": request.id, "assignee_id": request.assignee_id, "state": request.state.value}

    result = _run(actor, json_output, action)
    _done(result, json_output, f"Звернення #{request_id}: виконавця змінено.")


@app.command(
    "triage", help="Розглянути: accept (прийняти), reject (відхилити), ask_info (запитати інформацію)"
)
def triage(
    request_id: int = typer.Argument(...),
    decision: str = typer.Option(..., "--decision", help="accept | reject | ask_info"),
    comment: str | None = typer.Option(None, "--comment", help="Коментар для заявника"),
    request_type: str | None = typer.Option(None, "--type", help="Виправити тип звернення"),
    priority: str | None = typer.Option(None, "--priority", help="low | normal | high | urgent"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Triage."""
    from aikom.models import SupportPriority, SupportRequestType
    from aikom.services import support

    def action(session: Any, who: Any) -> Any:
        request = support.triage(
            session=session,
            actor=who,
            request_id=request_id,
            decision=_enum(decision, support.TriageDecision, "decision", "Рішення"),
            comment=comment,
            type=_enum(request_type, SupportRequestType, "type", "Тип"),
            priority=_enum(priority, SupportPriority, "priority", "Пріоритет"),
        )
        return {"request_id": request.id, "state": request.state.value}

    result = _run(actor, json_output, action)
    _done(result, json_output, f"Звернення #{request_id}: стан «{result['state']}».")


@app.command("resolve", help="Позначити виконаним (коментар надсилається заявнику)")
def resolve(
    request_id: int = typer.Argument(...),
    comment: str = typer.Option(..., "--comment", help="Що зроблено"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Resolve."""
    from aikom.services import support

    def action(session: Any, who: Any) -> Any:
        request = support.resolve(session=session, actor=who, request_id=request_id, comment=comment)
        return {"request_id": request.id, "state": request.state.value}

    _done(_run(actor, json_output, action), json_output, f"Звернення #{request_id} виконано.")


@app.command("close", help="Закрити виконане або відхилене звернення")
def close(
    request_id: int = typer.Argument(...),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Close."""
    from aikom.services import support

    def action(session: Any, who: Any) -> Any:
        request = support.close(session=session, actor=who, request_id=request_id)
        return {"request_id": request.id, "state": request.state.value}

    _done(_run(actor, json_output, action), json_output, f"Звернення #{request_id} закрито.")


@app.command(
    "fetch", help="Прочитати нову пошту служби підтримки (скриньку IMAP або локально — SMTP-приймача)"
)
def fetch(actor: str = AS_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Ingest new support mail (the reconciler does this on every pass too)."""
    from aikom.mail import support_inbox
    from aikom.services import support

    _run(actor, json_output, lambda s, who: support.desk_person(session=s, actor=who))
    try:
        report = support_inbox.fetch()
    except DomainError as error:  # the mailbox could not be read (e.g. IMAP): said in Ukrainian, retried
        fail(error.message_uk, error.code, json_output)
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(report.outcomes.items())) or "нових листів немає"
    failed = f"; не оброблено: {len(report.failed)}" if report.failed else ""
    emit(report.model_dump(mode="json"), json_output, f"Прочитано листів: {report.read} ({counts}){failed}")


@app.command("open", help="Подати звернення (служба підтримки — від імені особи: --on-behalf-of)")
def open_request(
    subject: str = typer.Option(..., "--subject", help="Тема"),
    text: str = typer.Option(..., "--text", help="Текст звернення"),
    request_type: str = typer.Option("question", "--type", help="Тип: question, new_school, …"),
    unit: str | None = typer.Option(
        None, "--unit", help="Організація: ЄДРПОУ або КАТОТТГ (типово — заявника)"
    ),
    on_behalf_of: str | None = typer.Option(
        None, "--on-behalf-of", help="Служба підтримки: від імені якої особи (номер картки або email)"
    ),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """File a request: one's own, or (the desk) a person's, recorded as filed on their behalf."""
    from aikom.models import SupportRequestType
    from aikom.services import approvals, org, support, support_processes

    def action(session: Any, who: Any) -> Any:
        kind = _enum(request_type, SupportRequestType, "type", "Тип")
        if on_behalf_of:
            requester = approvals.find_person(session=session, ref=on_behalf_of)
            who = support_processes.filing_actor(session=session, actor=who, requester_id=requester.id)
        unit_id = org.find_unit(session=session, code=unit).id if unit else None
        request = support.file_request(
            session=session, actor=who, type=kind, subject=subject, body=text, org_unit_id=unit_id
        )
        return {
            "request_id": request.id,
            "state": request.state.value,
            "requester_person_id": request.requester_person_id,
            "filed_by_id": who.person_id if who.on_behalf_of_id is not None else None,
        }

    result = _run(actor, json_output, action)
    behalf = " від імені заявника" if result["filed_by_id"] else ""
    _done(result, json_output, f"Звернення #{result['request_id']} подано{behalf}.")


@app.command(
    "start-process",
    help="Запустити процес зі звернення від імені заявника (--set ключ=значення змінює дані звернення)",
)
def start_process(
    request_id: int = typer.Argument(..., help="Номер звернення"),
    assignments: list[str] = typer.Option([], "--set", help="Параметр ключ=значення (можна кілька)"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Start the process the request's type maps to, prefilled from the request, on the requester's behalf."""
    from pydantic import ValidationError

    from aikom import commands
    from aikom.cli.process import _set
    from aikom.core.actor import Actor
    from aikom.core.validation import validation_message_uk
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        params: dict[str, Any] = {}
        for assignment in assignments:
            _set(params, assignment)
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            who = Actor(person_id=person.id, label=person.full_name)
        outcome = commands.start_process_from_request(request_id=request_id, actor=who, params=params)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    except ValidationError as error:
        fail(validation_message_uk(error), "validation_failed", json_output)
        return
    payload = {"request_id": request_id, **outcome.model_dump()}
    payload["message"] = payload.pop("message_uk")
    emit(payload, json_output, outcome.message_uk)
