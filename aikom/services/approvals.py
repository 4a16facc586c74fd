"""Approval tasks: the human steps of processes — open one, tell its deciders, list what a person may
decide, decide with a КЕП signature.

The database is the truth about a decision: `decide` writes it with its signature and audit entry
(through the caller's unit of work) and only then is the waiting flow run woken
(see `aikom.services.reconcile.wake_for_task`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.decisions import DecisionDocument
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.core.timefmt import format_kyiv
from aikom.mail.templates import ApprovalRequested
from aikom.models import (
    ApprovalTask,
    Decision,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
    SignedDecision,
    TaskState,
)
from aikom.services import audit
from aikom.services.org import ancestor_ids
from aikom.services.outbox import enqueue
from aikom.services.persons import role_title
from aikom.settings import get_settings

if TYPE_CHECKING:
    from aikom.core.kep.trust import TrustList
    from aikom.processes.registry import StepScreen

QUEUE_TITLE_UK = "Мої завдання"  # the generic work queue's page, where most steps are decided
DEFAULT_DECISIONS: tuple[Decision, ...] = (Decision.APPROVE, Decision.REJECT)
DECISION_LABELS_UK = {
    Decision.APPROVE: "погодити",
    Decision.REJECT: "відхилити",
    Decision.CONFIRM: "підтвердити",
    Decision.DEACTIVATE: "деактивувати",
}
# A decision document is signed shortly before it is submitted; an old or future-dated one is refused.
DOCUMENT_MAX_AGE = timedelta(hours=24)
DOCUMENT_CLOCK_SKEW = timedelta(minutes=5)


# --- one exception per rule -------------------------------------------------------------------


class AlreadyDecided(DomainError):
    """Somebody decided this task first (or it expired / was cancelled)."""

    code = "already_decided"

    def __init__(self, task: ApprovalTask) -> None:
        if task.state == TaskState.DECIDED:
            message = f"Завдання №{task.id} уже розглянуто: рішення «{_label(task.decision)}» вже ухвалено."
        elif task.state == TaskState.EXPIRED:
            message = f"Завдання №{task.id} більше не чекає рішення: строк розгляду минув."
        else:
            message = f"Завдання №{task.id} більше не чекає рішення: його скасовано."
        super().__init__(message, task_id=task.id, state=task.state.value)
        self.task_id = task.id


class SelfApprovalForbidden(DomainError):
    """Four-eyes: a person never decides a request they started."""

    code = "four_eyes"

    def __init__(self, task: ApprovalTask, actor: Person) -> None:
        super().__init__(
            f"Ви ініціювали цей запит, тому не можете самі його погодити (принцип «чотирьох очей»). "
            f"Завдання №{task.id} має розглянути інша уповноважена особа.",
            task_id=task.id,
            actor_id=actor.id,
        )


class TaskClaimedByOther(DomainError):
    """A colleague has taken the task to work on it."""

    code = "task_claimed"

    def __init__(self, task: ApprovalTask, holder: Person | None) -> None:
        who = holder.full_name if holder else "інша особа"
        super().__init__(
            f"Завдання №{task.id} взяв у роботу {who}: рішення ухвалює той, хто взяв завдання. Попросіть "
            "звільнити його або адміністратора вашого ОУО (чи ОУО вищого рівня) — перепризначити.",
            task_id=task.id,
        )


class ApprovalOverdue(DomainError):
    """The task's due date has passed; it can no longer be decided."""

    code = "approval_overdue"

    def __init__(self, task: ApprovalTask) -> None:
        super().__init__(
            f"Строк розгляду завдання №{task.id} минув ({format_kyiv(task.due_at)}); "
            "рішення вже не приймається.",
            task_id=task.id,
        )


class PersonNotActive(DomainError):
    """Only an active person card may decide."""

    code = "person_not_active"

    def __init__(self, actor: Person) -> None:
        super().__init__(
            f"Картка особи №{actor.id} не активна; ухвалювати рішення може лише активна особа.",
            actor_id=actor.id,
        )


class DecisionSignatureRequired(DomainError):
    """Every approval decision is signed with КЕП (DESIGN §5)."""

    code = "decision_signature_required"

    def __init__(self, task: ApprovalTask) -> None:
        super().__init__(
            f"Рішення щодо завдання №{task.id} має бути підписане КЕП: додайте підписаний документ "
            "рішення і файл підпису (.p7s).",
            task_id=task.id,
        )


