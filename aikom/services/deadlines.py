"""Deadlines of human steps on the business calendar: reminders, escalation up the cascade, expiry.

Run by the reconciler every minute; idempotent (each reminder is recorded on the task, so a second pass
sends nothing again):
- at half the step's working time, and one business day before it is due, everyone who may decide it
  is reminded; a step assigned to one person (a director's own step) reminds, the day before, the admins
  of the managing ОУО as well — a director does not hand powers on, so the ОУО is told instead;
- an overdue step that is not assigned to one person escalates one level up the cascade (hromada →
  rayon → oblast → institute): the admins of the unit above may decide it too, with the step's time
  again; they are emailed and the audit records it. A step whose top level has passed expires, as does
  an overdue step assigned to one person (the flow then runs its own expiry branch).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.calendar import BusinessCalendar
from aikom.mail.templates import ApprovalNotice
from aikom.models import ApprovalTask, OrgLevel, OrgUnit, Person, PersonRole, PersonState, TaskState
from aikom.services import audit
from aikom.services.approvals import deciders_of, task_email_fields
from aikom.services.outbox import enqueue
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL
from aikom.settings import get_settings

HALF, DAY_BEFORE, MANAGING_BODY = "half", "day-before", "managing-body"
BATCH = 500


class DeadlineReport(BaseModel):
    """What one pass did."""

    reminded: list[int] = Field(default_factory=list)
    escalated: list[int] = Field(default_factory=list)
    expired: list[int] = Field(default_factory=list)


def notify_about(
    session: Session,
    task: ApprovalTask,
    people: list[Person],
    *,
    kind: str,
    subject: str,
    reason: str,
) -> None:
    for person in people:
        enqueue(
            session=session,
            template="approval_notice",
            to_address=person.email,
            variables=ApprovalNotice(
                subject=subject, reason=reason, **task_email_fields(session, task, person)
            ),
            idempotency_key=f"approval-task-{task.id}-{kind}-person-{person.id}",
        )


def _half_time(calendar: BusinessCalendar, task: ApprovalTask) -> datetime:
    assert task.due_at is not None
    start = task.escalated_at or task.created_at
    working = calendar.working_seconds_between(start, task.due_at)
    if working <= 0:  # a short (seconds) step: half of the plain time
        return start + (task.due_at - start) / 2
    return calendar.add_working_seconds(start, working / 2)


def _day_before(calendar: BusinessCalendar, task: ApprovalTask) -> datetime:
    assert task.due_at is not None
    start = task.escalated_at or task.created_at
    local_due = task.due_at.astimezone(calendar.zone)
    previous = calendar.previous_business_day(local_due.date())
    moment = datetime.combine(previous, local_due.time(), tzinfo=calendar.zone).astimezone(UTC)
    if moment <= start:  # a step shorter than a business day: at three quarters of its time
        moment = start + (task.due_at - start) * 3 / 4
    return moment


def managing_admins(session: Session, task: ApprovalTask) -> list[Person]:
    """The active admins of the ОУО that manages the task's unit (a director's step: the school's ОУО)."""
    if task.scope_org_unit_id is None:
        return []
    unit = session.get_one(OrgUnit, task.scope_org_unit_id)
    body_id = unit.managing_body_id or unit.parent_id
    body = session.get(OrgUnit, body_id) if body_id else None
    if body is None or body.level not in ADMIN_ROLE_OF_LEVEL:
        return []
    return list(
        session.scalars(
            select(Person).where(
                Person.org_unit_id == body.id,
                Person.role == ADMIN_ROLE_OF_LEVEL[body.level],
                Person.state == PersonState.ACTIVE,
            )
        )
    )


def next_level_role(session: Session, task: ApprovalTask) -> PersonRole | None:
    """The admin role one level up the cascade from the task's highest role (None: already the top)."""
    if task.scope_org_unit_id is None:
        return None
    unit = session.get_one(OrgUnit, task.scope_org_unit_id)
    levels = session.execute(select(OrgUnit.id, OrgUnit.level).where(OrgUnit.id.in_(unit.lineage))).all()
    by_id: dict[int, OrgLevel] = {unit_id: level for unit_id, level in levels}
    chain = [by_id[i] for i in reversed(unit.lineage) if i in by_id]  # the unit up to the national root
    roles = [ADMIN_ROLE_OF_LEVEL[level] for level in chain if level in ADMIN_ROLE_OF_LEVEL]
    allowed = set(task.allowed_roles)
    reached = max((i for i, role in enumerate(roles) if role.value in allowed), default=-1)
    return roles[reached + 1] if reached + 1 < len(roles) else None


