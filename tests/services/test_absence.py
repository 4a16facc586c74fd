"""An absent admin: their claimed tasks go back to the pool; with nobody else in their unit, the unit above
gets them «за відсутності»; when they are back, the tasks come back. Directors never hand powers on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.core.errors import RoleNotAllowed, ValidationFailed
from aikom.models import Absence, ApprovalTask, AuditEntry, EmailMessage, OrgUnit, Person, PersonRole
from aikom.services import absence, queue
from aikom.services.absence import AbsenceOverlaps
from tests import factories as f


def _today() -> date:
    return datetime.now(UTC).astimezone(KYIV).date()


@dataclass
class Unit:
    """A hromada admin (with or without a colleague), the rayon above with its admin and a requester."""

    units: dict[str, OrgUnit]
    admin: Person
    colleague: Person | None
    rayon_admin: Person
    requester: Person  # another rayon admin, who asked for the hromada's decision

    def task(self, session: Session) -> ApprovalTask:
        """An open task the hromada's admins decide."""
        _, task = f.approval_task(
            session,
            requester=self.requester,
            subject=self.units["school"],
            scope=self.units["hromada"],
            allowed_roles=[PersonRole.HROMADA_ADMIN],
            due_business_days=5,
        )
        return task


def _setup(session: Session, *, colleague: bool) -> Unit:
    units = f.cascade(session, with_edrpou=True)
    hromada = f.account(session, units["hromada"])
    rayon = f.account(session, units["rayon"])
    return Unit(
        units=units,
        admin=f.person(session, hromada, role=PersonRole.HROMADA_ADMIN),
        colleague=f.person(session, hromada, role=PersonRole.HROMADA_ADMIN) if colleague else None,
        rayon_admin=f.person(session, rayon, role=PersonRole.RAYON_ADMIN),
        requester=f.person(session, rayon, role=PersonRole.RAYON_ADMIN),
    )


def _days(first: int, last: int) -> dict[str, date]:
    return {"starts_on": _today() + timedelta(days=first), "ends_on": _today() + timedelta(days=last)}


def _queue_ids(session: Session, person: Person) -> list[int]:
    return [row.task_id for row in queue.queue_page(session=session, actor=person).rows]


def test_claimed_tasks_return_to_the_pool_where_a_colleague_remains(session: Session) -> None:
    u = _setup(session, colleague=True)
    admin, colleague, rayon_admin = u.admin, u.colleague, u.rayon_admin
    assert colleague is not None
    task = u.task(session)
    queue.claim(session=session, task_id=task.id, actor=admin)

    absence.set_absence(session=session, actor=admin, **_days(0, 3))

    assert task.claimed_by_id is None
    assert task.absence_of_id is None and task.allowed_roles == [PersonRole.HROMADA_ADMIN.value]
    assert task.id in _queue_ids(session, colleague)
    assert task.id not in _queue_ids(session, rayon_admin)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "approval.handed_over", AuditEntry.object_id == str(task.id)
        )
    ).one()
    assert entry.details["to"] == "pool"


def test_alone_in_the_unit_the_unit_above_gets_the_tasks_until_the_admin_is_back(session: Session) -> None:
    u = _setup(session, colleague=False)
    admin, rayon_admin, requester = u.admin, u.rayon_admin, u.requester
    task = u.task(session)
    assert task.id not in _queue_ids(session, rayon_admin)

    away = absence.set_absence(session=session, actor=admin, **_days(0, 5), note="Відпустка")

    assert task.absence_of_id == admin.id
    assert PersonRole.RAYON_ADMIN.value in task.allowed_roles
    (row,) = [r for r in queue.queue_page(session=session, actor=rayon_admin).rows if r.task_id == task.id]
    assert row.absence_of == admin.full_name
    (mail,) = session.scalars(
        select(EmailMessage).where(
            EmailMessage.idempotency_key.like(f"approval-task-{task.id}-absence-{admin.id}-person-%")
        )
    ).all()
    assert mail.to_address == rayon_admin.email and mail.template == "approval_notice"
    assert admin.full_name in mail.variables["reason"]
    # The requester (a rayon admin too) is not offered their own request.
    assert task.id not in _queue_ids(session, requester)
    listed = absence.list_absences(session=session, viewer=admin)
    assert [(a.id, a.active, a.note) for a in listed] == [(away.id, True, "Відпустка")]

    absence.end_absence(session=session, actor=admin, absence_id=away.id)

    assert task.absence_of_id is None
    assert task.allowed_roles == [PersonRole.HROMADA_ADMIN.value]
    assert task.id not in _queue_ids(session, rayon_admin)
    assert task.id in _queue_ids(session, admin)
    assert not absence.list_absences(session=session, viewer=admin)[0].active


def test_an_absence_that_begins_later_hands_over_from_its_first_day(session: Session) -> None:
    u = _setup(session, colleague=False)
    admin, task = u.admin, u.task(session)
    first_day = _today() + timedelta(days=2)

    absence.set_absence(session=session, actor=admin, **_days(2, 3))
    assert task.absence_of_id is None  # not yet

    then = datetime.combine(first_day, datetime.min.time(), tzinfo=KYIV) + timedelta(hours=9)
    assert task.id in absence.hand_over_due(session=session, now=then)
    assert task.absence_of_id == admin.id
    assert absence.hand_over_due(session=session, now=then) == []  # idempotent


def test_a_period_in_the_past_or_upside_down_is_refused_and_nothing_is_recorded(session: Session) -> None:
    admin = _setup(session, colleague=False).admin
    yesterday = _today() - timedelta(days=1)
    cases = [
        (yesterday - timedelta(days=5), yesterday, "Кінець відсутності: період уже минув"),
        (_today() + timedelta(days=3), _today(), "Кінець відсутності: не може бути раніше"),
    ]
    for starts_on, ends_on, message in cases:
        with pytest.raises(ValidationFailed) as refused:
            absence.set_absence(session=session, actor=admin, starts_on=starts_on, ends_on=ends_on)
        assert refused.value.field == "ends_on"
        assert refused.value.message_uk.startswith(message)
    assert session.scalars(select(Absence).where(Absence.person_id == admin.id)).all() == []


def test_overlapping_absences_are_refused(session: Session) -> None:
    admin = _setup(session, colleague=True).admin
    absence.set_absence(session=session, actor=admin, **_days(0, 5))
    with pytest.raises(AbsenceOverlaps) as refused:
        absence.set_absence(session=session, actor=admin, **_days(2, 9))
    assert "перетинається" in refused.value.message_uk


def test_a_director_cannot_set_an_absence(session: Session) -> None:
    units = f.cascade(session, with_edrpou=True)
    director = f.person(session, f.account(session, units["school"]), role=PersonRole.DIRECTOR)
    with pytest.raises(RoleNotAllowed) as refused:
        absence.set_absence(session=session, actor=director, starts_on=_today(), ends_on=_today())
    assert "керівник закладу не передає своїх повноважень" in refused.value.message_uk
    assert session.scalars(select(Absence).where(Absence.person_id == director.id)).all() == []


def test_only_the_person_ends_their_absence(session: Session) -> None:
    u = _setup(session, colleague=True)
    admin, colleague = u.admin, u.colleague
    assert colleague is not None
    away = absence.set_absence(session=session, actor=admin, starts_on=_today(), ends_on=_today())
    with pytest.raises(RoleNotAllowed):
        absence.end_absence(session=session, actor=colleague, absence_id=away.id)
    assert away.ended_at is None
