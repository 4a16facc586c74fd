"""The work queue: what a person may decide, filtered and counted; claim, release, assign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import NotFound
from aikom.models import Account, ApprovalTask, AuditEntry, OrgLevel, OrgUnit, Person, PersonRole
from aikom.services import queue
from aikom.services.approvals import SelfApprovalForbidden, TaskClaimedByOther
from aikom.services.queue import AssignNotAllowed, NotTheClaimer, QueueFilters
from tests import factories as f


@dataclass
class Queue:
    """Two hromadas in two oblasts; the first hromada has two admins; requests come from a rayon admin."""

    units: dict[str, OrgUnit]
    other_hromada: OrgUnit
    requester: Person
    admin: Person
    colleague: Person
    rayon_admin: Person
    deputy: Person
    outsider: Person  # the other hromada's admin

    def task(
        self,
        session: Session,
        *,
        scope: OrgUnit | None = None,
        process_type: str = "demo-approval",
        roles: list[PersonRole] | None = None,
        requester: Person | None = None,
    ) -> ApprovalTask:
        """An open task about the first hromada's school (or `scope`)."""
        _, task = f.approval_task(
            session,
            requester=requester or self.requester,
            subject=scope or self.units["school"],
            scope=scope or self.units["hromada"],
            allowed_roles=roles or [PersonRole.HROMADA_ADMIN],
            due_business_days=5,
            process_type=process_type,
        )
        return task


def _queue(session: Session) -> Queue:
    units = f.cascade(session, with_edrpou=True)
    other_oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=units["national"])
    other_rayon = f.org_unit(session, level=OrgLevel.RAYON, parent=other_oblast, oblast_id=other_oblast.id)
    other_hromada = f.org_unit(session, level=OrgLevel.HROMADA, parent=other_rayon, oblast_id=other_oblast.id)
    hromada = f.account(session, units["hromada"])
    rayon = f.account(session, units["rayon"])
    school = f.account(session, units["school"])

    def person(account: Account, role: PersonRole) -> Person:
        return f.person(session, account, role=role)

    director = person(school, PersonRole.DIRECTOR)
    return Queue(
        units=units,
        other_hromada=other_hromada,
        requester=person(rayon, PersonRole.RAYON_ADMIN),
        admin=person(hromada, PersonRole.HROMADA_ADMIN),
        colleague=person(hromada, PersonRole.HROMADA_ADMIN),
        rayon_admin=person(rayon, PersonRole.RAYON_ADMIN),
        deputy=f.person(session, school, role=PersonRole.DEPUTY, appointed_by=director),
        outsider=person(f.account(session, other_hromada), PersonRole.HROMADA_ADMIN),
    )


def _ids(page: queue.QueuePage) -> list[int]:
    return [row.task_id for row in page.rows]


def test_the_queue_lists_what_a_person_may_decide_with_its_counts(session: Session) -> None:
    q = _queue(session)
    first, second = q.task(session), q.task(session)
    neighbour = f.person(
        session, session.get_one(Account, q.outsider.account_id), role=PersonRole.HROMADA_ADMIN
    )
    elsewhere = q.task(session, scope=q.other_hromada, requester=neighbour)

    page = queue.queue_page(session=session, actor=q.admin)

    assert _ids(page) == [first.id, second.id]
    assert (page.total, page.overdue, page.mine, page.unassigned) == (2, 0, 0, 2)
    row = page.rows[0]
    assert row.requester == q.requester.full_name
    assert row.process_title == "Демонстраційний запит на погодження"
    assert row.decisions == ["approve", "reject"]
    assert elsewhere.id in _ids(queue.queue_page(session=session, actor=q.outsider))
    assert _ids(queue.queue_page(session=session, actor=q.requester)) == []  # four-eyes and role


