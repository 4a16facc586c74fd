"""The managers' monitor: figures on a hand-made country match what a person counts by hand, each viewer
sees their own subtree only, and bad queries are refused in Ukrainian."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV, BusinessCalendar
from aikom.core.errors import NotInScope, RoleNotAllowed, ValidationFailed
from aikom.models import (
    AccountState,
    ApprovalTask,
    Decision,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    Process,
    ProcessState,
    TaskState,
)
from aikom.services.monitor import MonitorQuery, measure_durations, monitor
from aikom.services.monitor_rollup import refresh
from tests import factories as f

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # Monday 30.11.2026, 12:00 in Kyiv
MONDAY = date(2026, 11, 16)
DEMO = "demo-approval"


def kyiv(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KYIV).astimezone(UTC)


@dataclass
class World:
    national: OrgUnit
    oblast: OrgUnit  # A: where everything happens
    other_oblast: OrgUnit  # B
    rayon: OrgUnit
    hromada: OrgUnit
    schools: tuple[OrgUnit, OrgUnit]
    other_school: OrgUnit
    manager: Person  # national
    oblast_manager: Person  # of oblast A
    hromada_admin: Person
    director: Person
    overdue: Process
    waiting: Process


def _process(
    session: Session,
    requester: Person,
    subject: OrgUnit,
    state: ProcessState,
    created: datetime,
    finished: datetime | None = None,
) -> Process:
    process = Process(
        type=DEMO,
        title=f"Демонстраційний запит ({subject.name})",
        state=state,
        subject_org_unit_id=subject.id,
        requester_person_id=requester.id,
        started_by_id=requester.id,
        created_at=created,
        finished_at=finished,
    )
    session.add(process)
    session.flush()
    return process


def _task(
    session: Session,
    process: Process,
    scope: OrgUnit,
    created: datetime,
    *,
    decided: datetime | None = None,
    due: datetime | None = None,
    escalation_level: int = 0,
) -> ApprovalTask:
    task = ApprovalTask(
        process_id=process.id,
        step_key="approve",
        title="Погодження",
        allowed_roles=[PersonRole.HROMADA_ADMIN.value],
        scope_org_unit_id=scope.id,
        state=TaskState.DECIDED if decided else TaskState.OPEN,
        decision=Decision.APPROVE if decided else None,
        decided_at=decided,
        created_at=created,
        due_at=due or created + timedelta(days=7),
        escalation_level=escalation_level,
    )
    session.add(task)
    session.flush()
    return task


@pytest.fixture
def world(session: Session) -> World:
    units = f.cascade(session)
    national, oblast, rayon, hromada, school = (
        units[k] for k in ("national", "oblast", "rayon", "hromada", "school")
    )
    second_school = f.org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, oblast_id=oblast.id)
    other_oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=national)
    other_rayon = f.org_unit(session, level=OrgLevel.RAYON, parent=other_oblast, oblast_id=other_oblast.id)
    other_hromada = f.org_unit(session, level=OrgLevel.HROMADA, parent=other_rayon, oblast_id=other_oblast.id)
    other_school = f.org_unit(session, level=OrgLevel.SCHOOL, parent=other_hromada, oblast_id=other_oblast.id)
    # Accounts: the oblast, its rayon and one school open; the hromada waits for its first sign-in.
    national_account = f.account(session, national)
    oblast_account = f.account(session, oblast)
    f.account(session, rayon)
    hromada_account = f.account(session, hromada, AccountState.PENDING)
    school_account = f.account(session, school)
    other_account = f.account(session, other_oblast)
    manager = f.person(session, national_account, role=PersonRole.MANAGER)
    oblast_manager = f.person(session, oblast_account, role=PersonRole.MANAGER)
    hromada_admin = f.person(session, hromada_account, role=PersonRole.HROMADA_ADMIN)
    director = f.person(session, school_account, role=PersonRole.DIRECTOR)
    other_admin = f.person(session, other_account, role=PersonRole.OBLAST_ADMIN)

    # Oblast A: four completed and one rejected in the period, all started Monday 16.11 at 09:00 Kyiv.
    start = kyiv(MONDAY, 9)
    ends = [
        (ProcessState.COMPLETED, kyiv(MONDAY, 18)),  # 9 h, 1 business day
        (ProcessState.COMPLETED, kyiv(MONDAY + timedelta(days=1), 18)),  # 33 h, 2
        (ProcessState.COMPLETED, kyiv(MONDAY + timedelta(days=4), 18)),  # 105 h, 5 (Friday)
        (ProcessState.COMPLETED, kyiv(MONDAY + timedelta(days=7), 18)),  # 177 h, 6 (over a weekend)
        (ProcessState.REJECTED, kyiv(MONDAY, 18)),  # 9 h, 1
    ]
    done = [_process(session, hromada_admin, school, state, start, end) for state, end in ends]
    _task(session, done[0], hromada, start, decided=kyiv(MONDAY, 18))  # a step of 9 h, 1 business day
    _task(session, done[1], hromada, start, decided=kyiv(MONDAY + timedelta(days=1), 18))  # 33 h, 2
    # Finished before the period: not in its figures.
    _process(
        session, hromada_admin, school, ProcessState.COMPLETED, kyiv(date(2026, 10, 1), 9),
        kyiv(date(2026, 10, 5), 9),
    )  # fmt: skip
    # Open now: one step overdue and escalated, one on time (both started Wednesday 25.11).
    opened = kyiv(date(2026, 11, 25), 10)
    overdue = _process(session, hromada_admin, second_school, ProcessState.WAITING, opened)
    _task(session, overdue, rayon, opened, due=NOW - timedelta(hours=5), escalation_level=1)
    waiting = _process(session, hromada_admin, school, ProcessState.WAITING, opened)
    _task(session, waiting, hromada, opened, due=NOW + timedelta(days=2))
    # Oblast B: one open process with an overdue step, one completed.
    other = _process(session, other_admin, other_school, ProcessState.WAITING, opened)
    _task(session, other, other_hromada, opened, due=NOW - timedelta(hours=1))
    _process(session, other_admin, other_school, ProcessState.COMPLETED, start, kyiv(MONDAY, 18))
    finished_on = measure_durations(session, BusinessCalendar())
    assert {MONDAY, MONDAY + timedelta(days=7), date(2026, 10, 5)} <= finished_on
    assert measure_durations(session, BusinessCalendar()) == set()  # nothing new on the next pass
    measured = session.scalars(
        select(Process.business_days).where(Process.id.in_([p.id for p in done])).order_by(Process.id)
    )
    assert list(measured) == [1.0, 2.0, 5.0, 6.0, 1.0]
    return World(
        national=national, oblast=oblast, other_oblast=other_oblast, rayon=rayon, hromada=hromada,
        schools=(school, second_school), other_school=other_school, manager=manager,
        oblast_manager=oblast_manager, hromada_admin=hromada_admin, director=director, overdue=overdue,
        waiting=waiting,
    )  # fmt: skip


def _counts(figures: object) -> dict[str, int]:
    return {c.state: c.count for c in figures.counts if c.process_type == DEMO}  # type: ignore[attr-defined]


def test_an_oblast_manager_sees_the_hand_counted_figures_of_their_oblast(
    session: Session, world: World
) -> None:
    m = monitor(session, world.oblast_manager, now=NOW)

    assert m.scope.unit_id == world.oblast.id
    assert (m.scope.start, m.scope.end) == (date(2026, 11, 1), date(2026, 11, 30))  # the last 30 days
    assert _counts(m) == {"completed": 4, "rejected": 1, "waiting": 2}
    [step] = m.steps
    assert (step.step_title, step.open, step.overdue, step.escalated) == ("Погодження запиту", 2, 1, 1)
    assert (m.breaches.overdue, m.breaches.escalated) == (1, 1)
    assert [w.process_id for w in m.breaches.worst] == [world.overdue.id]
    assert m.breaches.worst[0].overdue_hours == 5.0
    assert [w.process_id for w in m.oldest] == sorted([world.overdue.id, world.waiting.id])

    whole = next(d for d in m.durations if d.step is None)
    # Five finished: 9, 9, 33, 105, 177 hours = 1, 1, 2, 5, 6 business days.
    assert whole.count == 5
    assert (whole.p50_hours, whole.p90_hours) == (33.0, 148.2)
    assert (whole.p50_business_days, whole.p90_business_days) == (2.0, 5.6)
    step_time = next(d for d in m.durations if d.step == "approve")
    assert (step_time.count, step_time.p50_hours, step_time.p50_business_days) == (2, 21.0, 1.5)

    by_day = {p.bucket: p for p in m.trends}
    assert len(m.trends) == 30
    assert (by_day[MONDAY].started, by_day[MONDAY].completed, by_day[MONDAY].rejected) == (5, 1, 1)
    assert by_day[MONDAY].backlog == 3
    assert by_day[date(2026, 11, 23)].backlog == 0
    assert (by_day[date(2026, 11, 25)].started, by_day[date(2026, 11, 30)].backlog) == (2, 2)

    [area] = m.areas  # the oblast's one rayon
    assert (area.unit_id, area.open_processes, area.open_steps, area.overdue) == (world.rayon.id, 2, 2, 1)
    assert (area.units, area.accounts_active, area.schools, area.schools_active) == (4, 2, 2, 1)
    coverage = {row.level: row for row in m.coverage}
    assert (coverage[OrgLevel.RAYON].units, coverage[OrgLevel.RAYON].active) == (1, 1)
    assert coverage[OrgLevel.HROMADA].pending == 1
    assert (coverage[OrgLevel.SCHOOL].active, coverage[OrgLevel.SCHOOL].without_account) == (1, 1)
    assert coverage[OrgLevel.SCHOOL].coverage_pct == 50.0


def test_the_national_view_has_a_row_per_oblast_and_drills_down(session: Session, world: World) -> None:
    m = monitor(session, world.manager, now=NOW)

    areas = {a.unit_id: a for a in m.areas}
    assert set(areas) == {world.oblast.id, world.other_oblast.id}
    assert (areas[world.oblast.id].open_processes, areas[world.oblast.id].overdue) == (2, 1)
    assert (areas[world.other_oblast.id].open_processes, areas[world.other_oblast.id].overdue) == (1, 1)

    down = monitor(session, world.manager, MonitorQuery(unit_id=world.other_oblast.id), now=NOW)
    assert _counts(down) == {"completed": 1, "waiting": 1}
    assert down.breaches.overdue == 1


def test_an_oblast_manager_never_sees_another_oblast(session: Session, world: World) -> None:
    with pytest.raises(NotInScope, match="поза вашою зоною відповідальності"):
        monitor(session, world.oblast_manager, MonitorQuery(unit_id=world.other_oblast.id), now=NOW)
    m = monitor(session, world.oblast_manager, now=NOW)
    shown = {w.process_id for w in m.oldest + m.breaches.worst}
    assert shown == {world.overdue.id, world.waiting.id}


def test_an_ouo_admin_sees_their_subtree_by_school(session: Session, world: World) -> None:
    m = monitor(session, world.hromada_admin, now=NOW)

    assert m.scope.unit_id == world.hromada.id
    assert _counts(m) == {"completed": 4, "rejected": 1, "waiting": 2}
    schools = {a.unit_id: a.open_processes for a in m.areas}
    assert schools == {world.schools[0].id: 1, world.schools[1].id: 1}
    with pytest.raises(NotInScope):
        monitor(session, world.hromada_admin, MonitorQuery(unit_id=world.oblast.id), now=NOW)


def test_a_school_moved_in_the_tree_takes_its_processes_along(session: Session, world: World) -> None:
    new_hromada = f.org_unit(session, level=OrgLevel.HROMADA, parent=world.rayon, oblast_id=world.oblast.id)
    world.schools[1].parent_id = new_hromada.id
    session.flush()

    m = monitor(session, world.hromada_admin, now=NOW)
    assert {a.unit_id for a in m.areas} == {world.schools[0].id}
    moved = monitor(session, world.oblast_manager, MonitorQuery(unit_id=new_hromada.id), now=NOW)
    assert _counts(moved) == {"waiting": 1}
    assert moved.breaches.overdue == 1  # the step moved with its process


def test_a_week_granularity_and_a_type_filter(session: Session, world: World) -> None:
    query = MonitorQuery(
        process_type="director-replacement",
        start=date(2026, 11, 2),
        end=date(2026, 11, 29),
        granularity="week",
    )
    m = monitor(session, world.oblast_manager, query, now=NOW)
    assert [p.bucket for p in m.trends] == [date(2026, 11, d) for d in (2, 9, 16, 23)]
    assert m.counts == [] and m.steps == [] and m.durations == []

    weekly = monitor(session, world.oblast_manager, MonitorQuery(granularity="week"), now=NOW)
    week = {p.bucket: p for p in weekly.trends}[MONDAY]
    assert (week.started, week.completed, week.rejected) == (5, 3, 1)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (MonitorQuery(start=date(2026, 11, 10), end=date(2026, 11, 1)), "period", "раніше за початок"),
        (MonitorQuery(start=date(2020, 1, 1), end=date(2026, 11, 1)), "period", "не довший за 5 років"),
        (MonitorQuery(process_type="no-such-process"), "process_type", "не існує"),
    ],
)
def test_bad_queries_are_refused_in_ukrainian(
    session: Session, world: World, query: MonitorQuery, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message) as refused:
        monitor(session, world.manager, query, now=NOW)
    assert refused.value.field == field


def test_a_director_has_no_monitor(session: Session, world: World) -> None:
    with pytest.raises(RoleNotAllowed, match="Моніторинг"):
        monitor(session, world.director, now=NOW)


def test_subject_path_is_kept_by_the_database(session: Session, world: World) -> None:
    path = session.scalar(select(Process.subject_path).where(Process.id == world.overdue.id))
    assert path == [world.national.id, world.oblast.id, world.rayon.id, world.hromada.id, world.schools[1].id]
    task_type = session.scalar(
        select(ApprovalTask.process_type).where(ApprovalTask.process_id == world.overdue.id)
    )
    assert task_type == DEMO


def _figures(m: object) -> dict[str, object]:
    return m.model_dump(exclude={"timings_ms", "as_of"})  # type: ignore[attr-defined]


def test_the_summaries_give_exactly_the_live_figures(session: Session, world: World) -> None:
    views = [
        (world.manager, MonitorQuery()),
        (world.manager, MonitorQuery(unit_id=world.oblast.id, granularity="week")),
        (world.oblast_manager, MonitorQuery(start=date(2026, 10, 1), end=date(2026, 11, 20))),
        (world.oblast_manager, MonitorQuery(process_type=DEMO)),
    ]
    live = [monitor(session, viewer, query, now=NOW) for viewer, query in views]
    assert all(m.as_of is None for m in live)  # never refreshed: read live

    refresh(session, now=NOW)
    for (viewer, query), expected in zip(views, live, strict=True):
        summed = monitor(session, viewer, query, now=NOW)
        assert summed.as_of == NOW
        assert _figures(summed) == _figures(expected)
    # A rayon is small: always live.
    rayon = monitor(session, world.oblast_manager, MonitorQuery(unit_id=world.rayon.id), now=NOW)
    assert rayon.as_of is None


def test_a_pass_recomputes_the_days_that_changed_and_stale_summaries_are_not_shown(
    session: Session, world: World
) -> None:
    refresh(session, now=NOW)
    before = monitor(session, world.oblast_manager, now=NOW)
    world.waiting.state = ProcessState.COMPLETED
    world.waiting.finished_at = kyiv(date(2026, 11, 27), 12)
    session.flush()
    later = NOW + timedelta(minutes=1)
    refresh(session, now=later, dirty_days=measure_durations(session, BusinessCalendar()))

    after = monitor(session, world.oblast_manager, now=later)
    assert after.as_of == later
    assert _counts(after) == {**_counts(before), "completed": 5, "waiting": 1}
    assert _figures(after) == _figures(monitor(session, world.oblast_manager, now=later, live=True))

    stale = monitor(session, world.oblast_manager, now=later + timedelta(minutes=11))
    assert stale.as_of is None


def test_areas_are_in_ukrainian_alphabetical_order() -> None:
    from aikom.services.monitor import ukrainian_order

    names = ["Івано-Франківська область", "Автономна Республіка Крим", "Житомирська область",
             "Їжакевичі", "Євпаторія", "Закарпатська область", "м. Київ"]  # fmt: skip
    assert sorted(names, key=ukrainian_order) == [
        "Автономна Республіка Крим", "Євпаторія", "Житомирська область", "Закарпатська область",
        "Івано-Франківська область", "Їжакевичі", "м. Київ",
    ]  # fmt: skip
