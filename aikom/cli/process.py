"""`aikom process …`: the declared processes, start any of them, list and show processes."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from aikom.cli.lookup import find_oblast, parse_day
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.validation import validation_message_uk

app = typer.Typer(help="Процеси", no_args_is_help=True)


@app.command("types", help="Процеси, які можна почати: назва, хто починає, параметри (JSON-схема)")
def types(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
    """Every declared process with its parameters' JSON schema."""
    from aikom.processes import all_specs
    from aikom.services.persons import role_title

    rows = [
        {
            "type": spec.type,
            "title": spec.title_uk,
            "description": spec.description_uk,
            "starter_roles": sorted(role.value for role in spec.starter_roles),
            "who_may_start": spec.who_may_start_uk,
            "parameters": spec.json_schema(),
        }
        for spec in all_specs()
    ]
    human = "\n".join(
        f"{r['type']}: {r['title']} — починає: {', '.join(role_title(x) for x in r['starter_roles'])}"
        for r in rows
    )
    emit(rows, json_output, human)


def _set(params: dict[str, Any], assignment: str) -> None:
    """`key=value` (a dotted key sets a nested field; a JSON value is parsed, else taken as text)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ValidationFailed("set", f"Параметр «{assignment}»: потрібно ключ=значення.")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    target = params
    *path, last = key.strip().split(".")
    for part in path:
        target = target.setdefault(part, {})
    target[last] = value


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise ValidationFailed(what, f"Файл «{path}» не знайдено.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValidationFailed(what, f"Файл «{path}» не є коректним JSON: {error.msg}.") from None


@app.command("start", help="Розпочати процес (параметри: --params FILE.json і/або --set ключ=значення)")
def start(
    process_type: str = typer.Argument(..., help="Тип процесу (`aikom process types`)"),
    actor: str = typer.Option(..., "--as", help="Хто починає: номер картки особи або email"),
    params_file: Path | None = typer.Option(None, "--params", help="JSON-файл із параметрами процесу"),
    assignments: list[str] = typer.Option([], "--set", help="Параметр ключ=значення (можна кілька)"),
    on_behalf_of: str | None = typer.Option(
        None, "--on-behalf-of", help="Служба підтримки: від імені якої особи (номер картки або email)"
    ),
    school: str | None = typer.Option(
        None, "--school", help="Скорочення для --set school=… (ЄДРПОУ або номер)"
    ),
    new_director: Path | None = typer.Option(
        None,
        "--new-director",
        help="Скорочення: JSON нового керівника (full_name, rnokpp, email, order_no, order_date)",
    ),
    org: int | None = typer.Option(None, "--org", help="Скорочення для --set org=…"),
    title: str | None = typer.Option(None, "--title", help="Скорочення для --set title=…"),
    due_in_seconds: int | None = typer.Option(
        None, "--due-in-seconds", help="Скорочення для --set due_in_seconds=…"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Validate the parameters, record the process, then start its run (or leave it to the reconciler)."""
    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.services import approvals

    try:
        params: dict[str, Any] = {}
        if params_file is not None:
            loaded = _read_json(params_file, "params")
            if not isinstance(loaded, dict):
                raise ValidationFailed("params", "Параметри: потрібен JSON-об'єкт із полями.")
            params.update(loaded)
        shorthands = {"school": school, "org": org, "title": title, "due_in_seconds": due_in_seconds}
        params.update({key: value for key, value in shorthands.items() if value is not None})
        if new_director is not None:
            params["new_director"] = _read_json(new_director, "new_director")
        for assignment in assignments:
            _set(params, assignment)
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            behalf = approvals.find_person(session=session, ref=on_behalf_of).id if on_behalf_of else None
        outcome = commands.start_process(
            process_type=process_type,
            params=params,
            actor=commands.actor_of(person.id, on_behalf_of_id=behalf),
        )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    except ValidationError as error:
        fail(validation_message_uk(error), "validation_failed", json_output)
        return
    payload = outcome.model_dump()
    payload["message"] = payload.pop("message_uk")
    emit(payload, json_output, outcome.message_uk)


def _start_of(day: date) -> datetime:
    """The first moment of `day`, Kyiv time."""
    from aikom.core.calendar import KYIV

    return datetime.combine(day, time.min, tzinfo=KYIV)


