"""Application commands: what a person asks the system to do. Each owns its unit of work — validate,
commit, then launch or wake the flow run — and returns an outcome that pages and the CLI only render.

A decision is committed before any flow run is woken; when the Prefect server is unreachable the
decision stays committed and the reconciler wakes the run later (the outcome says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, RoleNotAllowed
from aikom.db import unit_of_work
from aikom.models import Decision, Person, PersonRole, PersonState
from aikom.processes import ProcessNotStartable, get_spec
from aikom.services import approvals
from aikom.services.approvals import SignedPayload

# Who may act on a requester's behalf (the support desk; institute admins for their own checks).
MAY_ACT_FOR_OTHERS = frozenset({PersonRole.SUPPORT_AGENT, PersonRole.INSTITUTE_ADMIN})
RESUMED_UK = "Процес №{process_id} продовжено."
ENGINE_DOWN_UK = "Сервер процесів зараз недоступний — процес продовжиться автоматично, щойно він запрацює."


class StartOutcome(BaseModel):
    """A process recorded (and, when the engine answered, launched)."""

    ok: bool = True
    process_id: int
    flow_run_id: str | None
    started: bool
    message_uk: str


class DecideOutcome(BaseModel):
    """A decision committed; what happened to the waiting run."""

    ok: bool = True
    task_id: int
    process_id: int
    decision: str
    resume: str
    message_uk: str


class BatchItemOutcome(BaseModel):
    """One task of a bulk decision."""

    task_id: int
    ok: bool
    message_uk: str
    resume: str | None = None


class BatchOutcome(BaseModel):
    """A bulk decision: each task on its own."""

    ok: bool
    decided: int
    refused: int
    items: list[BatchItemOutcome]


def actor_of(person_id: int, *, on_behalf_of_id: int | None = None, db_url: str | None = None) -> Actor:
    """The `Actor` value of a person (acting, perhaps, for a requester) — checked: the person exists, and
    only the support desk (or an institute admin) acts on someone's behalf."""
    with unit_of_work(db_url) as session:
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound(f"Особу №{person_id} не знайдено.")
        if on_behalf_of_id is None or on_behalf_of_id == person_id:
            return Actor(person_id=person.id, label=person.full_name)
        if person.role not in MAY_ACT_FOR_OTHERS:
            raise RoleNotAllowed("Діяти від імені іншої особи може лише служба підтримки.")
        requester = session.get(Person, on_behalf_of_id)
        if requester is None:
            raise NotFound(f"Особу №{on_behalf_of_id}, від імені якої подано запит, не знайдено.")
        return Actor(
            person_id=person.id,
            label=person.full_name,
            on_behalf_of_id=requester.id,
            on_behalf_of_label=requester.full_name,
        )


def start_process(
    *,
    process_type: str,
    params: Mapping[str, Any] | BaseModel,
    actor: Actor,
    db_url: str | None = None,
    api_url: str | None = None,
) -> StartOutcome:
    """Validate the parameters (pydantic ValidationError names every bad field), record the process as
    the requester's, commit, then launch its run (or leave the launch to the reconciler)."""
    spec = get_spec(process_type)
    parsed = spec.parse(params)
    with unit_of_work(db_url) as session:
        requester = session.get(Person, actor.requester_id) if actor.requester_id is not None else None
        if requester is None:
            raise NotFound("Ініціатора процесу не знайдено.")
        if not spec.may_be_started_by(requester.role):
            raise ProcessNotStartable(spec)
        if requester.state != PersonState.ACTIVE:
            raise approvals.PersonNotActive(requester)
        process = spec.start_service()(session=session, actor=actor, params=parsed)
        process_id = process.id
    return _launch(process_id, db_url=db_url, api_url=api_url)


def start_process_from_request(
    *,
    request_id: int,
    actor: Actor,
    params: Mapping[str, Any] | None = None,
    db_url: str | None = None,
    api_url: str | None = None,
) -> StartOutcome:
    """The support desk starts the process a request maps to, on the requester's behalf, with the
    parameters prefilled from the request (`params` override them); commit, then launch the run."""
    from aikom.services import support_processes

    with unit_of_work(db_url) as session:
        process = support_processes.start_from_request(
            session=session, actor=actor, request_id=request_id, params=params
        )
        process_id = process.id
    return _launch(process_id, db_url=db_url, api_url=api_url)


