"""Absence: an ОУО or institute admin away for a date range.

While they are away (from the first day, applied by the reconciler every minute and at once when set):
- the tasks they claimed (or were assigned) go back to their unit's pool;
- where their unit has no other active admin of their role, the open tasks of their unit are offered
  to the admins of the unit above, marked «за відсутності» (and those admins are emailed);
- a director's own steps are never handed on (a director cannot pass powers on): they are not touched.
Nobody decides twice: a task is decided once, under its row lock, whoever holds it.
Ending the absence takes back what was offered above (unless it was decided meanwhile).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError, NotFound, RoleNotAllowed, ValidationFailed
from aikom.models import Absence, ApprovalTask, OrgUnit, Person, PersonRole, PersonState, TaskState
from aikom.services import audit
from aikom.services.approvals import deciders_of
from aikom.services.deadlines import notify_about
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL

ADMIN_ROLES = frozenset(ADMIN_ROLE_OF_LEVEL.values())
MAX_DAYS = 366


class AbsenceOverlaps(DomainError):
    """A person has at most one absence covering a day."""

    code = "absence_overlaps"

    def __init__(self, other: Absence) -> None:
        super().__init__(
            "Період: перетинається з уже вказаною відсутністю "
            f"{other.starts_on:%d.%m.%Y}–{other.ends_on:%d.%m.%Y}.",
            absence_id=other.id,
        )


class AbsenceView(BaseModel):
    """An absence as lists show it."""

    id: int
    person_id: int
    person: str
    starts_on: date
    ends_on: date
    note: str | None
    active: bool
    ended_at: datetime | None


def _today(now: datetime) -> date:
    from aikom.core.calendar import KYIV

    return now.astimezone(KYIV).date()


def set_absence(
    *,
    session: Session,
    actor: Person,
    starts_on: date,
    ends_on: date,
    note: str | None = None,
    now: datetime | None = None,
) -> Absence:
    """Record the actor's absence; if it has begun, hand their tasks over at once."""
    now = now or datetime.now(UTC)
    if actor.role not in ADMIN_ROLES:
        raise RoleNotAllowed(
            "Відсутність позначає адміністратор ОУО або ІОА; керівник закладу не передає своїх повноважень."
        )
    if actor.state != PersonState.ACTIVE:
        raise RoleNotAllowed("Ваша картка не активна.")
    today = _today(now)
    if ends_on < starts_on:
        raise ValidationFailed("ends_on", "Кінець відсутності: не може бути раніше за її початок.")
    if ends_on < today:
        raise ValidationFailed(
            "ends_on", "Кінець відсутності: період уже минув — вкажіть сьогодні або пізніше."
        )
    if (ends_on - starts_on).days > MAX_DAYS:
        raise ValidationFailed("ends_on", f"Період відсутності: не довше {MAX_DAYS} днів.")
    overlapping = session.scalars(
        select(Absence).where(
            Absence.person_id == actor.id,
            Absence.ended_at.is_(None),
            Absence.starts_on <= ends_on,
            Absence.ends_on >= starts_on,
        )
    ).first()
    if overlapping is not None:
        raise AbsenceOverlaps(overlapping)
    absence = Absence(
        person_id=actor.id, starts_on=max(starts_on, today), ends_on=ends_on, note=(note or None)
    )
    session.add(absence)
    session.flush()
    audit.record(
        session=session,
        action="absence.set",
        object_type="person",
        object_id=actor.id,
        details={"absence_id": absence.id, "starts_on": str(absence.starts_on), "ends_on": str(ends_on)},
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    if absence.starts_on <= today:
        hand_over(session=session, person=actor, now=now)
    return absence


def end_absence(*, session: Session, actor: Person, absence_id: int, now: datetime | None = None) -> Absence:
    """The person is back: the absence ends today and what was offered above comes back."""
    now = now or datetime.now(UTC)
    absence = session.get(Absence, absence_id)
    if absence is None or absence.ended_at is not None:
        raise NotFound(f"Відсутність №{absence_id} не знайдено (або її вже завершено).")
    if absence.person_id != actor.id:
        raise RoleNotAllowed("Завершити відсутність може лише сама особа.")
    absence.ended_at = now
    tasks = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.absence_of_id == actor.id, ApprovalTask.state == TaskState.OPEN)
        .with_for_update()
    ).all()
    for task in tasks:
        added = task.details.get("absence_added_role")
        if added and added in task.allowed_roles:
            task.allowed_roles = [r for r in task.allowed_roles if r != added]
        task.absence_of_id = None
        task.details = {k: v for k, v in task.details.items() if k != "absence_added_role"}
    audit.record(
        session=session,
        action="absence.ended",
        object_type="person",
        object_id=actor.id,
        details={"absence_id": absence.id, "taken_back": [t.id for t in tasks]},
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    session.flush()
    return absence


def absent_ids(session: Session, now: datetime) -> set[int]:
    """Who is away today."""
    today = _today(now)
    return set(
        session.scalars(
            select(Absence.person_id).where(
                Absence.ended_at.is_(None), Absence.starts_on <= today, Absence.ends_on >= today
            )
        )
    )


def hand_over(*, session: Session, person: Person, now: datetime) -> list[int]:
    """Hand over an absent admin's tasks (idempotent); the ids of the tasks touched."""
    touched: list[int] = []
    claimed = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.claimed_by_id == person.id, ApprovalTask.state == TaskState.OPEN)
        .with_for_update()
    ).all()
    for task in claimed:
        task.claimed_by_id = None
        task.claimed_at = None
        touched.append(task.id)
        audit.record(
            session=session,
            action="approval.handed_over",
            object_type="approval_task",
            object_id=task.id,
            details={"process_id": task.process_id, "absent": person.id, "to": "pool"},
            actor_label="system",
        )
    colleagues = session.scalars(
        select(Person.id).where(
            Person.org_unit_id == person.org_unit_id,
            Person.role == person.role,
            Person.state == PersonState.ACTIVE,
            Person.id != person.id,
            Person.id.not_in(absent_ids(session, now)),
        )
    ).first()
    unit = session.get_one(OrgUnit, person.org_unit_id)
    parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    above = ADMIN_ROLE_OF_LEVEL.get(parent.level) if parent is not None else None
    if colleagues is None and above is not None:
        alone = session.scalars(
            select(ApprovalTask)
            .where(
                ApprovalTask.state == TaskState.OPEN,
                ApprovalTask.scope_org_unit_id == unit.id,
                ApprovalTask.assignee_person_id.is_(None),
                ApprovalTask.absence_of_id.is_(None),
            )
            .with_for_update()
        ).all()
        for task in alone:
            if person.role.value not in task.allowed_roles or above.value in task.allowed_roles:
                continue
            task.allowed_roles = [*task.allowed_roles, above.value]
            task.absence_of_id = person.id
            task.details = {**task.details, "absence_added_role": above.value}
            session.flush()
            touched.append(task.id)
            audit.record(
                session=session,
                action="approval.handed_over",
                object_type="approval_task",
                object_id=task.id,
                details={"process_id": task.process_id, "absent": person.id, "to": above.value},
                actor_label="system",
            )
            notify_about(
                session,
                task,
                [p for p in deciders_of(session, task) if p.role == above],
                kind=f"absence-{person.id}",
                subject="завдання передано вам за відсутності",
                reason=f"{person.full_name} відсутній(я), і в його (її) ОУО немає іншого адміністратора: "
                "завдання запропоновано вам «за відсутності».",
            )
    session.flush()
    return touched


