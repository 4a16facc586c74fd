"""`aikom process …`: start a process, show it with its steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.validation import validation_message_uk
from aikom.models import Person, ProcessType

app = typer.Typer(help="Процеси", no_args_is_help=True)


@app.command("start", help="Розпочати процес")
def start(
    flow: str = typer.Argument(..., help="Процес (потік), напр. demo-approval"),
    actor: str = typer.Option(..., "--as", help="Ініціатор: номер картки особи або email"),
    org: int | None = typer.Option(None, "--org", help="Організація, якої стосується процес"),
    title: str | None = typer.Option(None, "--title", help="Назва кроку погодження"),
    due_in_seconds: int | None = typer.Option(None, "--due-in-seconds", help="Строк розгляду, с"),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="Ключ повторного запиту"),
    school: str | None = typer.Option(
        None, "--school", help="Заклад (ЄДРПОУ або номер), для заміни керівника"
    ),
    new_director: Path | None = typer.Option(
        None, "--new-director", help="JSON нового керівника: full_name, rnokpp, email, order_no, order_date"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Record a new process in the database, then start its flow run (or leave it to the reconciler)."""
    from aikom.db import unit_of_work
    from aikom.deployments import spec_for
    from aikom.services import approvals

    try:
        spec = spec_for(flow)
    except ValueError:
        fail(f"Невідомий процес «{flow}».", "validation_failed", json_output)
        return
    if spec.process_type is None:
        fail(f"«{flow}» не є бізнес-процесом.", "validation_failed", json_output)
        return
    parameters: dict[str, Any] = {}
    if title:
        parameters["title"] = title
    if due_in_seconds:
        parameters["due_in_seconds"] = due_in_seconds
    try:
        with unit_of_work() as session:
            requester = approvals.find_person(session=session, ref=actor)
            if flow == "director-replacement":
                process_id = _start_director_replacement(session, requester, school, new_director)
            else:
                process_id = _start_generic(
                    session, requester, spec.process_type, flow, org, parameters, idempotency_key
                )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    except ValidationError as error:  # a malformed form file
        fail(validation_message_uk(error), "validation_failed", json_output)
        return
    _launch(process_id, json_output)


def _start_generic(
    session: Session,
    requester: Person,
    process_type: ProcessType,
    flow: str,
    org: int | None,
    parameters: dict[str, Any],
    idempotency_key: str | None,
) -> int:
    from aikom.services import processes

    process = processes.create_process(
        session=session,
        type=process_type,
        flow=flow,
        requester=requester,
        subject_org_unit_id=org,
        parameters=parameters,
        idempotency_key=idempotency_key,
    )
    return process.id


def _start_director_replacement(
    session: Session, requester: Person, school: str | None, form: Path | None
) -> int:
    from aikom.services import directors

    if not school:
        raise ValidationFailed("school", "Заклад: вкажіть --school (ЄДРПОУ або номер закладу).")
    if form is None or not form.is_file():
        raise ValidationFailed("new_director", "Новий керівник: вкажіть --new-director FILE.json.")
    data = directors.NewDirector.model_validate_json(form.read_text(encoding="utf-8"))
    unit = directors.find_school(session=session, code=school)
    process = directors.start_replacement(
        session=session, actor=requester, school_id=unit.id, new_director=data
    )
    return process.id


def _launch(process_id: int, json_output: bool) -> None:
    from aikom.orchestration.adapter import OrchestratorUnavailable
    from aikom.services.reconcile import launch_process

    payload: dict[str, Any] = {"ok": True, "process_id": process_id, "flow_run_id": None, "started": False}
    try:
        payload["flow_run_id"] = launch_process(process_id)
        payload["started"] = True
        human = f"Процес №{process_id} запущено."
    except OrchestratorUnavailable as error:
        payload["message"] = error.message_uk
        human = f"Процес №{process_id} збережено. {error.message_uk}"
    emit(payload, json_output, human)


@app.command("show", help="Процес, його кроки й хто ухвалив рішення")
def show(
    process_id: int = typer.Argument(..., help="Номер процесу"),
    as_person: int | None = typer.Option(
        None, "--as", help="Показати від імені особи (лише якщо їй дозволено бачити процес)"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Show a process, its human steps and (when reachable) the engine's state of its run."""
    from aikom.db import unit_of_work
    from aikom.orchestration import adapter
    from aikom.services import processes

    try:
        with unit_of_work() as session:
            view = processes.show_process(session=session, process_id=process_id, viewer_id=as_person)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    payload = view.model_dump(mode="json")
    payload["engine"] = None
    if view.flow_run_id:
        try:
            run = adapter.read_run(view.flow_run_id)
            payload["engine"] = (
                run.model_dump(mode="json", include={"state_type", "state_name"}) if run else None
            )
        except adapter.OrchestratorUnavailable:
            payload["engine"] = None
    lines = [f"Процес №{view.id} ({view.flow or view.type}): {view.state_uk}"]
    if view.current_step:
        lines.append(f"Поточний крок: {view.current_step}")
    if view.outcome:
        lines.append(f"Результат: {view.outcome}")
    for step in view.steps:
        decided = f", рішення: {step.decision}" if step.decision else ""
        lines.append(f"  • завдання №{step.task_id} «{step.title}»: {step.state}{decided}")
    emit(payload, json_output, "\n".join(lines))
