"""The work queue: the open tasks a person may decide, filtered and sorted in SQL (one page and its
counts), and the queue's own actions — claim, release, assign to a colleague.

"May decide" is decided in the query: the person's role is among the task's roles, the task's scope
unit lies in the person's subtree (`org_unit.lineage`), four-eyes (not the requester nor whoever started
it for them), and a task assigned to someone is theirs alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row, and_, func, literal, not_, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed
from aikom.models import ApprovalTask, OrgLevel, OrgUnit, Person, PersonRole, PersonState, Process, TaskState
from aikom.processes import screen_of, title_of
from aikom.services import audit
from aikom.services.approvals import AlreadyDecided, TaskClaimedByOther, check_may_work_on, get_task
from aikom.services.org import subtree_ids

ClaimFilter = Literal["all", "mine", "unassigned", "others"]
ADMIN_ROLES = frozenset(
    {PersonRole.INSTITUTE_ADMIN, PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}
)


class QueueFilters(BaseModel):
    """What the queue shows: by process type, oblast, overdue, claim."""

    process_type: str | None = None
    oblast_id: int | None = None
    overdue: bool = False
    claim: ClaimFilter = "all"


class QueueRow(BaseModel):
    """One task in the queue."""

    task_id: int
    process_id: int
    process_type: str
    process_title: str
    step_key: str
    title: str
    due_at: datetime | None
    overdue: bool
    requester: str | None
    oblast: str | None
    claimed_by_id: int | None
    claimed_by: str | None
    escalation_level: int
    absence_of: str | None
    decisions: list[str]
    details: dict[str, object] = Field(default_factory=dict)
    # A step decided on a screen of its own (the process declares it): the queue links there instead.
    screen_page: str | None = None  # its url path
    screen_title: str | None = None  # its name («ОІС»)
    screen_command: str | None = None  # the CLI command that decides it


class QueuePage(BaseModel):
    """One page of the queue with its counts."""

    rows: list[QueueRow]
    total: int
    overdue: int
    mine: int
    unassigned: int
    offset: int
    limit: int


def _decidable_by(actor: Person, unit: OrgUnit) -> list[ColumnElement[bool]]:
    """The conditions under which `actor` may decide an open task (tasks joined to their processes).

    In scope: the task's unit lies in the actor's subtree (a national actor: every task).
    """
    conditions: list[ColumnElement[bool]] = [
        ApprovalTask.state == TaskState.OPEN,
        ApprovalTask.allowed_roles.contains(literal([actor.role.value], type_=JSONB)),
        or_(ApprovalTask.assignee_person_id.is_(None), ApprovalTask.assignee_person_id == actor.id),
        ApprovalTask.excluded_person_id.is_distinct_from(actor.id),
        not_(
            and_(
                ApprovalTask.excluded_person_id.is_not(None),
                Process.started_by_id.is_not_distinct_from(actor.id),
            )
        ),
    ]
    if unit.parent_id is not None:
        conditions.append(ApprovalTask.scope_org_unit_id == func.any(subtree_ids(unit)))
    return conditions


_SCOPE = aliased(OrgUnit, name="scope_unit")
_OBLAST = aliased(OrgUnit, name="oblast_unit")
_CLAIMER = aliased(Person, name="claimer")
_REQUESTER = aliased(Person, name="requester")
_ABSENT = aliased(Person, name="absent")


def queue_page(
    *,
    session: Session,
    actor: Person,
    filters: QueueFilters | None = None,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> QueuePage:
    """The first (or a later) page of the tasks `actor` may decide, oldest due first, with its counts."""
    filters = filters or QueueFilters()
    now = now or datetime.now(UTC)
    if actor.state != PersonState.ACTIVE:
        return QueuePage(rows=[], total=0, overdue=0, mine=0, unassigned=0, offset=offset, limit=limit)
    where = _decidable_by(actor, session.get_one(OrgUnit, actor.org_unit_id))
    if filters.process_type:
        where.append(Process.type == filters.process_type)
    if filters.oblast_id is not None:
        oblast = session.get(OrgUnit, filters.oblast_id)
        if oblast is None:
            raise NotFound(f"Область №{filters.oblast_id} не знайдено.")
        where.append(ApprovalTask.scope_org_unit_id == func.any(subtree_ids(oblast)))
    if filters.overdue:
        where.append(ApprovalTask.due_at < now)
    claim = {
        "mine": ApprovalTask.claimed_by_id == actor.id,
        "unassigned": ApprovalTask.claimed_by_id.is_(None),
        "others": and_(ApprovalTask.claimed_by_id.is_not(None), ApprovalTask.claimed_by_id != actor.id),
        "all": true(),
    }
    counts = session.execute(
        select(
            func.count().filter(claim[filters.claim]),
            func.count().filter(and_(claim[filters.claim], ApprovalTask.due_at < now)),
            func.count().filter(ApprovalTask.claimed_by_id == actor.id),
            func.count().filter(ApprovalTask.claimed_by_id.is_(None)),
        )
        .select_from(ApprovalTask)
        .join(Process, Process.id == ApprovalTask.process_id)
        .where(*where)
    ).one()
    # The page itself: only the columns shown, in one query (the names joined for 50 rows only).
    page = (
        select(
            ApprovalTask.id,
            ApprovalTask.process_id,
            ApprovalTask.step_key,
            ApprovalTask.title,
            ApprovalTask.due_at,
            ApprovalTask.claimed_by_id,
            ApprovalTask.escalation_level,
            ApprovalTask.details,
            ApprovalTask.scope_org_unit_id,
            ApprovalTask.absence_of_id,
            Process.type,
            Process.title,
            Process.requester_person_id,
        )
        .join(Process, Process.id == ApprovalTask.process_id)
        .where(*where, claim[filters.claim])
        .order_by(ApprovalTask.due_at.asc().nulls_last(), ApprovalTask.id)
        .offset(offset)
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(page, _REQUESTER.full_name, _OBLAST.name, _CLAIMER.full_name, _ABSENT.full_name)
        .outerjoin(_SCOPE, _SCOPE.id == page.c.scope_org_unit_id)
        .outerjoin(_OBLAST, and_(_OBLAST.id == _SCOPE.lineage[2], _OBLAST.level == OrgLevel.OBLAST))
        .outerjoin(_REQUESTER, _REQUESTER.id == page.c.requester_person_id)
        .outerjoin(_CLAIMER, _CLAIMER.id == page.c.claimed_by_id)
        .outerjoin(_ABSENT, _ABSENT.id == page.c.absence_of_id)
        .order_by(page.c.due_at.asc().nulls_last(), page.c.id)
    )
    rows = [_row(r, now) for r in session.execute(stmt)]
    return QueuePage(
        rows=rows,
        total=counts[0],
        overdue=counts[1],
        mine=counts[2],
        unassigned=counts[3],
        offset=offset,
        limit=limit,
    )


def _row(r: Row[Any], now: datetime) -> QueueRow:
    task_id, process_id, step_key, title, due_at, claimed_by_id, level, details = r[:8]
    process_type, process_title = r[10], r[11]
    requester, oblast, claimer, absent = r[13:17]
    screen = screen_of(process_type, step_key)
    return QueueRow(
        task_id=task_id,
        process_id=process_id,
        process_type=process_type,
        process_title=process_title or f"{title_of(process_type)} №{process_id}",
        step_key=step_key,
        title=title,
        due_at=due_at,
        overdue=due_at is not None and due_at < now,
        requester=requester,
        oblast=oblast,
        claimed_by_id=claimed_by_id,
        claimed_by=claimer,
        escalation_level=level,
        absence_of=absent,
        decisions=list(details.get("decisions") or []),
        details={k: v for k, v in details.items() if k != "decisions"},
        screen_page=screen.page if screen else None,
        screen_title=screen.page_title_uk if screen else None,
        screen_command=screen.command_uk if screen else None,
    )


def may_decide_ids(
    *, session: Session, actor: Person, task_ids: list[int], now: datetime | None = None
) -> set[int]:
    """Which of these tasks `actor` may decide now (the queue's own conditions)."""
    now = now or datetime.now(UTC)
    if not task_ids:
        return set()
    stmt = (
        select(ApprovalTask.id)
        .join(Process, Process.id == ApprovalTask.process_id)
        .where(
            ApprovalTask.id.in_(task_ids), *_decidable_by(actor, session.get_one(OrgUnit, actor.org_unit_id))
        )
    )
    return set(session.scalars(stmt))


# --- claim, release, assign ---------------------------------------------------------------------


class NotTheClaimer(DomainError):
    """Only who took a task (or an admin of its unit or the unit above) hands it back."""

    code = "not_the_claimer"

    def __init__(self, task: ApprovalTask) -> None:
        super().__init__(
            f"Завдання №{task.id} взяла в роботу інша особа: звільнити його може вона сама або адміністратор "
            "ОУО цього рівня чи вищого.",
            task_id=task.id,
        )


class AssignNotAllowed(DomainError):
    """Who may assign a task, and to whom."""

    code = "assign_not_allowed"


def _locked(session: Session, task_id: int) -> ApprovalTask:
    task = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if task is None:
        raise NotFound(f"Завдання №{task_id} не знайдено.", task_id=task_id)
    return task


def claim(*, session: Session, task_id: int, actor: Person, now: datetime | None = None) -> ApprovalTask:
    """Take a task to work on it: colleagues see who has it, and only the claimer decides it."""
    task = _locked(session, task_id)
    check_may_work_on(session=session, task=task, actor=actor)
    if task.claimed_by_id == actor.id:
        return task
    if task.claimed_by_id is not None:
        raise TaskClaimedByOther(task, session.get(Person, task.claimed_by_id))
    task.claimed_by_id = actor.id
    task.claimed_at = now or datetime.now(UTC)
    audit.record(
        session=session,
        action="approval.claimed",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id},
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    return task


def _may_manage(session: Session, task: ApprovalTask, admin: Person) -> bool:
    """An active admin of the task's scope unit, or of the unit above it (the one that escalates to)."""
    if admin.role not in ADMIN_ROLES or admin.state != PersonState.ACTIVE or task.scope_org_unit_id is None:
        return False
    scope = session.get_one(OrgUnit, task.scope_org_unit_id)
    return admin.org_unit_id in (scope.id, scope.parent_id)


def release(*, session: Session, task_id: int, actor: Person) -> ApprovalTask:
    """Hand a task back to the pool (its claimer, or an admin of its unit or the unit above)."""
    task = _locked(session, task_id)
    if task.state != TaskState.OPEN:
        raise AlreadyDecided(task)
    if task.claimed_by_id is None:
        return task
    if task.claimed_by_id != actor.id and not _may_manage(session, task, actor):
        raise NotTheClaimer(task)
    previous = task.claimed_by_id
    task.claimed_by_id = None
    task.claimed_at = None
    audit.record(
        session=session,
        action="approval.released",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id, "claimed_by": previous},
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    return task


def assign(
    *, session: Session, task_id: int, actor: Person, assignee_id: int, now: datetime | None = None
) -> ApprovalTask:
    """An admin of the task's unit (or the unit above) gives the task to a colleague who may decide it."""
    task = _locked(session, task_id)
    if task.state != TaskState.OPEN:
        raise AlreadyDecided(task)
    if not _may_manage(session, task, actor):
        raise AssignNotAllowed(
            f"Призначати завдання №{task.id} може адміністратор ОУО, якого воно стосується, або ОУО рівнем "
            "вище.",
            task_id=task.id,
        )
    assignee = session.get(Person, assignee_id)
    if assignee is None:
        raise NotFound(f"Особу №{assignee_id} не знайдено.")
    if assignee.role == PersonRole.DEPUTY:
        raise AssignNotAllowed(
            "Кому: заступнику не можна передати завдання — керівник не передає своїх повноважень.",
            task_id=task.id,
        )
    try:
        check_may_work_on(session=session, task=task, actor=assignee)
    except (RoleNotAllowed, NotInScope) as refusal:
        raise AssignNotAllowed(
            f"Кому: {assignee.full_name} не може розглядати завдання №{task.id} ({refusal.message_uk})",
            task_id=task.id,
        ) from None
    if task.assignee_person_id is not None:
        raise AssignNotAllowed(
            f"Завдання №{task.id} процес призначив конкретній особі; його не перепризначають.",
            task_id=task.id,
        )
    task.claimed_by_id = assignee.id
    task.claimed_at = now or datetime.now(UTC)
    audit.record(
        session=session,
        action="approval.assigned",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id, "assignee": assignee.id},
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    return task


def colleagues_for(*, session: Session, task_id: int, actor: Person) -> list[Person]:
    """Whom `actor` may assign the task to (empty when they may not assign it)."""
    task = get_task(session=session, task_id=task_id)
    if (
        task.state != TaskState.OPEN
        or task.assignee_person_id is not None
        or not _may_manage(session, task, actor)
    ):
        return []
    candidates = session.scalars(
        select(Person)
        .join(OrgUnit, OrgUnit.id == Person.org_unit_id)
        .where(
            Person.state == PersonState.ACTIVE,
            Person.role.in_([PersonRole(r) for r in task.allowed_roles]),
            OrgUnit.id.in_(select(func.unnest(OrgUnit.lineage)).where(OrgUnit.id == task.scope_org_unit_id))
            if task.scope_org_unit_id is not None
            else true(),
        )
        .order_by(Person.full_name)
    ).all()
    result = []
    for person in candidates:
        try:
            check_may_work_on(session=session, task=task, actor=person)
        except DomainError:
            continue
        result.append(person)
    return result


__all__ = [
    "AssignNotAllowed",
    "NotTheClaimer",
    "QueueFilters",
    "QueuePage",
    "QueueRow",
    "assign",
    "claim",
    "colleagues_for",
    "may_decide_ids",
    "queue_page",
    "release",
]
