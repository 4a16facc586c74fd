"""Processes: the business record of a flow run (type, subject, requester, state, current step, run id).

A process row is created before its flow run exists (so a start is never lost when Prefect is down);
`parameters["flow"]` names the flow that runs it (see `aikom.deployments`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import NotFound, NotInScope, ValidationFailed
from aikom.mail.templates import ProcessOutcome
from aikom.models import (
    ApprovalTask,
    AuditEntry,
    Decision,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
    TaskState,
)
from aikom.processes import title_of
from aikom.services import audit
from aikom.services.approvals import PersonNotActive, org_lineage
from aikom.services.outbox import enqueue

FactsT = TypeVar("FactsT", bound=BaseModel)

FINAL_STATES = frozenset(
    {
        ProcessState.COMPLETED,
        ProcessState.REJECTED,
        ProcessState.EXPIRED,
        ProcessState.FAILED,
        ProcessState.CANCELLED,
    }
)
STATE_LABELS_UK = {
    ProcessState.STARTING: "запускається",
    ProcessState.RUNNING: "виконується",
    ProcessState.WAITING: "очікує рішення",
    ProcessState.COMPLETED: "завершено",
    ProcessState.REJECTED: "відхилено",
    ProcessState.EXPIRED: "строк минув",
    ProcessState.FAILED: "помилка",
    ProcessState.CANCELLED: "скасовано",
}


class StepView(BaseModel):
    """One human step of a process."""

    task_id: int
    step_key: str
    title: str
    state: str
    state_uk: str
    decision: str | None
    decision_uk: str | None
    decided_by_id: int | None
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    due_at: datetime | None
    resumed_at: datetime | None
    allowed_roles: list[str]
    scope_org_unit_id: int | None
    excluded_person_id: int | None
    claimed_by: str | None
    escalation_level: int
    shown: list[tuple[str, str]]


class HistoryEntry(BaseModel):
    """One audit entry about a process, as people read it."""

    at: datetime
    actor: str
    action: str
    action_uk: str


class ProgressLine(BaseModel):
    """One line of a process's progress: done of total (total None: a count only)."""

    label: str
    done: int
    total: int | None = None


class ProcessView(BaseModel):
    """A process with its steps and history, as pages and the CLI show it."""

    id: int
    type: str
    title: str
    flow_version: str | None
    state: str
    state_uk: str
    current_step: str | None
    current_step_title: str | None
    flow_run_id: str | None
    requester_person_id: int | None
    requester: str | None
    started_by: str | None
    subject_org_unit_id: int | None
    subject: str | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime | None
    finished_at: datetime | None
    steps: list[StepView]
    history: list[HistoryEntry]
    # Long automatic work reports how far it got (a rollout: units handled of the total, by outcome).
    progress: list[ProgressLine] = Field(default_factory=list)


TASK_STATE_LABELS_UK = {
    TaskState.OPEN: "очікує рішення",
    TaskState.DECIDED: "рішення ухвалено",
    TaskState.EXPIRED: "строк минув",
    TaskState.CANCELLED: "скасовано",
}
DECISION_LABELS_UK = {
    Decision.APPROVE: "погоджено",
    Decision.REJECT: "відхилено",
    Decision.CONFIRM: "підтверджено",
    Decision.DEACTIVATE: "деактивовано",
}
ACTION_LABELS_UK = {
    "process.started": "процес розпочато",
    "director_replacement.started": "заміну керівника розпочато",
    "account_deactivation.started": "деактивацію облікового запису розпочато",
    "account.deactivated": "обліковий запис деактивовано",
    "org_unit.branch_moved": "філію перенесено до іншого опорного закладу",
    "branch.requested": "створення філії запитано",
    "new_school.started": "звернення про новий заклад освіти подано",
    "support.process_started": "процес запущено зі звернення до служби підтримки",
    "org_unit.branch_created": "філію створено під опорним закладом",
    "liquidated_deactivation.started": "пакетну деактивацію ліквідованих закладів розпочато",
    "liquidated_deactivation.deactivated": "обліковий запис ліквідованого закладу деактивовано",
    "liquidated_deactivation.skipped": "ліквідований заклад пропущено",
    "approval.decided": "ухвалено рішення",
    "approval.claimed": "завдання взято в роботу",
    "approval.released": "завдання повернуто до спільної черги",
    "approval.assigned": "завдання призначено колезі",
    "approval.reminded": "надіслано нагадування",
    "approval.escalated": "завдання передано на рівень вище (прострочено)",
    "approval.expired": "строк кроку минув",
    "approval.handed_over": "завдання передано через відсутність",
    "person.created": "створено картку особи",
    "person.activated": "картку активовано першим входом із КЕП",
    "person.director_replaced": "колишнього керівника деактивовано",
    "person.deputy_confirmed": "повноваження заступника підтверджено",
    "person.deputy_deactivated": "заступника деактивовано",
    "process.failed": "процес зупинено через помилку",
    "process.finished": "процес завершено",
}