class DecisionDocumentOutdated(DomainError):
    """The signed document's time is too far from the moment the decision is submitted."""

    code = "decision_document_outdated"

    def __init__(self, task: ApprovalTask, signed_at: datetime) -> None:
        super().__init__(
            f"Документ рішення щодо завдання №{task.id} сформовано "
            f"{signed_at.astimezone(UTC):%d.%m.%Y %H:%M} UTC: він застарів або має час із майбутнього. "
            "Сформуйте документ рішення заново і підпишіть його.",
            task_id=task.id,
        )


# The step of a process that waits for a new person's first КЕП sign-in; the sign-in itself decides it.
FIRST_SIGNIN_STEP = "first-sign-in"

# --- boundary schemas -------------------------------------------------------------------------


class StepHasOwnScreen(DomainError):
    """The step needs a screen of its own (a checklist, the operator's fixed application): the generic
    work queue («Мої завдання», `aikom tasks decide`) does not decide it."""

    code = "step_has_own_screen"

    def __init__(self, task: ApprovalTask, screen: StepScreen) -> None:
        super().__init__(
            f"Завдання №{task.id} («{task.title}») не ухвалюють у «Моїх завданнях» чи командою "
            f"`aikom tasks decide`: його розглядають на сторінці «{screen.page_title_uk}» панелі АІКОМ "
            f"({page_link(screen.page)}) або командою `{screen.command_uk}`.",
            task_id=task.id,
            page=screen.page,
        )


class ApprovalRequest(BaseModel):
    """What a flow asks for when it needs a human decision."""

    process_id: int
    # Also part of the run's pause key, which Prefect limits to lowercase letters, digits and dashes.
    step_key: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=1, max_length=300)
    allowed_roles: list[PersonRole] = Field(min_length=1)
    scope_org_unit_id: int | None = None
    excluded_person_id: int | None = None
    assignee_person_id: int | None = None
    # Due in business days (the business calendar) — or, for short demo steps, in seconds.
    due_business_days: int | None = Field(default=None, gt=0)
    due_in_seconds: int | None = Field(default=None, gt=0)
    decisions: list[Decision] = Field(default_factory=lambda: list(DEFAULT_DECISIONS), min_length=1)
    details: dict[str, Any] = Field(default_factory=dict)


