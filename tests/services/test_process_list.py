"""«Процеси» / `aikom process list`: each person sees the processes of their reach, filtered in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.errors import NotInScope, ValidationFailed
from aikom.models import OrgLevel, OrgUnit, Person, PersonRole, Process, ProcessState
from aikom.services import processes
from aikom.services.process_list import ProcessFilters, list_processes
from tests import factories as f


@dataclass
class Country:
    """One national root, two oblasts with a hromada each; a process about each hromada's school."""

    national: OrgUnit
    oblasts: tuple[OrgUnit, OrgUnit]
    requesters: tuple[Person, Person]  # a rayon admin in each oblast
    hromada_admins: tuple[Person, Person]
    managers: tuple[Person, Person]  # an oblast manager in each oblast
    institute: Person  # an institute admin
    support: Person
    director: Person  # of the first oblast's school
    processes: tuple[Process, Process]  # about the first / second oblast's school


def _country(session: Session) -> Country:
    first = f.cascade(session, with_edrpou=True)
    national = first["national"]
    oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=national)
    rayon = f.org_unit(session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id)
    hromada = f.org_unit(session, level=OrgLevel.HROMADA, parent=rayon, oblast_id=oblast.id)
    school = f.org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, oblast_id=oblast.id)
    second = {"oblast": oblast, "rayon": rayon, "hromada": hromada, "school": school}
    accounts = {
        (n, level): f.account(session, units[level])
        for n, units in ((0, first), (1, second))
        for level in ("oblast", "rayon", "hromada", "school")
    }
    institute = f.account(session, national)

    def person(n: int, level: str, role: PersonRole) -> Person:
        return f.person(session, accounts[(n, level)], role=role)

    requesters = (person(0, "rayon", PersonRole.RAYON_ADMIN), person(1, "rayon", PersonRole.RAYON_ADMIN))
    _FIRST_ID[0] = (session.scalar(select(func.max(Process.id))) or 0) + 1
    made = []
    for n, units in ((0, first), (1, second)):
        process, _ = f.approval_task(
            session,
            requester=requesters[n],
            subject=units["school"],
            scope=units["hromada"],
            allowed_roles=[PersonRole.HROMADA_ADMIN],
        )
        made.append(process)
    return Country(
        national=national,
        oblasts=(first["oblast"], oblast),
        requesters=requesters,
        hromada_admins=(
            person(0, "hromada", PersonRole.HROMADA_ADMIN),
            person(1, "hromada", PersonRole.HROMADA_ADMIN),
        ),
        managers=(person(0, "oblast", PersonRole.MANAGER), person(1, "oblast", PersonRole.MANAGER)),
        institute=f.person(session, institute, role=PersonRole.INSTITUTE_ADMIN),
        support=f.person(session, institute, role=PersonRole.SUPPORT_AGENT),
        director=person(0, "school", PersonRole.DIRECTOR),
        processes=(made[0], made[1]),
    )


def _listed(session: Session, viewer: Person, **filters: object) -> list[int]:
    """The processes of this test (newest first) that the viewer finds: national staff see the whole
    country, other tests' processes included."""
    page = list_processes(session=session, viewer=viewer, filters=ProcessFilters(**filters), limit=200)
    assert page.total >= len(page.rows)
    return [row.id for row in page.rows if row.id >= _FIRST_ID[0]]


_FIRST_ID = [0]  # the first process id of the running test (set by `_country`)


def test_each_person_sees_the_processes_of_their_reach(session: Session) -> None:
    c = _country(session)
    first, second = (p.id for p in c.processes)

    assert _listed(session, c.hromada_admins[0]) == [first]  # its own subtree only
    assert _listed(session, c.hromada_admins[1]) == [second]
    assert _listed(session, c.managers[0]) == [first]  # an oblast manager: that oblast
    assert _listed(session, c.managers[1]) == [second]
    assert _listed(session, c.director) == [first]  # their school
    for staff in (c.institute, c.support):  # institute staff: everything, newest first
        assert _listed(session, staff) == [second, first]
    assert _listed(session, c.requesters[0]) == [first]


def test_a_process_is_shown_only_within_the_same_reach(session: Session) -> None:
    c = _country(session)
    first, second = (p.id for p in c.processes)

    assert processes.show_process(session=session, process_id=first, viewer_id=c.managers[0].id).id == first
    with pytest.raises(NotInScope):
        processes.show_process(session=session, process_id=second, viewer_id=c.managers[0].id)
    assert processes.show_process(session=session, process_id=second, viewer_id=c.institute.id).id == second


def test_the_filters_narrow_the_list(session: Session) -> None:
    c = _country(session)
    first, second = c.processes
    other = processes.create_process(
        session=session,
        type="director-replacement",
        actor=f.actor(c.requesters[0]),
        subject_org_unit_id=first.subject_org_unit_id,
    )
    processes.finish(session=session, process_id=other.id, state=ProcessState.COMPLETED, outcome="Готово.")
    viewer = c.institute

    assert _listed(session, viewer, process_type="director-replacement") == [other.id]
    assert _listed(session, viewer, states=[ProcessState.COMPLETED]) == [other.id]
    assert _listed(session, viewer, states=[ProcessState.STARTING]) == [second.id, first.id]
    assert _listed(session, viewer, oblast_id=c.oblasts[0].id) == [other.id, first.id]
    assert _listed(session, viewer, requester_id=c.requesters[1].id) == [second.id]
    assert _listed(session, c.managers[1], oblast_id=c.oblasts[0].id) == []  # a filter widens nothing
    assert _listed(session, viewer, since=datetime.now(UTC) + timedelta(days=1)) == []
    manager = c.managers[0]  # of the first oblast: its processes only
    row = list_processes(session=session, viewer=manager).rows[-1]
    assert (row.id, row.state_uk, row.step) == (first.id, "запускається", "Погодження")
    assert row.oblast == c.oblasts[0].name
    # The steps are due in an hour: not late now, late two hours on.
    assert _listed(session, viewer, overdue=True) == []
    later = datetime.now(UTC) + timedelta(hours=2)
    late = list_processes(session=session, viewer=manager, filters=ProcessFilters(overdue=True), now=later)
    assert [r.id for r in late.rows] == [first.id] and late.rows[0].overdue


def test_a_page_size_out_of_range_is_refused(session: Session) -> None:
    c = _country(session)
    with pytest.raises(ValidationFailed) as refused:
        list_processes(session=session, viewer=c.institute, limit=500)
    assert refused.value.message_uk == "Кількість рядків: від 1 до 200."