def create_process(
    *,
    session: Session,
    type: str,
    actor: Actor,
    subject_org_unit_id: int | None,
    parameters: dict[str, Any] | None = None,
    title: str | None = None,
    idempotency_key: str | None = None,
) -> Process:
    """Create a STARTING process of `type`; with an idempotency key a repeated call returns the first.

    The requester (the actor, or whom the support desk acts for) must be active and the subject must lie
    in the requester's org subtree.
    """
    if subject_org_unit_id is not None and session.get(OrgUnit, subject_org_unit_id) is None:
        raise ValidationFailed("subject_org_unit_id", f"Організацію №{subject_org_unit_id} не знайдено.")
    requester = session.get(Person, actor.requester_id) if actor.requester_id is not None else None
    if actor.requester_id is not None and requester is None:
        raise NotFound(f"Особу №{actor.requester_id} не знайдено.")
    if requester is not None:
        if requester.state != PersonState.ACTIVE:
            raise PersonNotActive(requester)
        if subject_org_unit_id is not None and requester.org_unit_id not in org_lineage(
            session, subject_org_unit_id
        ):
            raise NotInScope(
                f"Організація №{subject_org_unit_id} лежить поза вашою зоною відповідальності.",
                actor_id=requester.id,
                org_unit_id=subject_org_unit_id,
            )
    values = {
        "type": type,
        "title": (title or title_of(type))[:300],
        "state": ProcessState.STARTING,
        "requester_person_id": requester.id if requester else None,
        "started_by_id": actor.person_id,
        "subject_org_unit_id": subject_org_unit_id,
        "parameters": dict(parameters or {}),
        "idempotency_key": idempotency_key,
    }
    if idempotency_key is None:
        process = Process(**values)
        session.add(process)
        session.flush()
        return process
    session.execute(
        insert(Process).values(**values).on_conflict_do_nothing(index_elements=[Process.idempotency_key])
    )
    return session.scalars(select(Process).where(Process.idempotency_key == idempotency_key)).one()


def requester_of(session: Session, actor: Actor) -> Person:
    """The person a request is from: the actor, or whom the support desk acts for (with their rights)."""
    person = session.get(Person, actor.requester_id) if actor.requester_id is not None else None
    if person is None:
        raise NotFound("Особу, від імені якої подано запит, не знайдено.")
    return person


def starters_of(process: Process) -> list[int]:
    """Who a request is from: its requester and whoever started it for them (four-eyes excludes both)."""
    return sorted({i for i in (process.requester_person_id, process.started_by_id) if i is not None})


def process_actor(session: Session, process: Process) -> Actor:
    """The requester of a process as the actor of the steps taken for them (the system when none)."""
    requester = session.get(Person, process.requester_person_id) if process.requester_person_id else None
    if requester is None:
        return Actor.system()
    starter = session.get(Person, process.started_by_id) if process.started_by_id else None
    if starter is not None and starter.id != requester.id:
        return Actor(
            person_id=starter.id,
            label=starter.full_name,
            on_behalf_of_id=requester.id,
            on_behalf_of_label=requester.full_name,
        )
    return Actor(person_id=requester.id, label=requester.full_name)


