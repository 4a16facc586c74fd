"""Processes: the business record of a flow run (type, subject, requester, state, current step, run id).

A process row is created before its flow run exists (so a start is never lost when Prefect is down);
`parameters["flow"]` names the flow that runs it (see `aikom.deployments`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.errors import NotFound, NotInScope, ValidationFailed
from aikom.mail.templates import ProcessOutcome
from aikom.models import (
    ApprovalTask,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
    ProcessType,
)
from aikom.services import audit
from aikom.services.approvals import PROCESS_TITLES_UK, PersonNotActive, org_lineage
from aikom.services.outbox import enqueue

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
    decision: str | None
    decided_by_id: int | None
    decided_at: datetime | None
    comment: str | None
    due_at: datetime | None
    resumed_at: datetime | None
    allowed_roles: list[str]
    scope_org_unit_id: int | None
    excluded_person_id: int | None


class ProcessView(BaseModel):
    """A process with its steps, as pages and the CLI show it."""

    id: int
    type: str
    flow: str | None
    state: str
    state_uk: str
    current_step: str | None
    flow_run_id: str | None
    requester_person_id: int | None
    subject_org_unit_id: int | None
    parameters: dict[str, Any]
    outcome: str | None
    created_at: datetime
    updated_at: datetime | None
    finished_at: datetime | None
    steps: list[StepView]


def create_process(
    *,
    session: Session,
    type: ProcessType,
    flow: str,
    requester: Person | None,
    subject_org_unit_id: int | None,
    parameters: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Process:
    """Create a STARTING process for `flow`; with an idempotency key a repeated call returns the first.

    The requester must be active and the subject must lie in the requester's org subtree.
    """
    if subject_org_unit_id is not None and session.get(OrgUnit, subject_org_unit_id) is None:
        raise ValidationFailed("subject_org_unit_id", f"Організацію №{subject_org_unit_id} не знайдено.")
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
        "state": ProcessState.STARTING,
        "requester_person_id": requester.id if requester else None,
        "subject_org_unit_id": subject_org_unit_id,
        "parameters": {**(parameters or {}), "flow": flow},
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


def get_process(*, session: Session, process_id: int, lock: bool = False) -> Process:
    """The process, or NotFound."""
    stmt = select(Process).where(Process.id == process_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    process = session.scalars(stmt).one_or_none()
    if process is None:
        raise NotFound(f"Процес №{process_id} не знайдено.", process_id=process_id)
    return process


def flow_of(process: Process) -> str | None:
    """The flow that runs this process."""
    flow = process.parameters.get("flow")
    return str(flow) if flow else None


def attach_flow_run(*, session: Session, process_id: int, flow_run_id: str) -> Process:
    """Remember the flow run of a process (the first one attached stays)."""
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.flow_run_id is None:
        process.flow_run_id = flow_run_id
        process.updated_at = datetime.now(UTC)
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
    """How people call a process: its kind and its subject («Заміна керівника: Ліцей № 3»)."""
    if process.parameters.get("title"):
        return str(process.parameters["title"])
    subject = process.parameters.get("school_name")
    kind = PROCESS_TITLES_UK[process.type]
    return f"{kind}: {subject}" if subject else f"{kind} №{process.id}"


def notify_requester(*, session: Session, process_id: int, outcome: str, comment: str | None) -> None:
    """Email the requester how the process ended (once per process, whatever the outcome)."""
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
    if viewer.role in SEES_ALL or viewer.id == process.requester_person_id:
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


def show_process(*, session: Session, process_id: int, viewer_id: int | None = None) -> ProcessView:
    """The process with its human steps; with `viewer_id`, only if that person may see it."""
    process = get_process(session=session, process_id=process_id)
    if viewer_id is not None:
        viewer = session.get(Person, viewer_id)
        if viewer is None:
            raise NotFound(f"Особу № {viewer_id} не знайдено.")
        check_may_view(session=session, viewer=viewer, process=process)
    tasks = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process_id).order_by(ApprovalTask.id)
    ).all()
    return ProcessView(
        id=process.id,
        type=process.type.value,
        flow=flow_of(process),
        state=process.state.value,
        state_uk=STATE_LABELS_UK[process.state],
        current_step=process.current_step,
        flow_run_id=process.flow_run_id,
        requester_person_id=process.requester_person_id,
        subject_org_unit_id=process.subject_org_unit_id,
        # Sealed values (e.g. a РНОКПП) stay in the database: views never carry them.
        parameters={k: v for k, v in process.parameters.items() if not k.endswith("_sealed")},
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
                decision=t.decision.value if t.decision else None,
                decided_by_id=t.decided_by_id,
                decided_at=t.decided_at,
                comment=t.comment,
                due_at=t.due_at,
                resumed_at=t.resumed_at,
                allowed_roles=list(t.allowed_roles),
                scope_org_unit_id=t.scope_org_unit_id,
                excluded_person_id=t.excluded_person_id,
            )
            for t in tasks
        ],
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
            .where(Process.state.not_in(FINAL_STATES), Process.flow_run_id.is_not(None))
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
        ProcessBrief(id=p.id, type=p.type.value, state_uk=STATE_LABELS_UK[p.state], created_at=p.created_at)
        for p in rows
    ]