def _due_again(calendar: BusinessCalendar, task: ApprovalTask, now: datetime) -> datetime:
    days = task.details.get("due_days")
    seconds = task.details.get("due_seconds")
    if days:
        return calendar.add_business_days(now, int(days))
    if seconds:
        return now + timedelta(seconds=int(seconds))
    return calendar.add_business_days(now, 5)


def escalate(
    session: Session, task: ApprovalTask, role: PersonRole, now: datetime, calendar: BusinessCalendar
) -> None:
    """Let the admins one level up decide an overdue task too, with the step's time again; tell them."""
    task.allowed_roles = [*task.allowed_roles, role.value]
    task.escalation_level += 1
    task.escalated_at = now
    task.due_at = _due_again(calendar, task, now)
    task.claimed_by_id = None  # whoever held it let it lapse
    task.claimed_at = None
    task.reminders = []
    session.flush()
    audit.record(
        session=session,
        action="approval.escalated",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id, "to_role": role.value, "level": task.escalation_level},
        actor_label="system",
    )
    newcomers = [p for p in deciders_of(session, task) if p.role == role]
    notify_about(
        session,
        task,
        newcomers,
        kind=f"escalated-{task.escalation_level}",
        subject="прострочене завдання передано вам",
        reason="Строк розгляду минув на нижчому рівні, тож завдання передано на ваш рівень (ескалація).",
    )


def expire(session: Session, task: ApprovalTask, now: datetime) -> None:
    """The step's time is over: EXPIRED (the reconciler wakes the run, which runs its expiry branch)."""
    task.state = TaskState.EXPIRED
    session.flush()
    audit.record(
        session=session,
        action="approval.expired",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id, "level": task.escalation_level},
        actor_label="system",
    )


def _remind(session: Session, task: ApprovalTask, kind: str) -> None:
    task.reminders = [*task.reminders, kind]
    if kind == MANAGING_BODY:
        people = managing_admins(session, task)
        subject = "керівник закладу ще не виконав крок"
        reason = "Завтра спливає строк кроку, який має виконати керівник закладу у вашому управлінні."
    else:
        people = deciders_of(session, task)
        subject = "нагадування: завдання чекає рішення"
        reason = (
            "Минула половина строку розгляду."
            if kind == HALF
            else "Завтра (за робочим календарем) спливає строк розгляду."
        )
    notify_about(session, task, people, kind=kind, subject=subject, reason=reason)
    audit.record(
        session=session,
        action="approval.reminded",
        object_type="approval_task",
        object_id=task.id,
        details={"process_id": task.process_id, "kind": kind, "to": sorted(p.id for p in people)},
        actor_label="system",
    )


def run_deadlines(*, session: Session, now: datetime | None = None) -> DeadlineReport:
    """Reminders, escalations and expiries due now (in the caller's unit of work)."""
    now = now or datetime.now(UTC)
    calendar = get_settings().business_calendar()
    report = DeadlineReport()
    tasks = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.state == TaskState.OPEN, ApprovalTask.due_at.is_not(None))
        .order_by(ApprovalTask.due_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for task in tasks:
        assert task.due_at is not None
        if task.due_at <= now:
            role = None if task.assignee_person_id is not None else next_level_role(session, task)
            if role is None:
                expire(session, task, now)
                report.expired.append(task.id)
            else:
                escalate(session, task, role, now, calendar)
                report.escalated.append(task.id)
            continue
        due_reminders = []
        if HALF not in task.reminders and now >= _half_time(calendar, task):
            due_reminders.append(HALF)
        if DAY_BEFORE not in task.reminders and now >= _day_before(calendar, task):
            due_reminders.append(DAY_BEFORE)
            if task.assignee_person_id is not None and MANAGING_BODY not in task.reminders:
                due_reminders.append(MANAGING_BODY)
        for kind in due_reminders:
            _remind(session, task, kind)
        if due_reminders:
            report.reminded.append(task.id)
    return report