def _launch(process_id: int, *, db_url: str | None, api_url: str | None) -> StartOutcome:
    from aikom.orchestration.adapter import OrchestratorUnavailable
    from aikom.services.reconcile import launch_process

    try:
        flow_run_id = launch_process(process_id, db_url=db_url, api_url=api_url)
    except OrchestratorUnavailable:
        return StartOutcome(
            process_id=process_id,
            flow_run_id=None,
            started=False,
            message_uk=f"Процес №{process_id} збережено. {ENGINE_DOWN_UK}",
        )
    return StartOutcome(
        process_id=process_id,
        flow_run_id=flow_run_id,
        started=True,
        message_uk=f"Процес №{process_id} розпочато.",
    )


def wake(task_ids: Sequence[int], *, db_url: str | None = None, api_url: str | None = None) -> dict[int, str]:
    """Wake the runs waiting for these (committed) decisions; what happened to each."""
    from aikom.services.reconcile import wake_for_task

    return {task_id: wake_for_task(task_id, db_url=db_url, api_url=api_url).value for task_id in task_ids}


def _resume_message(resume: str, process_id: int) -> str:
    if resume == "unavailable":
        return ENGINE_DOWN_UK
    if resume == "resumed":
        return RESUMED_UK.format(process_id=process_id)
    return ""


def decide_task(
    *,
    task_id: int,
    actor: Actor,
    decision: Decision,
    comment: str | None,
    signed: SignedPayload | None,
    db_url: str | None = None,
    api_url: str | None = None,
) -> DecideOutcome:
    """Commit a КЕП-signed decision, then wake the run waiting for it."""
    with unit_of_work(db_url) as session:
        person = _person(session, actor)
        decided = approvals.decide(
            session=session, task_id=task_id, actor=person, decision=decision, comment=comment, signed=signed
        )
        process_id = decided.process_id
    resume = wake([task_id], db_url=db_url, api_url=api_url)[task_id]
    label = approvals.DECISION_LABELS_UK[decision]
    message = f"Рішення щодо завдання №{task_id} ухвалено й підписано: {label}. " + _resume_message(
        resume, process_id
    )
    return DecideOutcome(
        task_id=task_id,
        process_id=process_id,
        decision=decision.value,
        resume=resume,
        message_uk=message.strip(),
    )


def decide_tasks(
    *,
    actor: Actor,
    signed: SignedPayload,
    task_ids: Sequence[int],
    db_url: str | None = None,
    api_url: str | None = None,
) -> BatchOutcome:
    """A bulk decision signed ONCE over a batch document that lists every task and its decision.

    The document must list exactly the selected tasks (else nothing is decided). Each task is then
    checked and decided on its own: one a rule refuses is reported, the others go through.
    """
    from aikom.services import batch

    with unit_of_work(db_url) as session:
        person = _person(session, actor)
        document = batch.check_batch(
            session=session, actor=person, signed=signed, task_ids=list(task_ids), trust=None
        )
    items: list[BatchItemOutcome] = []
    for item in document.items:
        try:
            with unit_of_work(db_url) as session:
                batch.decide_item(session=session, actor=_person(session, actor), signed=signed, item=item)
        except DomainError as refusal:
            items.append(BatchItemOutcome(task_id=item.task, ok=False, message_uk=refusal.message_uk))
            continue
        items.append(BatchItemOutcome(task_id=item.task, ok=True, message_uk="Рішення ухвалено."))
    decided = [i.task_id for i in items if i.ok]
    for task_id, resume in wake(decided, db_url=db_url, api_url=api_url).items():
        for item_outcome in items:
            if item_outcome.task_id == task_id:
                item_outcome.resume = resume
    refused = len(items) - len(decided)
    return BatchOutcome(ok=refused == 0, decided=len(decided), refused=refused, items=items)


def _person(session: Session, actor: Actor) -> Person:
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None:
        raise NotFound("Особу не знайдено.")
    return person