class ApprovalOutcome(BaseModel):
    """A task as the flow sees it after waking up: re-read from the database, never from run input."""

    task_id: int
    process_id: int
    step_key: str
    state: TaskState
    decision: Decision | None = None
    decided_by_id: int | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    due_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Still waiting for a decision."""
        return self.state == TaskState.OPEN

    @property
    def approved(self) -> bool:
        """Decided with approve/confirm."""
        return self.state == TaskState.DECIDED and self.decision in (Decision.APPROVE, Decision.CONFIRM)


@dataclass(frozen=True)
class SignedPayload:
    """A decision as the decider signed it: the canonical document and the detached CMS signature."""

    document: bytes
    signature: bytes


class ResumeCandidate(BaseModel):
    """A task that is no longer open but whose flow run has not been woken for it yet."""

    task_id: int
    process_id: int
    step_key: str
    state: TaskState
    decision: Decision | None
    flow_run_id: str
    process_state: ProcessState


# --- use cases --------------------------------------------------------------------------------


def due_date(request: ApprovalRequest, now: datetime) -> datetime:
    """When a step is due: business days on the business calendar, or plain seconds."""
    if request.due_business_days is not None:
        return get_settings().business_calendar().add_business_days(now, request.due_business_days)
    if request.due_in_seconds is not None:
        return now + timedelta(seconds=request.due_in_seconds)
    raise ValueError("a human step needs a due date")


def create_task(
    *, session: Session, request: ApprovalRequest, now: datetime | None = None, notify: bool = True
) -> ApprovalTask:
    """Open the task of (process, step) once; a repeated call returns the first task unchanged.

    Its deciders are emailed (unless `notify` is off: the caller tells them itself).
    """
    now = now or datetime.now(UTC)
    if session.get(Process, request.process_id) is None:
        raise NotFound(f"Процес №{request.process_id} не знайдено.", process_id=request.process_id)
    details = dict(request.details)
    details["decisions"] = [d.value for d in request.decisions]
    # How long the step may take, kept so an escalation gives the unit above the same time.
    details["due_days"] = request.due_business_days
    details["due_seconds"] = request.due_in_seconds
    stmt = (
        insert(ApprovalTask)
        .values(
            process_id=request.process_id,
            step_key=request.step_key,
            title=request.title,
            allowed_roles=[r.value for r in request.allowed_roles],
            scope_org_unit_id=request.scope_org_unit_id,
            excluded_person_id=request.excluded_person_id,
            assignee_person_id=request.assignee_person_id,
            state=TaskState.OPEN,
            due_at=due_date(request, now),
            details=details,
        )
        .on_conflict_do_nothing(constraint="uq_approval_task_process_step")
        .returning(ApprovalTask.id)
    )
    created = session.execute(stmt).scalar_one_or_none()
    task = session.scalars(
        select(ApprovalTask).where(
            ApprovalTask.process_id == request.process_id, ApprovalTask.step_key == request.step_key
        )
    ).one()
    if created is not None and notify:
        notify_deciders(session=session, task=task)
    return task


def deciders_of(session: Session, task: ApprovalTask) -> list[Person]:
    """Every active person who may decide `task` now (role, scope, four-eyes, assignee)."""
    stmt = select(Person).where(
        Person.state == PersonState.ACTIVE,
        Person.role.in_([PersonRole(r) for r in task.allowed_roles]),
    )
    if task.assignee_person_id is not None:
        stmt = stmt.where(Person.id == task.assignee_person_id)
    if task.scope_org_unit_id is not None:
        stmt = stmt.where(Person.org_unit_id.in_(org_lineage(session, task.scope_org_unit_id)))
    cache: dict[int, list[int]] = {}
    candidates = session.scalars(stmt.order_by(Person.id)).all()
    return [p for p in candidates if _may_decide(session, task, p, cache)]


def notify_deciders(*, session: Session, task: ApprovalTask) -> list[int]:
    """Enqueue an `approval_requested` email to each decider of an open task (once per person)."""
    if task.state != TaskState.OPEN:
        return []
    sent: list[int] = []
    for person in deciders_of(session, task):
        enqueue(
            session=session,
            template="approval_requested",
            to_address=person.email,
            variables=ApprovalRequested(**task_email_fields(session, task, person)),
            idempotency_key=f"approval-task-{task.id}-person-{person.id}",
        )
        sent.append(person.id)
    return sent


def task_email_fields(session: Session, task: ApprovalTask, person: Person) -> dict[str, Any]:
    """What every email about a waiting step says: to whom, which step of which process, who asked,
    by when (Kyiv time) and the link to it — to the work queue, or to the step's own screen."""
    process = session.get_one(Process, task.process_id)
    screen = screen_of(session, task)
    requester = session.get(Person, process.requester_person_id) if process.requester_person_id else None
    return {
        "recipient_name": person.full_name,
        "task_title": task.title,
        "process_title": process.title or f"Процес №{process.id}",
        "requester": requester.full_name if requester else "система",
        "due": format_kyiv(task.due_at),
        "task_id": task.id,
        "link": page_link(screen.page) if screen else task_link(task.id),
        "page_title": screen.page_title_uk if screen else QUEUE_TITLE_UK,
    }


def screen_of(session: Session, task: ApprovalTask) -> StepScreen | None:
    """The screen of its own the task's step is decided on (the process declares it); None: the queue."""
    from aikom.processes import screen_of as declared_screen

    process = session.get_one(Process, task.process_id)
    return declared_screen(process.type, task.step_key)


def page_link(url_path: str) -> str:
    """The address of a dashboard page."""
    return f"{get_settings().public_url.rstrip('/')}/{url_path}"


def task_link(task_id: int) -> str:
    """The address of a task in the dashboard's work queue."""
    return f"{get_settings().public_url.rstrip('/')}/tasks?task={task_id}"


def process_link(process_id: int) -> str:
    """The address of a process page in the dashboard."""
    return f"{get_settings().public_url.rstrip('/')}/process?id={process_id}"


def find_person(*, session: Session, ref: str) -> Person:
    """A person by id or by email (how the CLI names the actor)."""
    ref = ref.strip()
    person = (
        session.get(Person, int(ref))
        if ref.isdigit()
        else session.scalars(select(Person).where(Person.email == ref).order_by(Person.id)).first()
    )
    if person is None:
        raise NotFound(f"Особу «{ref}» не знайдено (вкажіть номер картки або email).", ref=ref)
    return person