def test_the_queue_filters_by_type_oblast_overdue_and_claim(session: Session) -> None:
    q = _queue(session)
    demo = q.task(session, roles=[PersonRole.HROMADA_ADMIN, PersonRole.OBLAST_ADMIN])
    replacement = q.task(session, process_type="director-replacement")
    late = q.task(session)
    late.due_at = datetime.now(UTC) - timedelta(minutes=5)
    queue.claim(session=session, task_id=replacement.id, actor=q.admin)
    oblast = q.units["oblast"]

    def listed(**filters: object) -> list[int]:
        return _ids(queue.queue_page(session=session, actor=q.admin, filters=QueueFilters(**filters)))

    assert listed(process_type="director-replacement") == [replacement.id]
    assert set(listed(oblast_id=oblast.id)) == {demo.id, replacement.id, late.id}
    assert listed(oblast_id=q.other_hromada.oblast_id) == []
    assert listed(overdue=True) == [late.id]
    assert listed(claim="mine") == [replacement.id]
    assert set(listed(claim="unassigned")) == {demo.id, late.id}
    assert listed(claim="others") == []
    page = queue.queue_page(session=session, actor=q.colleague)
    assert (page.total, page.overdue, page.mine) == (3, 1, 0)
    (claimed,) = [r for r in page.rows if r.task_id == replacement.id]
    assert claimed.claimed_by == q.admin.full_name


def test_the_claimer_keeps_the_task_and_a_colleague_is_refused(session: Session) -> None:
    q = _queue(session)
    task = q.task(session)

    queue.claim(session=session, task_id=task.id, actor=q.admin)
    queue.claim(session=session, task_id=task.id, actor=q.admin)  # again: nothing changes

    with pytest.raises(TaskClaimedByOther) as refused:
        queue.claim(session=session, task_id=task.id, actor=q.colleague)
    assert f"взяв у роботу {q.admin.full_name}" in refused.value.message_uk
    assert task.claimed_by_id == q.admin.id
    claims = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "approval.claimed", AuditEntry.object_id == str(task.id)
        )
    ).all()
    assert [c.actor_person_id for c in claims] == [q.admin.id]
    both_levels = q.task(session, roles=[PersonRole.HROMADA_ADMIN, PersonRole.RAYON_ADMIN])
    with pytest.raises(SelfApprovalForbidden):
        queue.claim(session=session, task_id=both_levels.id, actor=q.requester)
    queue.claim(session=session, task_id=both_levels.id, actor=q.rayon_admin)


def test_release_by_the_claimer_or_an_admin_above_but_not_by_a_colleague(session: Session) -> None:
    q = _queue(session)
    task = q.task(session)
    queue.claim(session=session, task_id=task.id, actor=q.admin)

    with pytest.raises(NotTheClaimer):
        queue.release(session=session, task_id=task.id, actor=q.outsider)
    queue.release(session=session, task_id=task.id, actor=q.admin)
    assert task.claimed_by_id is None

    queue.claim(session=session, task_id=task.id, actor=q.colleague)
    queue.release(session=session, task_id=task.id, actor=q.rayon_admin)  # the unit above
    assert task.claimed_by_id is None


def test_an_admin_assigns_a_task_to_a_colleague_who_may_decide_it(session: Session) -> None:
    q = _queue(session)
    task = q.task(session)

    assert [p.id for p in queue.colleagues_for(session=session, task_id=task.id, actor=q.admin)] == sorted(
        [q.admin.id, q.colleague.id], key=lambda i: session.get_one(Person, i).full_name
    )
    queue.assign(session=session, task_id=task.id, actor=q.admin, assignee_id=q.colleague.id)

    assert task.claimed_by_id == q.colleague.id
    (row,) = queue.queue_page(session=session, actor=q.colleague, filters=QueueFilters(claim="mine")).rows
    assert row.task_id == task.id


def test_assigning_to_a_deputy_or_out_of_scope_is_refused_and_changes_nothing(session: Session) -> None:
    q = _queue(session)
    task = q.task(session)

    with pytest.raises(AssignNotAllowed) as to_deputy:
        queue.assign(session=session, task_id=task.id, actor=q.admin, assignee_id=q.deputy.id)
    assert to_deputy.value.message_uk.startswith("Кому: заступнику не можна")
    with pytest.raises(AssignNotAllowed) as out_of_scope:
        queue.assign(session=session, task_id=task.id, actor=q.admin, assignee_id=q.outsider.id)
    assert out_of_scope.value.message_uk.startswith(f"Кому: {q.outsider.full_name} не може розглядати")
    with pytest.raises(AssignNotAllowed):  # an admin of another unit may not assign it at all
        queue.assign(session=session, task_id=task.id, actor=q.outsider, assignee_id=q.colleague.id)
    with pytest.raises(NotFound):
        queue.assign(session=session, task_id=task.id, actor=q.admin, assignee_id=10**9)
    assert task.claimed_by_id is None
    assert queue.colleagues_for(session=session, task_id=task.id, actor=q.outsider) == []
