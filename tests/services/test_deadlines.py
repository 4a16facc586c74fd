"""Deadlines of human steps on the business calendar: reminders (once each), escalation up the cascade,
expiry at the top, and a director's own step that reminds the managing ОУО."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.models import (
    Account,
    ApprovalTask,
    AuditEntry,
    Decision,
    EmailMessage,
    OrgUnit,
    Person,
    PersonRole,
    TaskState,
)
from aikom.services import approvals, deadlines, queue
from aikom.services.approvals import ApprovalRequest
from aikom.services.reconcile import reconcile
from aikom.settings import get_settings
from tests import factories as f
from tests.signing import SigningPki, decide_signed


@dataclass
class Hromada:
    """A cascade with two hromada admins, a rayon admin, a school director and a request about it."""

    units: dict[str, OrgUnit]
    requester: Person  # a hromada admin
    colleague: Person  # the hromada's other admin: decides the hromada's steps
    rayon_admin: Person
    oblast_admin: Person
    director: Person


def _hromada(session: Session) -> Hromada:
    units = f.cascade(session, with_edrpou=True)
    hromada = f.account(session, units["hromada"])

    def person(account: Account, role: PersonRole) -> Person:
        return f.person(session, account, role=role, rnokpp=f.rnokpp())

    return Hromada(
        units=units,
        requester=person(hromada, PersonRole.HROMADA_ADMIN),
        colleague=person(hromada, PersonRole.HROMADA_ADMIN),
        rayon_admin=person(f.account(session, units["rayon"]), PersonRole.RAYON_ADMIN),
        oblast_admin=person(f.account(session, units["oblast"]), PersonRole.OBLAST_ADMIN),
        director=person(f.account(session, units["school"]), PersonRole.DIRECTOR),
    )


def _hromada_step(session: Session, w: Hromada, *, days: int = 5) -> ApprovalTask:
    """A step the hromada's admins decide, due in `days` business days."""
    _, task = f.approval_task(
        session,
        requester=w.requester,
        subject=w.units["school"],
        scope=w.units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
        due_business_days=days,
    )
    return task


def _notices(session: Session, task: ApprovalTask, kind: str) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage)
            .where(EmailMessage.idempotency_key.like(f"approval-task-{task.id}-{kind}-person-%"))
            .order_by(EmailMessage.id)
        )
    )


def _audit(session: Session, task: ApprovalTask, action: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.object_id == str(task.id))
        )
    )


def _half_way(task: ApprovalTask) -> None:
    """Move the step so that more than half of its working time has passed, with days still to go."""
    calendar = get_settings().business_calendar()
    now = datetime.now(UTC)
    task.created_at = now - timedelta(days=7)
    task.due_at = calendar.add_business_days(now, 3)