def get_task(*, session: Session, task_id: int) -> ApprovalTask:
    """The task, or NotFound."""
    task = session.get(ApprovalTask, task_id)
    if task is None:
        raise NotFound(f"Завдання №{task_id} не знайдено.", task_id=task_id)
    return task


def outcome_of(task: ApprovalTask) -> ApprovalOutcome:
    """The flow-facing view of a task."""
    return ApprovalOutcome(
        task_id=task.id,
        process_id=task.process_id,
        step_key=task.step_key,
        state=task.state,
        decision=task.decision,
        decided_by_id=task.decided_by_id,
        decided_at=task.decided_at,
        comment=task.comment,
        due_at=task.due_at,
    )


def read_outcome(*, session: Session, task_id: int) -> ApprovalOutcome:
    """Re-read a task's decision from the database."""
    return outcome_of(get_task(session=session, task_id=task_id))


def org_lineage(session: Session, org_unit_id: int) -> list[int]:
    """The unit itself and all its ancestors up to the national root."""
    return [org_unit_id, *ancestor_ids(session, org_unit_id)]


def _in_scope(session: Session, task: ApprovalTask, actor: Person, cache: dict[int, list[int]]) -> bool:
    """The actor's org unit is the task's scope unit or one of its ancestors."""
    if task.scope_org_unit_id is None:
        return True
    if task.scope_org_unit_id not in cache:
        cache[task.scope_org_unit_id] = org_lineage(session, task.scope_org_unit_id)
    return actor.org_unit_id in cache[task.scope_org_unit_id]


def _may_decide(session: Session, task: ApprovalTask, actor: Person, cache: dict[int, list[int]]) -> bool:
    return (
        actor.role.value in task.allowed_roles
        and actor.state == PersonState.ACTIVE
        and actor.id != task.excluded_person_id
        # four-eyes also excludes whoever started the request for the requester (as check_may_work_on)
        and (task.excluded_person_id is None or actor.id not in _starters(session, task))
        and (task.assignee_person_id is None or task.assignee_person_id == actor.id)
        and _in_scope(session, task, actor, cache)
    )


def list_tasks_for(*, session: Session, actor: Person, limit: int = 200) -> list[ApprovalTask]:
    """Open tasks this person may decide (role, scope, four-eyes, assignee), oldest due first."""
    candidates = session.scalars(
        select(ApprovalTask)
        .where(
            ApprovalTask.state == TaskState.OPEN,
            ApprovalTask.allowed_roles.contains([actor.role.value]),
        )
        .order_by(ApprovalTask.due_at.asc().nulls_last(), ApprovalTask.id)
    ).all()
    cache: dict[int, list[int]] = {}
    return [t for t in candidates if _may_decide(session, t, actor, cache)][:limit]


def decision_document(
    *, task: ApprovalTask, actor: Person, decision: Decision, comment: str | None, at: datetime | None = None
) -> bytes:
    """The canonical bytes a decider signs with КЕП for this decision (time: `at`, else now)."""
    return DecisionDocument.create(
        task=task.id,
        process=task.process_id,
        decision=decision.value,
        comment=comment,
        actor=actor.id,
        at=at,
    ).to_bytes()


def check_may_work_on(*, session: Session, task: ApprovalTask, actor: Person) -> None:
    """Refuse precisely unless `actor` may work on `task` (claim it, be assigned it, decide it).

    In this order: role, active card, four-eyes (the requester and whoever started it for them),
    assignee, org scope, still open.
    """
    if actor.role.value not in task.allowed_roles:
        allowed = ", ".join(role_title(r) for r in task.allowed_roles)
        raise RoleNotAllowed(
            f"Роль «{role_title(actor.role.value)}» не може розглядати завдання №{task.id}; "
            f"його розглядають: {allowed}.",
            task_id=task.id,
            role=actor.role.value,
        )
    if actor.state != PersonState.ACTIVE:
        raise PersonNotActive(actor)
    if actor.id == task.excluded_person_id or (
        task.excluded_person_id is not None and actor.id in _starters(session, task)
    ):
        raise SelfApprovalForbidden(task, actor)
    if task.assignee_person_id is not None and task.assignee_person_id != actor.id:
        raise RoleNotAllowed(
            f"Завдання №{task.id} призначене іншій особі.", task_id=task.id, actor_id=actor.id
        )
    if not _in_scope(session, task, actor, {}):
        raise NotInScope(
            f"Завдання №{task.id} стосується організації поза вашою зоною відповідальності.",
            task_id=task.id,
            actor_id=actor.id,
        )
    if task.state != TaskState.OPEN:
        raise AlreadyDecided(task)


