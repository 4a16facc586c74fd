"""The processes list («Процеси», `aikom process list`): every process a person may see, filtered and
paged in SQL.

Who sees what: a person sees the processes whose subject lies in their own unit's subtree (national
staff: the whole country; a manager of an oblast: that oblast; an ОУО admin: its territory; a director:
their school), and every process they asked for or started.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from aikom.core.errors import ValidationFailed
from aikom.models import ApprovalTask, OrgUnit, Person, Process, ProcessState, TaskState
from aikom.processes import title_of
from aikom.services.org import subtree_ids
from aikom.services.processes import STATE_LABELS_UK

MAX_PAGE = 200


class ProcessFilters(BaseModel):
    """Which processes: by type, state, oblast, requester, overdue, started since."""

    process_type: str | None = None
    states: list[ProcessState] = []
    oblast_id: int | None = None
    requester_id: int | None = None
    overdue: bool = False
    since: datetime | None = None


class ProcessRow(BaseModel):
    """One process in the list."""

    id: int
    type: str
    title: str
    state: str
    state_uk: str
    step: str | None
    due_at: datetime | None
    overdue: bool
    requester: str | None
    oblast: str | None
    created_at: datetime
    finished_at: datetime | None


class ProcessPage(BaseModel):
    """One page of processes with the total count."""

    rows: list[ProcessRow]
    total: int
    offset: int
    limit: int


_SUBJECT = aliased(OrgUnit, name="subject_unit")
_OBLAST = aliased(OrgUnit, name="oblast_unit")
_REQUESTER = aliased(Person, name="requester")


def visible_to(session: Session, viewer: Person) -> ColumnElement[bool]:
    """The processes `viewer` may see: those about their subtree, and those they asked for or started."""
    unit = session.get_one(OrgUnit, viewer.org_unit_id)
    if unit.parent_id is None:
        return true()  # national: the whole country
    return or_(
        Process.subject_org_unit_id == func.any(subtree_ids(unit)),
        Process.requester_person_id == viewer.id,
        Process.started_by_id == viewer.id,
    )


def list_processes(
    *,
    session: Session,
    viewer: Person,
    filters: ProcessFilters | None = None,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> ProcessPage:
    """A page of the processes `viewer` may see, newest first, with the total."""
    filters = filters or ProcessFilters()
    now = now or datetime.now(UTC)
    if limit < 1 or limit > MAX_PAGE:
        raise ValidationFailed("limit", f"Кількість рядків: від 1 до {MAX_PAGE}.")
    where: list[ColumnElement[bool]] = [visible_to(session, viewer)]
    if filters.process_type:
        where.append(Process.type == filters.process_type)
    if filters.states:
        where.append(Process.state.in_(filters.states))
    if filters.oblast_id is not None:
        oblast = session.get(OrgUnit, filters.oblast_id)
        if oblast is None:
            raise ValidationFailed("oblast", f"Область №{filters.oblast_id} не знайдено.")
        where.append(Process.subject_org_unit_id == func.any(subtree_ids(oblast)))
    if filters.requester_id is not None:
        where.append(Process.requester_person_id == filters.requester_id)
    if filters.since is not None:
        where.append(Process.created_at >= filters.since)
    if filters.overdue:
        where.append(
            exists().where(
                ApprovalTask.process_id == Process.id,
                ApprovalTask.state == TaskState.OPEN,
                ApprovalTask.due_at < now,
            )
        )
    total = session.scalar(select(func.count()).select_from(Process).where(*where)) or 0
    # The page itself: only the columns shown, in one query (names and open steps for its rows only).
    page = (
        select(
            Process.id,
            Process.type,
            Process.title,
            Process.state,
            Process.subject_org_unit_id,
            Process.requester_person_id,
            Process.created_at,
            Process.finished_at,
        )
        .where(*where)
        .order_by(Process.created_at.desc(), Process.id.desc())
        .offset(offset)
        .limit(limit)
        .subquery()
    )
    open_steps = (
        select(func.min(ApprovalTask.due_at).label("due_at"), func.min(ApprovalTask.title).label("title"))
        .where(ApprovalTask.process_id == page.c.id, ApprovalTask.state == TaskState.OPEN)
        .lateral()
    )
    stmt = (
        select(page, _REQUESTER.full_name, _OBLAST.name, open_steps.c.due_at, open_steps.c.title)
        .outerjoin(_SUBJECT, _SUBJECT.id == page.c.subject_org_unit_id)
        .outerjoin(_OBLAST, _OBLAST.id == _SUBJECT.lineage[2])
        .outerjoin(_REQUESTER, _REQUESTER.id == page.c.requester_person_id)
        .outerjoin(open_steps, true())
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )
    rows = []
    for (
        pid,
        ptype,
        title,
        state,
        _,
        _,
        created_at,
        finished_at,
        requester,
        oblast,
        due_at,
        step,
    ) in session.execute(stmt):
        rows.append(
            ProcessRow(
                id=pid,
                type=ptype,
                title=title or f"{title_of(ptype)} №{pid}",
                state=state.value,
                state_uk=STATE_LABELS_UK[state],
                step=step,
                due_at=due_at,
                overdue=due_at is not None and due_at < now,
                requester=requester,
                oblast=oblast,
                created_at=created_at,
                finished_at=finished_at,
            )
        )
    return ProcessPage(rows=rows, total=total, offset=offset, limit=limit)
