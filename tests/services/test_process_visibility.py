"""Who may see a process (the «Процес» page, `aikom process show --as`): nobody outside its reach."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from aikom.core.errors import NotInScope
from aikom.models import ApprovalTask, OrgLevel, OrgUnit, PersonRole, Process
from aikom.models.account import Account, Person
from aikom.services import processes
from tests import factories as f


def _show(session: Session, process_id: int, viewer: Person) -> processes.ProcessView:
    return processes.show_process(session=session, process_id=process_id, viewer_id=viewer.id)


@dataclass
class World:
    """A cascade with an account per unit; a hromada admin started a process about the school."""

    units: dict[str, OrgUnit]
    accounts: dict[str, Account]
    requester: Person
    process: Process
    task: ApprovalTask


def _world(session: Session) -> World:
    units = f.cascade(session)
    accounts = {level: f.account(session, unit) for level, unit in units.items()}
    requester = f.person(session, accounts["hromada"], role=PersonRole.HROMADA_ADMIN)
    process, task = f.approval_task(
        session,
        requester=requester,
        subject=units["school"],
        scope=units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
    )
    return World(units, accounts, requester, process, task)


def test_a_process_is_seen_by_those_it_concerns_and_by_institute_staff(session: Session) -> None:
    w = _world(session)
    people = {
        role: f.person(session, w.accounts[level], role=role)
        for level, role in [
            ("hromada", PersonRole.HROMADA_ADMIN),
            ("rayon", PersonRole.RAYON_ADMIN),
            ("school", PersonRole.DIRECTOR),
            ("national", PersonRole.MANAGER),
        ]
    }
    for viewer in [w.requester, *people.values()]:  # the requester, the ОУО chain, the school, a manager
        assert _show(session, w.process.id, viewer).id == w.process.id


def test_a_process_is_hidden_from_other_units_and_ois_operators(session: Session) -> None:
    w = _world(session)
    process = w.process
    neighbour = f.org_unit(session, level=OrgLevel.HROMADA, parent=w.units["rayon"])
    outsiders = [
        f.person(session, f.account(session, neighbour), role=PersonRole.HROMADA_ADMIN),
        f.person(session, w.accounts["rayon"], role=PersonRole.OIS_OPERATOR),
    ]
    for outsider in outsiders:
        with pytest.raises(NotInScope) as refused:
            _show(session, process.id, outsider)
        assert refused.value.message_uk == f"Процес №{process.id} поза вашою зоною доступу."


def test_whoever_a_step_was_assigned_to_sees_the_process(session: Session) -> None:
    w = _world(session)
    process, task = w.process, w.task
    elsewhere = f.org_unit(session, level=OrgLevel.HROMADA, parent=w.units["rayon"])
    assignee = f.person(session, f.account(session, elsewhere), role=PersonRole.HROMADA_ADMIN)
    with pytest.raises(NotInScope):
        _show(session, process.id, assignee)
    task.assignee_person_id = assignee.id
    session.flush()
    assert _show(session, process.id, assignee).id == process.id