def get_process(*, session: Session, process_id: int, lock: bool = False) -> Process:
    """The process, or NotFound."""
    stmt = select(Process).where(Process.id == process_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    process = session.scalars(stmt).one_or_none()
    if process is None:
        raise NotFound(f"Процес №{process_id} не знайдено.", process_id=process_id)
    return process


# A process that has not ended yet (one live process per subject, per grant, per account …).
LIVE_STATES = (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING)


def live_process_id(*, session: Session, process_type: str, parameter: str, value: int) -> int | None:
    """The first live process of `process_type` whose integer parameter `parameter` is `value`."""
    return session.scalars(
        select(Process.id)
        .where(
            Process.type == process_type,
            Process.state.in_(LIVE_STATES),
            Process.parameters[parameter].as_integer() == value,
        )
        .order_by(Process.id)
    ).first()


def process_facts(
    *, session: Session, process_id: int, process_type: str, model: type[FactsT], lock: bool = False
) -> tuple[Process, FactsT]:
    """A process of `process_type` and its parameters as the typed facts `model` (NotFound otherwise)."""
    process = get_process(session=session, process_id=process_id, lock=lock)
    if process.type != process_type:
        raise NotFound(f"Процес №{process_id} не знайдено.", process_id=process_id)
    return process, model.model_validate(process.parameters)


def attach_flow_run(*, session: Session, process_id: int, flow_run_id: str) -> Process:
    """Remember the flow run of a process (the first one attached stays)."""
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.flow_run_id is None:
        process.flow_run_id = flow_run_id
        process.updated_at = datetime.now(UTC)
        session.flush()
    return process


def check_run_version(
    *, session: Session, process_id: int, version: str | None, known_steps: list[str]
) -> bool:
    """A run (re)starts on `version` of its flow: record the version it started on; when a waiting run
    resumes on a changed flow, go on if every step the process has is still one the flow knows (by key
    prefix), else flag the process for an operator. Whether the run may go on."""
    process = get_process(session=session, process_id=process_id, lock=True)
    if version is None or process.state in FINAL_STATES:
        return process.attention is None
    if process.flow_version is None:
        process.flow_version = version
        session.flush()
        return process.attention is None
    last = session.scalars(
        select(AuditEntry.details)
        .where(
            AuditEntry.object_type == "process",
            AuditEntry.object_id == str(process.id),
            AuditEntry.action == "process.version_changed",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    current = str(last["to"]) if last else process.flow_version
    if version == current:
        return process.attention is None
    steps = session.scalars(select(ApprovalTask.step_key).where(ApprovalTask.process_id == process.id)).all()
    unknown = [key for key in steps if not any(key == k or key.startswith(k) for k in known_steps)]
    if unknown:
        process.attention = (
            f"Процес змінився під час очікування (версія {version}, була {current}): крок "
            f"«{unknown[0]}» невідомий новій версії. Потрібне рішення оператора (`aikom process retry`)."
        )[:500]
    audit.record(
        session=session,
        action="process.flagged" if unknown else "process.version_changed",
        object_type="process",
        object_id=process.id,
        details={"from": current, "to": version, "unknown_steps": unknown},
        actor_label="system",
    )
    session.flush()
    return not unknown


def clear_attention(*, session: Session, process_id: int, actor: Actor) -> Process:
    """An operator has looked at a flagged process: the reconciler takes care of it again."""
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.attention is None:
        raise ValidationFailed("process", f"Процес №{process_id} не позначено для оператора.")
    reason, process.attention = process.attention, None
    audit.record(
        session=session,
        action="process.retried",
        object_type="process",
        object_id=process.id,
        details={"was": reason},
        actor=actor,
    )
    session.flush()
    return process


def mark_step(*, session: Session, process_id: int, state: ProcessState, step: str | None) -> Process:
    """Move a live process to RUNNING or WAITING at `step`; a finished process is left alone."""
    if state in FINAL_STATES or state == ProcessState.STARTING:
        raise ValueError(f"mark_step cannot set {state}")
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.state in FINAL_STATES:
        return process
    process.state = state
    process.current_step = step
    process.updated_at = datetime.now(UTC)
    session.flush()
    return process


def finish(*, session: Session, process_id: int, state: ProcessState, outcome: str | None = None) -> Process:
    """Put a process into a final state once; a second call keeps the first outcome."""
    if state not in FINAL_STATES:
        raise ValueError(f"{state} is not a final state")
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.state not in FINAL_STATES:
        _close(session, process, state, outcome)
        audit.record(
            session=session,
            action="process.finished",
            object_type="process",
            object_id=process.id,
            details={"state": state.value, "outcome": outcome},
            actor_label="system",
        )
    return process


def _close(session: Session, process: Process, state: ProcessState, outcome: str | None) -> None:
    """Move a locked, live process into the final `state`."""
    now = datetime.now(UTC)
    process.state = state
    process.outcome = outcome
    process.current_step = None
    process.updated_at = now
    process.finished_at = now
    session.flush()


def process_title(process: Process) -> str:
    """How people call a process: its kind and its subject («Заміна керівника закладу освіти: Ліцей № 3»)."""
    return process.title or f"{title_of(process.type)} №{process.id}"


def notify_requester(
    *,
    session: Session,
    process_id: int,
    outcome: str,
    comment: str | None,
    facts: list[str] | None = None,
) -> None:
    """Email the requester how the process ended (once per process, whatever the outcome)."""
    from aikom.services.approvals import process_link

    process = get_process(session=session, process_id=process_id)
    requester = session.get(Person, process.requester_person_id) if process.requester_person_id else None
    if requester is None:
        return
    enqueue(
        session=session,
        template="process_outcome",
        to_address=requester.email,
        variables=ProcessOutcome(
            recipient_name=requester.full_name,
            process_title=process_title(process),
            outcome=outcome,
            comment=comment,
            facts=facts or [],
            link=process_link(process.id),
        ),
        idempotency_key=f"process-{process.id}-outcome",
    )


def fail(*, session: Session, process_id: int, reason_uk: str) -> Process:
    """Stop a live process that cannot go on: FAILED with the reason, audited, the requester told.

    A process already in a final state keeps it (and nobody is told twice).
    """
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.state in FINAL_STATES:
        return process
    _close(session, process, ProcessState.FAILED, f"Процес зупинено: {reason_uk}")
    audit.record(
        session=session,
        action="process.failed",
        object_type="process",
        object_id=process.id,
        details={"reason": reason_uk},
        actor_label="system",
    )
    notify_requester(
        session=session, process_id=process_id, outcome="зупинено через помилку", comment=reason_uk
    )
    return process


# Institute staff see every process (managers watch workflow status, the support desk helps anyone).
SEES_ALL = frozenset({PersonRole.INSTITUTE_ADMIN, PersonRole.SUPPORT_AGENT, PersonRole.MANAGER})


def check_may_view(*, session: Session, viewer: Person, process: Process) -> None:
    """Who may see a process: institute staff; its requester; whoever a step was assigned to or who
    decided one; a person of the subject's unit or of a unit above it (its ОУО chain, its school). An
    ОІС operator sees only its own requests. Otherwise NotInScope, without revealing anything else."""
    if viewer.id == process.requester_person_id or (
        # national staff; a manager of one oblast sees that oblast (the subtree rule below)
        viewer.role in SEES_ALL and session.get_one(OrgUnit, viewer.org_unit_id).level == OrgLevel.NATIONAL
    ):
        return
    involved = session.scalars(
        select(ApprovalTask.id)
        .where(
            ApprovalTask.process_id == process.id,
            (ApprovalTask.assignee_person_id == viewer.id) | (ApprovalTask.decided_by_id == viewer.id),
        )
        .limit(1)
    ).first()
    if involved is not None:
        return
    if (
        viewer.role != PersonRole.OIS_OPERATOR
        and process.subject_org_unit_id is not None
        and viewer.org_unit_id in org_lineage(session, process.subject_org_unit_id)
    ):
        return
    raise NotInScope(f"Процес №{process.id} поза вашою зоною доступу.", process_id=process.id)


def _history_label(action: str, details: dict[str, Any], step_titles: dict[str, str] | None = None) -> str:
    label = ACTION_LABELS_UK.get(action, action)
    if action == "approval.decided" and details.get("decision"):
        decided = DECISION_LABELS_UK.get(Decision(str(details["decision"])), str(details["decision"]))
        key = str(details.get("step_key") or "")
        # People read the step's title, never its key («approve»).
        step = details.get("step_title") or (step_titles or {}).get(key) or key
        label = f"рішення «{decided}» (крок {step})" if step else f"рішення «{decided}»"
        if details.get("by") == "first_signin":
            label = "перший вхід із КЕП виконано (крок підтверджено)"
    elif action == "process.finished" and details.get("outcome"):
        label = f"{label}: {details['outcome']}"
    elif action == "process.failed" and details.get("reason"):
        label = f"{label}: {details['reason']}"
    elif details.get("summary_uk"):  # an entry that says in a line what it is about
        label = f"{label}: {details['summary_uk']}"
    if details.get("on_behalf_of_label"):
        label += f" (від імені: {details['on_behalf_of_label']})"
    return label


def show_process(*, session: Session, process_id: int, viewer_id: int | None = None) -> ProcessView:
    """The process with its human steps and its history; with `viewer_id`, only if that person may see it."""
    process = get_process(session=session, process_id=process_id)
    if viewer_id is not None:
        viewer = session.get(Person, viewer_id)
        if viewer is None:
            raise NotFound(f"Особу № {viewer_id} не знайдено.")
        check_may_view(session=session, viewer=viewer, process=process)
    tasks = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process_id).order_by(ApprovalTask.id)
    ).all()
    people = {
        p.id: p.full_name
        for p in session.scalars(
            select(Person).where(
                Person.id.in_(
                    {process.requester_person_id, process.started_by_id}
                    | {t.decided_by_id for t in tasks}
                    | {t.claimed_by_id for t in tasks}
                )
            )
        )
    }
    subject = session.get(OrgUnit, process.subject_org_unit_id) if process.subject_org_unit_id else None
    open_titles = [t.title for t in tasks if t.state == TaskState.OPEN]
    step_titles = {t.step_key: t.title for t in tasks}
    history = [
        HistoryEntry(
            at=entry.at,
            actor=entry.actor_label,
            action=entry.action,
            action_uk=_history_label(entry.action, entry.details, step_titles),
        )
        for entry in audit.process_history(session=session, process_id=process.id)
    ]
    return ProcessView(
        id=process.id,
        type=process.type,
        title=process_title(process),
        flow_version=process.flow_version,
        state=process.state.value,
        state_uk=STATE_LABELS_UK[process.state],
        current_step=process.current_step,
        current_step_title="; ".join(open_titles) if open_titles else None,
        flow_run_id=process.flow_run_id,
        requester_person_id=process.requester_person_id,
        requester=people.get(process.requester_person_id) if process.requester_person_id else None,
        started_by=people.get(process.started_by_id)
        if process.started_by_id and process.started_by_id != process.requester_person_id
        else None,
        subject_org_unit_id=process.subject_org_unit_id,
        subject=subject.name if subject else None,
        outcome=process.outcome,
        created_at=process.created_at,
        updated_at=process.updated_at,
        finished_at=process.finished_at,
        steps=[
            StepView(
                task_id=t.id,
                step_key=t.step_key,
                title=t.title,
                state=t.state.value,
                state_uk=TASK_STATE_LABELS_UK[t.state],
                decision=t.decision.value if t.decision else None,
                decision_uk=DECISION_LABELS_UK[t.decision] if t.decision else None,
                decided_by_id=t.decided_by_id,
                decided_by=people.get(t.decided_by_id) if t.decided_by_id else None,
                decided_at=t.decided_at,
                comment=t.comment,
                due_at=t.due_at,
                resumed_at=t.resumed_at,
                allowed_roles=list(t.allowed_roles),
                scope_org_unit_id=t.scope_org_unit_id,
                excluded_person_id=t.excluded_person_id,
                claimed_by=people.get(t.claimed_by_id) if t.claimed_by_id else None,
                escalation_level=t.escalation_level,
                shown=[(str(label), str(value)) for label, value in t.details.get("shown", [])],
            )
            for t in tasks
        ],
        history=history,
        progress=[ProgressLine.model_validate(line) for line in process.parameters.get("progress", [])],
    )


def processes_without_run(
    *, session: Session, older_than: timedelta, now: datetime | None = None, limit: int = 100
) -> list[Process]:
    """STARTING processes whose flow run was never created (Prefect was down when they started)."""
    now = now or datetime.now(UTC)
    return list(
        session.scalars(
            select(Process)
            .where(
                Process.state == ProcessState.STARTING,
                Process.flow_run_id.is_(None),
                Process.created_at < now - older_than,
            )
            .order_by(Process.id)
            .limit(limit)
        )
    )


def live_processes_with_runs(*, session: Session, limit: int = 1000) -> list[Process]:
    """Processes not yet finished that have a flow run."""
    return list(
        session.scalars(
            select(Process)
            .where(
                Process.state.not_in(FINAL_STATES),
                Process.flow_run_id.is_not(None),
                Process.attention.is_(None),
            )
            .order_by(Process.id)
            .limit(limit)
        )
    )


class ProcessBrief(BaseModel):
    """A process in a list."""

    id: int
    type: str
    state_uk: str
    created_at: datetime


def processes_of_person(*, session: Session, person_id: int, limit: int = 50) -> list[ProcessBrief]:
    """Processes the person started, newest first."""
    rows = session.scalars(
        select(Process)
        .where(Process.requester_person_id == person_id)
        .order_by(Process.id.desc())
        .limit(limit)
    ).all()
    return [
        ProcessBrief(id=p.id, type=p.type, state_uk=STATE_LABELS_UK[p.state], created_at=p.created_at)
        for p in rows
    ]