def test_a_due_date_counts_business_days_and_skips_a_configured_day_off(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _hromada(session)
    process, _ = f.approval_task(
        session, requester=w.requester, subject=w.units["school"], scope=w.units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
    )  # fmt: skip
    monday_morning = datetime(2026, 11, 30, 10, tzinfo=KYIV)
    request = ApprovalRequest(
        process_id=process.id,
        step_key="calendar",
        title="Крок із робочими днями",
        allowed_roles=[PersonRole.HROMADA_ADMIN],
        due_business_days=2,
    )
    monkeypatch.setenv("AIKOM_EXTRA_DAYS_OFF", '["2026-12-01"]')  # Tuesday off
    get_settings.cache_clear()
    try:
        task = approvals.create_task(session=session, request=request, now=monday_morning)
    finally:
        get_settings.cache_clear()

    assert task.due_at is not None
    assert task.due_at.astimezone(KYIV) == datetime(2026, 12, 3, 18, tzinfo=KYIV)  # Thursday evening
    assert task.details["due_days"] == 2


def test_reminders_at_half_time_and_the_day_before_are_each_sent_once(session: Session) -> None:
    w = _hromada(session)
    task = _hromada_step(session, w)
    _half_way(task)

    first = deadlines.run_deadlines(session=session)
    second = deadlines.run_deadlines(session=session)

    assert task.id in first.reminded and task.id not in second.reminded
    assert [m.to_address for m in _notices(session, task, "half")] == [w.colleague.email]
    assert _notices(session, task, "day-before") == []
    assert len(_audit(session, task, "approval.reminded")) == 1

    # One business day before it is due: the second reminder, once too.
    task.due_at = datetime.now(UTC) + timedelta(hours=2)
    deadlines.run_deadlines(session=session)
    deadlines.run_deadlines(session=session)
    (reminder,) = _notices(session, task, "day-before")
    assert reminder.template == "approval_notice"
    assert reminder.to_address == w.colleague.email
    assert "Завтра" in reminder.variables["reason"]
    assert reminder.variables["link"].endswith(f"/tasks?task={task.id}")
    assert "за київським часом" in reminder.variables["due"]
    assert sorted(task.reminders) == ["day-before", "half"]


@pytest.fixture
def dead_api_url() -> str:
    """An API URL nobody listens on (deadlines need no engine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def test_the_reconciler_run_twice_sends_a_reminder_once(database_url: str, dead_api_url: str) -> None:
    with unit_of_work(database_url) as s:
        w = _hromada(s)
        task = _hromada_step(s, w)
        _half_way(task)
        task_id, colleague = task.id, w.colleague.email

    reports = [reconcile(db_url=database_url, api_url=dead_api_url) for _ in range(2)]

    assert task_id in reports[0].reminded and task_id not in reports[1].reminded
    with unit_of_work(database_url) as s:
        sent = s.scalars(
            select(EmailMessage.to_address).where(
                EmailMessage.idempotency_key.like(f"approval-task-{task_id}-half-person-%")
            )
        ).all()
        assert sent == [colleague]
        reminded = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "approval.reminded", AuditEntry.object_id == str(task_id))
        )
        assert reminded == 1


def test_an_overdue_hromada_step_escalates_to_the_rayon_which_may_then_decide_it(
    session: Session, signing_pki: SigningPki
) -> None:
    w = _hromada(session)
    task = _hromada_step(session, w)
    queue.claim(session=session, task_id=task.id, actor=w.colleague)  # held, and let lapse
    task.due_at = datetime.now(UTC) - timedelta(minutes=1)

    report = deadlines.run_deadlines(session=session)

    assert task.id in report.escalated and task.id not in report.expired
    assert task.state == TaskState.OPEN and task.escalation_level == 1
    assert task.allowed_roles == [PersonRole.HROMADA_ADMIN.value, PersonRole.RAYON_ADMIN.value]
    assert task.claimed_by_id is None  # back in the pool of both levels
    assert task.due_at is not None and task.due_at > datetime.now(UTC) + timedelta(days=1)
    (notice,) = _notices(session, task, "escalated-1")
    assert notice.to_address == w.rayon_admin.email
    assert "ескалація" in notice.variables["reason"]
    (entry,) = _audit(session, task, "approval.escalated")
    assert entry.details["to_role"] == PersonRole.RAYON_ADMIN.value
    # The rayon admin sees it in the queue and decides it; the oblast is not involved yet.
    assert task.id in [r.task_id for r in queue.queue_page(session=session, actor=w.rayon_admin).rows]
    assert task.id not in [r.task_id for r in queue.queue_page(session=session, actor=w.oblast_admin).rows]
    decided = decide_signed(
        session, signing_pki, task_id=task.id, actor=w.rayon_admin, decision=Decision.APPROVE
    )
    assert decided.state == TaskState.DECIDED and decided.decided_by_id == w.rayon_admin.id


def test_a_step_past_the_top_level_expires(session: Session) -> None:
    w = _hromada(session)
    task = _hromada_step(session, w)
    # Up the cascade level by level: rayon, oblast, institute; then nobody is above.
    for expected in (PersonRole.RAYON_ADMIN, PersonRole.OBLAST_ADMIN, PersonRole.INSTITUTE_ADMIN):
        task.due_at = datetime.now(UTC) - timedelta(minutes=1)
        assert task.id in deadlines.run_deadlines(session=session).escalated
        assert task.allowed_roles[-1] == expected.value
    task.due_at = datetime.now(UTC) - timedelta(minutes=1)

    report = deadlines.run_deadlines(session=session)

    assert task.id in report.expired
    assert task.state == TaskState.EXPIRED and task.escalation_level == 3
    (entry,) = _audit(session, task, "approval.expired")
    assert entry.details["level"] == 3


def _director_step(session: Session, w: Hromada) -> ApprovalTask:
    """The director's own step (assigned to them), as a deputy review is."""
    process, _ = f.approval_task(
        session, requester=w.requester, subject=w.units["school"], scope=w.units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
    )  # fmt: skip
    return approvals.create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key="deputy-1",
            title="Заступник: підтвердити повноваження чи деактивувати",
            allowed_roles=[PersonRole.DIRECTOR],
            scope_org_unit_id=w.units["school"].id,
            assignee_person_id=w.director.id,
            due_business_days=10,
            decisions=[Decision.CONFIRM, Decision.DEACTIVATE],
        ),
    )


def test_a_directors_own_step_the_day_before_reminds_the_managing_ouo(session: Session) -> None:
    w = _hromada(session)
    task = _director_step(session, w)
    task.created_at = datetime.now(UTC) - timedelta(days=14)
    task.due_at = datetime.now(UTC) + timedelta(hours=1)

    deadlines.run_deadlines(session=session)
    deadlines.run_deadlines(session=session)

    assert [m.to_address for m in _notices(session, task, "day-before")] == [w.director.email]
    managing = _notices(session, task, "managing-body")
    # The ОУО that manages the school (both its admins) is told; a director hands no powers on.
    assert sorted(m.to_address for m in managing) == sorted([w.requester.email, w.colleague.email])
    assert "керівник закладу" in managing[0].variables["reason"]


def test_an_overdue_step_of_one_person_expires_instead_of_escalating(session: Session) -> None:
    w = _hromada(session)
    task = _director_step(session, w)
    task.due_at = datetime.now(UTC) - timedelta(minutes=1)

    report = deadlines.run_deadlines(session=session)

    assert task.id in report.expired and task.id not in report.escalated
    assert task.state == TaskState.EXPIRED
    assert task.allowed_roles == [PersonRole.DIRECTOR.value]


def test_a_step_due_later_is_left_alone(session: Session) -> None:
    w = _hromada(session)
    task = _hromada_step(session, w, days=10)
    before = (task.state, list(task.allowed_roles), task.due_at)

    report = deadlines.run_deadlines(session=session)

    assert task.id not in report.reminded + report.escalated + report.expired
    assert (task.state, list(task.allowed_roles), task.due_at) == before
    assert date.today() < task.due_at.date()  # type: ignore[union-attr]