def _starters(session: Session, task: ApprovalTask) -> set[int]:
    process = session.get_one(Process, task.process_id)
    return {i for i in (process.requester_person_id, process.started_by_id) if i is not None}


def check_may_decide(
    *,
    session: Session,
    task: ApprovalTask,
    actor: Person,
    decision: Decision,
    now: datetime | None = None,
    own_screen: bool = False,
) -> None:
    """Refuse precisely unless `actor` may take `decision` on `task` now (everything but the signature).

    `check_may_work_on`, then: a step with a screen of its own is decided there only (`own_screen`: the
    caller is that screen's service), not taken by a colleague, not overdue, a decision this task offers.
    """
    now = now or datetime.now(UTC)
    check_may_work_on(session=session, task=task, actor=actor)
    if not own_screen and (screen := screen_of(session, task)) is not None:
        raise StepHasOwnScreen(task, screen)
    if task.claimed_by_id is not None and task.claimed_by_id != actor.id:
        raise TaskClaimedByOther(task, session.get(Person, task.claimed_by_id))
    if task.due_at is not None and task.due_at < now:
        raise ApprovalOverdue(task)
    offered = task.details.get("decisions") or [d.value for d in DEFAULT_DECISIONS]
    if decision.value not in offered:
        raise ValidationFailed(
            "decision",
            f"Рішення: «{decision.value}» не передбачене для завдання №{task.id}; "
            f"можливі: {', '.join(DECISION_LABELS_UK[Decision(d)] for d in offered)}.",
        )


def _verify_and_store_signature(
    *,
    session: Session,
    task: ApprovalTask,
    actor: Person,
    decision: Decision,
    comment: str | None,
    signed: SignedPayload | None,
    trust: TrustList | None,
    now: datetime,
) -> SignedDecision:
    """The document says exactly this decision, it is fresh, and the actor's own КЕП signed it."""
    # Imported here: flow processes import this module for the approval helper, and КЕП verification
    # (pyhanko, asn1crypto) would add ~0.2 s to every flow process start for nothing.
    from aikom.services.decisions import check_document, record_signed_decision
    from aikom.services.trust import current_trust_list

    if signed is None:
        raise DecisionSignatureRequired(task)
    parsed = check_document(
        signed.document,
        task_id=task.id,
        process_id=task.process_id,
        decision=decision.value,
        comment=comment,
        actor_id=actor.id,
    )
    if not now - DOCUMENT_MAX_AGE <= parsed.signed_at <= now + DOCUMENT_CLOCK_SKEW:
        raise DecisionDocumentOutdated(task, parsed.signed_at)
    settings = get_settings()
    return record_signed_decision(
        session=session,
        trust=trust if trust is not None else current_trust_list(settings),
        task_id=task.id,
        signer=actor,
        document=signed.document,
        signature=signed.signature,
        max_bytes=settings.max_signature_bytes,
        at=now,
    )


def decide(
    *,
    session: Session,
    task_id: int,
    actor: Person,
    decision: Decision,
    comment: str | None = None,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
    own_screen: bool = False,
) -> ApprovalTask:
    """Record `actor`'s КЕП-signed decision on an open task; of two simultaneous deciders exactly one wins.

    The task row is locked (`SELECT … FOR UPDATE`), so a second decider waits for the first to commit
    and then gets `AlreadyDecided`. Checks, in this order: role, active card, four-eyes, assignee, claim,
    org scope, still open, decided on its own screen when it has one (`own_screen`: the caller is that
    screen's service), not overdue, a decision this task offers — and only then the signature: the
    document names this task, process, decision, comment and actor; the certificate is the actor's
    (РНОКПП, ЄДРПОУ) with nonRepudiation. The signed decision and an audit entry are written with it.
    """
    now = now or datetime.now(UTC)

    def signature(task: ApprovalTask) -> SignedDecision:
        return _verify_and_store_signature(
            session=session,
            task=task,
            actor=actor,
            decision=decision,
            comment=comment,
            signed=signed,
            trust=trust,
            now=now,
        )

    return decide_with(
        session=session,
        task_id=task_id,
        actor=actor,
        decision=decision,
        comment=comment,
        sign=signature,
        now=now,
        own_screen=own_screen,
    )