@app.command(
    "list", help="Процеси, які особа може бачити (фільтри: тип, стан, область, ініціатор, прострочені)"
)
def list_command(
    actor: str = typer.Option(..., "--as", help="Від імені кого: номер картки особи або email"),
    process_type: str | None = typer.Option(None, "--type", help="Тип процесу"),
    states: list[str] = typer.Option([], "--state", help="Стан (можна кілька): waiting, completed, …"),
    oblast: str | None = typer.Option(None, "--oblast", help="Область: КАТОТТГ, ЄДРПОУ або номер"),
    requester: str | None = typer.Option(None, "--requester", help="Ініціатор: номер картки або email"),
    overdue: bool = typer.Option(False, "--overdue", help="Лише з простроченими кроками"),
    since: str | None = typer.Option(None, "--since", help="Розпочаті від дати (РРРР-ММ-ДД)"),
    offset: int = typer.Option(0, "--offset", min=0, help="Пропустити стільки процесів (сторінки)"),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="Скільки процесів показати (1–200)"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """A page of the processes this person may see, newest first."""
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.models import ProcessState
    from aikom.processes import get_spec
    from aikom.services import approvals
    from aikom.services.process_list import ProcessFilters, list_processes

    try:
        if process_type:
            get_spec(process_type, demo=True)
        try:
            chosen = [ProcessState(s) for s in states]
        except ValueError:
            raise ValidationFailed(
                "state", f"Стан: можливі {', '.join(s.value for s in ProcessState)}."
            ) from None
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=actor)
            filters = ProcessFilters(
                process_type=process_type,
                states=chosen,
                oblast_id=find_oblast(session, oblast).id if oblast else None,
                requester_id=approvals.find_person(session=session, ref=requester).id if requester else None,
                overdue=overdue,
                since=_start_of(parse_day(since, field="since", label="Розпочаті від")) if since else None,
            )
            page = list_processes(session=session, viewer=viewer, filters=filters, offset=offset, limit=limit)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    human = [f"Процесів: {page.total}"] + [
        f"№{r.id} {r.title} — {r.state_uk}{' (прострочено)' if r.overdue else ''}, "
        f"{format_kyiv(r.created_at)}"
        for r in page.rows
    ]
    emit(page.model_dump(mode="json"), json_output, "\n".join(human))


@app.command("show", help="Процес: кроки, хто й коли ухвалив рішення, історія дій")
def show(
    process_id: int = typer.Argument(..., help="Номер процесу"),
    as_person: str | None = typer.Option(
        None, "--as", help="Показати від імені особи (лише якщо їй дозволено бачити процес)"
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Show a process, its human steps, its history and (when reachable) the engine's state of its run."""
    from aikom.core.timefmt import format_kyiv
    from aikom.db import unit_of_work
    from aikom.orchestration import adapter
    from aikom.services import approvals, processes

    try:
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=as_person).id if as_person else None
            view = processes.show_process(session=session, process_id=process_id, viewer_id=viewer)
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
    lines = [f"Процес №{view.id}: {view.title} — {view.state_uk}"]
    if view.flow_version:
        lines.append(f"Версія процесу: {view.flow_version}")
    if view.current_step_title:
        lines.append(f"Поточний крок: {view.current_step_title}")
    if view.outcome:
        lines.append(f"Результат: {view.outcome}")
    for step in view.steps:
        decided = f", рішення: {step.decision_uk}" if step.decision_uk else ""
        lines.append(f"  • завдання №{step.task_id} «{step.title}»: {step.state_uk}{decided}")
    for entry in view.history:
        lines.append(f"  {format_kyiv(entry.at, zone=False)} {entry.actor}: {entry.action_uk}")
    emit(payload, json_output, "\n".join(lines))


@app.command("retry", help="Оператор: процес, позначений для розгляду, знову веде узгоджувач")
def retry(
    process_id: int = typer.Argument(..., help="Номер процесу"),
    actor: str = typer.Option(..., "--as", help="Технічний адміністратор ІОА: номер картки або email"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Clear a process's «needs an operator» flag; the reconciler repairs its run again."""
    from aikom import commands
    from aikom.core.errors import RoleNotAllowed
    from aikom.db import unit_of_work
    from aikom.models import PersonRole
    from aikom.services import approvals, processes

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            if person.role != PersonRole.INSTITUTE_ADMIN:
                raise RoleNotAllowed(
                    "Процес, позначений для оператора, відновлює технічний адміністратор ІОА."
                )
            processes.clear_attention(
                session=session, process_id=process_id, actor=commands.actor_of(person.id)
            )
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    emit({"ok": True, "process_id": process_id}, json_output, f"Процес №{process_id} знову веде узгоджувач.")


@app.command("rollout-report", help="Розгортання: одиниці й що з ними зроблено (напр. без офіційної пошти)")
def rollout_report(
    process_id: int = typer.Argument(..., help="Номер процесу розгортання"),
    as_person: str = typer.Option(..., "--as", help="Від імені особи (їй має бути дозволено бачити процес)"),
    outcome: str | None = typer.Option(
        None, "--outcome", help="Лише одиниці з цим результатом: opened, no_email, has_account, deactivated"
    ),
    limit: int = typer.Option(1000, "--limit", min=1, max=100000, help="Скільки одиниць показати"),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """The units a rollout handled, by name, with their outcome (e.g. the ones left without an email)."""
    from dataclasses import asdict

    from aikom.db import unit_of_work
    from aikom.models import RolloutOutcome
    from aikom.services import approvals, processes, rollout

    try:
        wanted = RolloutOutcome(outcome) if outcome else None
    except ValueError:
        fail(
            f"Результат: «{outcome}» — можливі: {', '.join(o.value for o in RolloutOutcome)}.",
            "validation_failed",
            json_output,
        )
        return
    try:
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=as_person)
            processes.show_process(session=session, process_id=process_id, viewer_id=viewer.id)
            lines = rollout.rollout_report(
                session=session, process_id=process_id, outcome=wanted, limit=limit
            )
            counts = rollout.rollout_counts(session=session, process_id=process_id)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    human = [f"{k}: {v}" for k, v in counts.items()] + [
        f"№{line.org_unit_id} {line.name} — {line.outcome_uk}" + (f" ({line.note})" if line.note else "")
        for line in lines
    ]
    emit({"counts": dict(counts), "units": [asdict(line) for line in lines]}, json_output, "\n".join(human))