def hand_over_due(*, session: Session, now: datetime | None = None) -> list[int]:
    """Each pass of the reconciler: hand over the tasks of everyone away today."""
    now = now or datetime.now(UTC)
    touched: list[int] = []
    for person_id in sorted(absent_ids(session, now)):
        person = session.get(Person, person_id)
        if person is not None and person.role in ADMIN_ROLES:
            touched += hand_over(session=session, person=person, now=now)
    return touched


def list_absences(*, session: Session, viewer: Person, now: datetime | None = None) -> list[AbsenceView]:
    """The viewer's own absences and, for an admin, those of the admins in their subtree."""
    now = now or datetime.now(UTC)
    today = _today(now)
    stmt = select(Absence, Person).join(Person, Person.id == Absence.person_id)
    if viewer.role in ADMIN_ROLES and viewer.role != PersonRole.DIRECTOR:
        stmt = stmt.join(OrgUnit, OrgUnit.id == Person.org_unit_id).where(
            OrgUnit.lineage.contains([viewer.org_unit_id])
        )
    else:
        stmt = stmt.where(Absence.person_id == viewer.id)
    rows = session.execute(stmt.order_by(Absence.starts_on.desc()).limit(200)).all()
    return [
        AbsenceView(
            id=a.id,
            person_id=p.id,
            person=p.full_name,
            starts_on=a.starts_on,
            ends_on=a.ends_on,
            note=a.note,
            active=a.ended_at is None and a.starts_on <= today <= a.ends_on,
            ended_at=a.ended_at,
        )
        for a, p in rows
    ]