def decide_with(
    *,
    session: Session,
    task_id: int,
    actor: Person,
    decision: Decision,
    comment: str | None,
    sign: Callable[[ApprovalTask], SignedDecision],
    now: datetime,
    own_screen: bool = False,
) -> ApprovalTask:
    """Lock the task, check every rule, let `sign` verify and store the signature, record the decision."""
    task = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if task is None:
        raise NotFound(f"Завдання №{task_id} не знайдено.", task_id=task_id)
    check_may_decide(
        session=session, task=task, actor=actor, decision=decision, now=now, own_screen=own_screen
    )
    stored = sign(task)
    _record_decision(session, task, actor, decision, comment, now, evidence={"signed_decision_id": stored.id})
    return task


def _record_decision(
    session: Session,
    task: ApprovalTask,
    actor: Person,
    decision: Decision,
    comment: str | None,
    now: datetime,
    *,
    evidence: dict[str, object],
) -> None:
    """Mark a locked, open task decided and audit it with what proves the decision."""
    task.state = TaskState.DECIDED
    task.decision = decision
    task.comment = (comment or "").strip() or None
    task.decided_by_id = actor.id
    task.decided_at = now
    session.flush()
    audit.record(
        session=session,
        action="approval.decided",
        object_type="approval_task",
        object_id=task.id,
        details={
            "process_id": task.process_id,
            "step_key": task.step_key,
            "step_title": task.title,
            "decision": decision.value,
            **evidence,
        },
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )


def confirm_first_signin(*, session: Session, person: Person, now: datetime | None = None) -> tuple[int, ...]:
    """Decide every open first-sign-in step assigned to `person`: their first КЕП sign-in is the
    verification the step waits for. Audited like any decision; returns the decided task ids."""
    now = now or datetime.now(UTC)
    tasks = session.scalars(
        select(ApprovalTask)
        .where(
            ApprovalTask.assignee_person_id == person.id,
            ApprovalTask.step_key == FIRST_SIGNIN_STEP,
            ApprovalTask.state == TaskState.OPEN,
        )
        .with_for_update()
    ).all()
    for task in tasks:
        _record_decision(
            session,
            task,
            person,
            Decision.CONFIRM,
            "Перший вхід із КЕП виконано.",
            now,
            evidence={"by": "first_signin"},
        )
    session.flush()
    return tuple(task.id for task in tasks)


def tasks_to_resume(*, session: Session, limit: int = 200) -> list[ResumeCandidate]:
    """Tasks no longer open whose flow run has not been woken for them yet."""
    rows = session.execute(
        select(ApprovalTask, Process)
        .join(Process, Process.id == ApprovalTask.process_id)
        .where(
            ApprovalTask.state != TaskState.OPEN,
            ApprovalTask.resumed_at.is_(None),
            Process.flow_run_id.is_not(None),
            Process.attention.is_(None),  # a process flagged for an operator is left alone
        )
        .order_by(ApprovalTask.decided_at.asc().nulls_last(), ApprovalTask.id)
        .limit(limit)
    ).all()
    return [
        ResumeCandidate(
            task_id=t.id,
            process_id=p.id,
            step_key=t.step_key,
            state=t.state,
            decision=t.decision,
            flow_run_id=p.flow_run_id or "",
            process_state=p.state,
        )
        for t, p in rows
    ]


def mark_resumed(*, session: Session, task_ids: Sequence[int], now: datetime | None = None) -> None:
    """Record that the flow run was woken for these tasks (or no longer needed waking)."""
    if not task_ids:
        return
    session.execute(
        update(ApprovalTask)
        .where(ApprovalTask.id.in_(task_ids), ApprovalTask.resumed_at.is_(None))
        .values(resumed_at=now or datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )


def _label(decision: Decision | None) -> str:
    return DECISION_LABELS_UK.get(decision, str(decision)) if decision else "—"
