"""The managers' monitor («Моніторинг», `aikom monitor`): every process at a glance, by scope.

Every figure is an SQL aggregate (never rows loaded into Python). Each process and step carries the
facts the figures group by (migration 0006): its subject's path in the tree and its process type, kept
by triggers, and its duration in business days, written by the reconciler. A rayon, a hromada or
anything smaller is read live from the tables through per-depth indexes (a few hundred rows). The whole
country and an oblast — tens of thousands of open rows, and every step of the period — are read from
the summaries the reconciler refreshes every pass (`monitor_rollup`), exactly the live figures as of
that pass (`Monitor.as_of` says when); while the summaries are not fresh, they too are read live.

Who sees what: a manager, an institute admin or a support agent of the Institute sees the whole
country (and may narrow it to any unit); a manager placed in an oblast, and an ОУО admin, see their own
subtree and nothing outside it. Periods are Kyiv calendar dates, inclusive; durations are given in
hours (wall clock) and in business days (working time on the business calendar: 1.0 = one full
working day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import (
    Date,
    Float,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement, Grouping
from sqlalchemy.types import Time

from aikom.core.calendar import KYIV, BusinessCalendar
from aikom.core.errors import NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.models import (
    Account,
    AccountState,
    ApprovalTask,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    Process,
    ProcessState,
    TaskState,
)
from aikom.processes import all_specs
from aikom.services.persons import role_title
from aikom.services.processes import STATE_LABELS_UK

R = PersonRole
MONITOR_ROLES = frozenset(
    {R.MANAGER, R.INSTITUTE_ADMIN, R.SUPPORT_AGENT, R.OBLAST_ADMIN, R.RAYON_ADMIN, R.HROMADA_ADMIN}
)
OPEN_STATES = (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING)
DEFAULT_DAYS = 30
MAX_DAYS = 5 * 366
LIST_LIMIT = 10
WORK_MEM = "64MB"
LEVELS_UK = {
    OrgLevel.NATIONAL: "Україна",
    OrgLevel.OBLAST: "Області",
    OrgLevel.RAYON: "Райони",
    OrgLevel.HROMADA: "Громади (міста)",
    OrgLevel.DISTRICT: "Райони міст",
    OrgLevel.SCHOOL: "Заклади освіти",
    OrgLevel.BRANCH: "Філії",
    OrgLevel.OIS_COMPANY: "Оператори ОІС",
}
AREA_OF_LEVEL_UK = {
    OrgLevel.NATIONAL: "Область",
    OrgLevel.OBLAST: "Район",
    OrgLevel.RAYON: "Громада (місто)",
    OrgLevel.HROMADA: "Заклад освіти",
    OrgLevel.DISTRICT: "Заклад освіти",
    OrgLevel.SCHOOL: "Філія",
}
Granularity = Literal["day", "week"]


class MonitorQuery(BaseModel):
    """What the monitor shows: a unit (default: the viewer's own), a process type, a period."""

    unit_id: int | None = None
    process_type: str | None = None
    start: date | None = None  # Kyiv dates, inclusive; default: the last 30 days up to today
    end: date | None = None
    granularity: Granularity = "day"


class Scope(BaseModel):
    """The unit whose subtree the figures cover, and the period."""

    unit_id: int
    unit_name: str
    level: OrgLevel
    national: bool
    area_label: str | None  # what the per-area table lists (the unit's children), None for a branch
    process_type: str | None
    process_title: str | None
    start: date
    end: date
    granularity: Granularity


class StateCount(BaseModel):
    """Processes of one type in one state: open now, or finished in the period."""

    process_type: str
    process_title: str
    state: str
    state_uk: str
    open: bool
    count: int


class StepBacklog(BaseModel):
    """Open human steps of one declared step."""

    process_type: str
    process_title: str
    step: str
    step_title: str
    open: int
    overdue: int
    escalated: int


class WaitingStep(BaseModel):
    """One open human step: who may decide it, since when, due when."""

    task_id: int
    process_id: int
    process_title: str
    step_title: str
    who_may_decide: str
    claimed_by: str | None
    area: str | None
    since: datetime
    due_at: datetime | None
    overdue_hours: float | None
    escalation_level: int


class Breaches(BaseModel):
    """SLA breaches now: open steps escalated up the cascade and those past their due time (the
    reconciler escalates an overdue step within a minute), the worst first."""

    overdue: int
    escalated: int
    worst: list[WaitingStep]


class Duration(BaseModel):
    """Time taken, end to end (step None) or in one step, by what finished in the period."""

    process_type: str
    process_title: str
    step: str | None
    step_title: str | None
    count: int
    p50_hours: float | None
    p90_hours: float | None
    # None until the reconciler has measured the rows in business days (within a minute of finishing).
    p50_business_days: float | None
    p90_business_days: float | None
    total_hours: float


class TrendPoint(BaseModel):
    """One day or week: processes started and finished by outcome, and the backlog at its end."""

    bucket: date
    started: int
    completed: int
    rejected: int
    expired: int
    backlog: int


class AreaRow(BaseModel):
    """One unit one level down: coverage, backlog and breaches."""

    unit_id: int
    name: str
    level: OrgLevel
    units: int
    accounts_active: int
    coverage_pct: float
    schools: int
    schools_active: int
    open_processes: int
    open_steps: int
    overdue: int
    escalated: int


class CoverageRow(BaseModel):
    """Accounts of the cascade at one level: open, pending first sign-in, deactivated, none yet."""

    level: OrgLevel
    level_uk: str
    units: int
    active: int
    pending: int
    suspended: int
    deactivated: int
    without_account: int
    coverage_pct: float


class Monitor(BaseModel):
    """Everything the page shows, computed in one session."""

    scope: Scope
    generated_at: datetime
    counts: list[StateCount]
    steps: list[StepBacklog]
    oldest: list[WaitingStep]
    breaches: Breaches
    durations: list[Duration]
    trends: list[TrendPoint]
    areas: list[AreaRow]
    coverage: list[CoverageRow]
    # When the summaries these figures come from were refreshed; None: read live from the tables.
    as_of: datetime | None = None
    timings_ms: dict[str, float] = {}


# --- scope ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A checked query: the unit, its depth, the period as UTC bounds."""

    unit: OrgUnit
    depth: int
    national: bool
    process_type: str | None
    start: date
    end: date
    since: datetime  # start of `start` (Kyiv), UTC
    until: datetime  # end of `end` (Kyiv), UTC
    granularity: Granularity
    now: datetime

    def scope(self) -> Scope:
        titles = {spec.type: spec.title_uk for spec in all_specs(demo=True)}
        return Scope(
            unit_id=self.unit.id,
            unit_name=self.unit.name,
            level=self.unit.level,
            national=self.national,
            area_label=AREA_OF_LEVEL_UK.get(self.unit.level),
            process_type=self.process_type,
            process_title=titles.get(self.process_type) if self.process_type else None,
            start=self.start,
            end=self.end,
            granularity=self.granularity,
        )


def kyiv_today(now: datetime | None = None) -> date:
    """Today's date in Kyiv."""
    return (now or datetime.now(UTC)).astimezone(KYIV).date()


def _kyiv_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=KYIV).astimezone(UTC)


def resolve(session: Session, viewer: Person, query: MonitorQuery, now: datetime | None = None) -> Resolved:
    """Check the query against the viewer's role and scope, and the period against the rules."""
    if viewer.role not in MONITOR_ROLES:
        raise RoleNotAllowed(
            "Моніторинг доступний керівникам і аналітикам, працівникам ІОА та адміністраторам ОУО.",
            role=viewer.role.value,
        )
    own = session.get_one(OrgUnit, viewer.org_unit_id)
    unit = own
    if query.unit_id is not None and query.unit_id != own.id:
        found = session.get(OrgUnit, query.unit_id)
        if found is None:
            raise NotFound(f"Територія: одиницю №{query.unit_id} не знайдено.", unit_id=query.unit_id)
        if own.id not in found.lineage:
            raise NotInScope(
                f"Територія: «{found.name}» поза вашою зоною відповідальності ({own.name}).",
                unit_id=found.id,
            )
        unit = found
    known = {spec.type for spec in all_specs()}  # demo processes only in demo mode
    if query.process_type and query.process_type not in known:
        raise ValidationFailed(
            "process_type",
            f"Тип процесу: «{query.process_type}» не існує; можливі: {', '.join(sorted(known))}.",
        )
    today = kyiv_today(now)
    end = query.end or today
    start = query.start or (end - timedelta(days=DEFAULT_DAYS - 1))
    if end < start:
        raise ValidationFailed("period", "Період: кінець не може бути раніше за початок.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed("period", "Період: не довший за 5 років.")
    return Resolved(
        unit=unit,
        depth=len(unit.lineage),
        national=unit.parent_id is None,
        process_type=query.process_type or None,
        start=start,
        end=end,
        since=_kyiv_midnight(start),
        until=_kyiv_midnight(end + timedelta(days=1)),
        granularity=query.granularity,
        now=now or datetime.now(UTC),
    )


def _path(table: str, depth: int) -> ColumnElement[int]:
    """SQL: the id at `depth` of a row's subject path, written as the per-depth indexes are."""
    return literal_column(f"{table}.subject_path[{depth}]", Integer)


def _in_scope(table: str, rq: Resolved) -> list[ColumnElement[bool]]:
    """Conditions on `process` or `approval_task` (both carry the subject path and type) for the scope
    and the type filter."""
    where: list[ColumnElement[bool]] = []
    if not rq.national:
        where.append(_path(table, rq.depth) == rq.unit.id)
    if rq.process_type:
        column = Process.type if table == "process" else ApprovalTask.process_type
        where.append(column == rq.process_type)
    return where


def _area(table: str, rq: Resolved) -> ColumnElement[int]:
    """SQL: the unit one level below the scope that a row's subject lies in."""
    return _path(table, rq.depth + 1)


def _titles() -> dict[str, str]:
    return {spec.type: spec.title_uk for spec in all_specs(demo=True)}


def _step_group() -> ColumnElement[str]:
    """SQL: the declared step (key prefix) of a step key, by its process's type (from the registry)."""
    whens = []
    for spec in all_specs(demo=True):
        for prefix in spec.step_days:
            if prefix != "*":
                matches = and_(
                    ApprovalTask.process_type == spec.type, ApprovalTask.step_key.startswith(prefix)
                )
                whens.append((matches, literal(prefix)))
    if not whens:
        return ApprovalTask.step_key.expression
    return case(*whens, else_=ApprovalTask.step_key)


def _step_title(process_type: str, step: str) -> str:
    for spec in all_specs(demo=True):
        if spec.type == process_type:
            return spec.step_title(step)
    return step


def _r(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)  # 0.0001 h: a third of a second


UKRAINIAN_ALPHABET = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
# Each letter to a private-use character in alphabet order (after every Latin letter and digit);
# apostrophes dropped.
_UKRAINIAN_ORDER = {ord(c): chr(0xE000 + i) for i, c in enumerate(UKRAINIAN_ALPHABET)} | {
    ord(c): None for c in "'’ʼ"
}


def ukrainian_order(name: str) -> str:
    """A sort key in Ukrainian alphabetical order (Є after Е, І and Ї after И; apostrophes ignored):
    «Автономна Республіка Крим» before «Івано-Франківська»; spaces, digits and Latin letters first."""
    return name.lower().translate(_UKRAINIAN_ORDER)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


# --- figures -------------------------------------------------------------------------------------
# Each query reads one table through the indexes of migration 0006 and groups in SQL; Python only
# folds the few grouped rows into the page's shapes.


@dataclass
class _OpenFigures:
    """Open processes and open steps, grouped by type, state or step, and area."""

    processes: list[tuple[str, ProcessState, int | None, int]]  # type, state, area, count
    steps: list[tuple[str, str, int | None, int, int, int]]  # type, step, area, open, overdue, escalated


def open_figures(session: Session, rq: Resolved) -> _OpenFigures:
    """Everything open now, by type × state (or step) × area one level down: two grouped queries."""
    area = _area("process", rq)
    processes = session.execute(
        select(Process.type, Process.state, area, func.count())
        .where(Process.state.in_(OPEN_STATES), *_in_scope("process", rq))
        .group_by(Process.type, Process.state, area)
    ).all()
    group = _step_group()
    task_area = _area("approval_task", rq)
    steps = session.execute(
        select(
            ApprovalTask.process_type,
            group,
            task_area,
            func.count(),
            func.count().filter(ApprovalTask.due_at < rq.now),
            func.count().filter(ApprovalTask.escalation_level > 0),
        )
        .where(ApprovalTask.state == TaskState.OPEN, *_in_scope("approval_task", rq))
        .group_by(ApprovalTask.process_type, group, task_area)
    ).all()
    return _OpenFigures(
        processes=[(t, s, a, c) for t, s, a, c in processes],
        steps=[(t, g, a, c, o, e) for t, g, a, c, o, e in steps],
    )


def bucket_of(rq: Resolved, day: Any) -> ColumnElement[date]:
    """SQL: the day or week (its Monday) a Kyiv date falls in."""
    if rq.granularity == "week":
        return cast(func.date_trunc("week", day), Date)
    return cast(day, Date)


def _bucket(rq: Resolved, column: Any) -> ColumnElement[date]:
    return bucket_of(rq, func.timezone("Europe/Kyiv", column))


Finished = list[tuple[str, ProcessState, date, int]]  # type, final state, day or week, count


def finished_figures(session: Session, rq: Resolved) -> Finished:
    """Processes that finished in the period: type, state, day or week (Kyiv), count."""
    bucket = _bucket(rq, Process.finished_at)
    rows = session.execute(
        select(Process.type, Process.state, bucket, func.count())
        .where(Process.finished_at >= rq.since, Process.finished_at < rq.until, *_in_scope("process", rq))
        .group_by(Process.type, Process.state, bucket)
    ).all()
    return [(t, s, b, c) for t, s, b, c in rows]


def state_counts(rq: Resolved, opened: _OpenFigures, finished: Finished) -> list[StateCount]:
    """Processes by type × state: every open one now, and those that finished in the period."""
    totals: dict[tuple[str, ProcessState], int] = {}
    for ptype, state, _, count in opened.processes:
        totals[ptype, state] = totals.get((ptype, state), 0) + count
    for ptype, state, _, count in finished:
        totals[ptype, state] = totals.get((ptype, state), 0) + count
    titles = _titles()
    order = list(ProcessState)
    rows = [
        StateCount(
            process_type=ptype,
            process_title=titles.get(ptype, ptype),
            state=state.value,
            state_uk=STATE_LABELS_UK[state],
            open=state in OPEN_STATES,
            count=count,
        )
        for (ptype, state), count in totals.items()
    ]
    return sorted(rows, key=lambda r: (r.process_title, order.index(ProcessState(r.state))))


def step_backlog(opened: _OpenFigures) -> list[StepBacklog]:
    """Open human steps by declared step: how many, how many overdue, how many escalated."""
    totals: dict[tuple[str, str], list[int]] = {}
    for ptype, step, _, count, overdue, escalated in opened.steps:
        sums = totals.setdefault((ptype, step), [0, 0, 0])
        sums[0] += count
        sums[1] += overdue
        sums[2] += escalated
    titles = _titles()
    rows = [
        StepBacklog(
            process_type=ptype,
            process_title=titles.get(ptype, ptype),
            step=step,
            step_title=_step_title(ptype, step),
            open=sums[0],
            overdue=sums[1],
            escalated=sums[2],
        )
        for (ptype, step), sums in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r.open, r.process_title, r.step))


_SCOPE_UNIT = aliased(OrgUnit, name="scope_unit")
_AREA = aliased(OrgUnit, name="area_unit")
_CLAIMER = aliased(Person, name="claimer")


def waiting_steps(
    session: Session, rq: Resolved, now: datetime
) -> tuple[list[WaitingStep], list[WaitingStep]]:
    """(the oldest open steps, the worst breaches), with who may decide each — in one statement.

    The breaches: steps escalated up the cascade (the reconciler escalates a step as soon as it is
    overdue), the most escalated and then the longest overdue first, and any step past its due time
    not escalated yet."""
    where = [ApprovalTask.state == TaskState.OPEN, *_in_scope("approval_task", rq)]
    columns = [
        ApprovalTask.id,
        ApprovalTask.process_id,
        ApprovalTask.process_type,
        ApprovalTask.step_key,
        ApprovalTask.allowed_roles,
        ApprovalTask.scope_org_unit_id,
        ApprovalTask.claimed_by_id,
        ApprovalTask.created_at,
        ApprovalTask.due_at,
        ApprovalTask.escalation_level,
        _area("approval_task", rq).label("area_id"),
    ]
    oldest = (
        select(*columns, literal_column("false").label("worst"))
        .where(*where)
        .order_by(ApprovalTask.created_at.asc(), ApprovalTask.id)
        .limit(LIST_LIMIT)
    )
    worst = (
        select(*columns, literal_column("true").label("worst"))
        .where(*where, or_(ApprovalTask.escalation_level > 0, ApprovalTask.due_at < now))
        .order_by(ApprovalTask.escalation_level.desc(), ApprovalTask.due_at.asc(), ApprovalTask.id)
        .limit(LIST_LIMIT)
    )
    page = union_all(oldest, worst).subquery()
    stmt = (
        select(
            page,
            Process.title.label("process_title"),
            _SCOPE_UNIT.name.label("scope_name"),
            _CLAIMER.full_name.label("claimer"),
            _AREA.name.label("area_name"),
        )
        .join(Process, Process.id == page.c.process_id)
        .outerjoin(_SCOPE_UNIT, _SCOPE_UNIT.id == page.c.scope_org_unit_id)
        .outerjoin(_CLAIMER, _CLAIMER.id == page.c.claimed_by_id)
        .outerjoin(_AREA, _AREA.id == page.c.area_id)
    )
    titles = _titles()
    lists: dict[bool, list[WaitingStep]] = {False: [], True: []}
    for r in session.execute(stmt):
        ptype = r.process_type
        roles = ", ".join(role_title(role) for role in (r.allowed_roles or []))
        due = r.due_at
        lists[bool(r.worst)].append(
            WaitingStep(
                task_id=r.id,
                process_id=r.process_id,
                process_title=r.process_title or f"{titles.get(ptype, ptype)} №{r.process_id}",
                step_title=_step_title(ptype, r.step_key),
                who_may_decide=f"{roles} — {r.scope_name}" if r.scope_name else roles,
                claimed_by=r.claimer,
                area=r.area_name,
                since=r.created_at,
                due_at=due,
                overdue_hours=round((now - due).total_seconds() / 3600, 1) if due and due < now else None,
                escalation_level=r.escalation_level,
            )
        )
    return (
        sorted(lists[False], key=lambda w: (w.since, w.task_id)),
        sorted(lists[True], key=lambda w: (-w.escalation_level, w.due_at or now, w.task_id)),
    )


@dataclass(frozen=True)
class WorkingClock:
    """Working time as SQL: for each Kyiv date from `base`, the working seconds before it starts and
    whether it is a business day; a moment's working clock is the first plus its day's worked part."""

    base: date
    before: list[float]
    business: list[bool]
    day_start_s: float
    day_seconds: float

    @classmethod
    def build(cls, calendar: BusinessCalendar, base: date, last: date) -> WorkingClock:
        start_s = calendar.day_start.hour * 3600 + calendar.day_start.minute * 60
        end_s = calendar.day_end.hour * 3600 + calendar.day_end.minute * 60
        day_seconds = float(end_s - start_s)
        before, business, total = [], [], 0.0
        day = base
        while day <= last:
            works = calendar.is_business_day(day)
            before.append(total)
            business.append(works)
            total += day_seconds if works else 0.0
            day += timedelta(days=1)
        return cls(base, before, business, float(start_s), day_seconds)

    def seconds(self, moment: ColumnElement[Any], name: str) -> ColumnElement[float]:
        """SQL: working seconds from `base` to `moment` (clamped to the clock's days)."""
        local = func.timezone("Europe/Kyiv", moment)
        last = len(self.before)
        offset = cast(cast(local, Date) - cast(literal(self.base), Date), Integer)
        index = func.least(func.greatest(offset, 0) + 1, last)
        # Parenthesised, as PostgreSQL wants before a subscript: ($1::float[])[i].
        before = Grouping(bindparam(f"{name}_before", self.before, type_=ARRAY(Float)))
        business = Grouping(
            bindparam(f"{name}_business", [int(b) for b in self.business], type_=ARRAY(Integer))
        )
        into_day = func.least(
            func.greatest(extract("epoch", cast(local, Time)) - self.day_start_s, 0.0), self.day_seconds
        )
        return before[index] + business[index] * into_day


def duration_figures(hours: Any, business_days: Any) -> list[Any]:
    """SQL: count, [p50, p90] of hours, [p50, p90] of business days, total hours — one ordered-set
    aggregate per measure for both percentiles (one sort each)."""
    quantiles = literal([0.5, 0.9], ARRAY(Float))
    return [
        func.count(),
        func.percentile_cont(quantiles).within_group(hours),
        func.percentile_cont(quantiles).within_group(business_days),
        func.sum(hours),
    ]


def to_durations(whole: Any, steps: Any) -> list[Duration]:
    """Durations from rows of (type, figures…) end to end and (type, step, figures…) per step."""
    titles = _titles()
    out: list[Duration] = []
    rows = [(ptype, None, *rest) for ptype, *rest in whole] + [tuple(row) for row in steps]
    for ptype, step, count, hours, days, total in rows:
        (p50h, p90h), (p50d, p90d) = hours or (None, None), days or (None, None)
        out.append(
            Duration(
                process_type=ptype, process_title=titles.get(ptype, ptype), step=step,
                step_title=_step_title(ptype, step) if step is not None else None, count=count,
                p50_hours=_r(p50h), p90_hours=_r(p90h), p50_business_days=_r(p50d),
                p90_business_days=_r(p90d), total_hours=_r(total) or 0.0,
            )
        )  # fmt: skip
    return sorted(out, key=lambda d: (d.process_title, d.step is not None, -d.total_hours))


def durations(session: Session, rq: Resolved) -> list[Duration]:
    """p50/p90 time end to end (processes that finished in the period) and per step (steps decided in
    the period), in hours and in business days (the per-row figure `measure_durations` keeps)."""

    def hours(begin: Any, finish: Any) -> Any:
        return extract("epoch", finish - begin) / 3600.0

    whole = session.execute(
        select(
            Process.type,
            *duration_figures(hours(Process.created_at, Process.finished_at), Process.business_days),
        )
        .where(Process.finished_at >= rq.since, Process.finished_at < rq.until, *_in_scope("process", rq))
        .group_by(Process.type)
    )
    group = _step_group()
    steps = session.execute(
        select(
            ApprovalTask.process_type,
            group,
            *duration_figures(
                hours(ApprovalTask.created_at, ApprovalTask.decided_at), ApprovalTask.business_days
            ),
        )
        .where(
            ApprovalTask.decided_at >= rq.since,
            ApprovalTask.decided_at < rq.until,
            *_in_scope("approval_task", rq),
        )
        .group_by(ApprovalTask.process_type, group)
    )
    return to_durations(whole, steps)


MEASURE_BATCH = 20_000


def measure_durations(
    session: Session, calendar: BusinessCalendar, *, batch: int = MEASURE_BATCH
) -> set[date]:
    """Write the business-day duration of processes and steps that finished since the last pass (the
    reconciler calls it; idempotent): one set-based UPDATE per table and batch. Returns the Kyiv days
    on which the measured rows finished (the monitor's summaries recompute those days)."""
    days: set[date] = set()
    tables: list[tuple[Any, Any, Any]] = [
        (Process, Process.created_at, Process.finished_at),
        (ApprovalTask, ApprovalTask.created_at, ApprovalTask.decided_at),
    ]
    for model, begin, finish in tables:
        while True:
            ids = list(
                session.scalars(
                    select(model.id)
                    .where(finish.is_not(None), model.business_days.is_(None))
                    .order_by(model.id)
                    .limit(batch)
                )
            )
            if not ids:
                break
            bounds = select(func.min(begin), func.max(finish)).where(model.id.in_(ids))
            first, last = session.execute(bounds).one()
            first_day = min(first, last).astimezone(KYIV).date()
            clock = WorkingClock.build(calendar, first_day, last.astimezone(KYIV).date() + timedelta(days=1))
            worked = clock.seconds(finish, "f") - clock.seconds(begin, "b")
            finished_on = session.scalars(
                update(model)
                .where(model.id.in_(ids))
                .values(business_days=func.greatest(worked / clock.day_seconds, 0.0))
                .returning(cast(func.timezone("Europe/Kyiv", finish), Date)),
                execution_options={"synchronize_session": False},
            )
            days.update(finished_on)
            if len(ids) < batch:
                break
    return days


def trends(
    session: Session, rq: Resolved, now: datetime, opened: _OpenFigures, finished: Finished
) -> list[TrendPoint]:
    """Started and finished (by outcome) per day or week of the period, and the backlog at each end.

    The backlog at a moment T is the open processes now, less those started after T, plus those
    finished after T: walked back from now over the period's own figures (one more query only for a
    period that ends before today)."""
    bucket = _bucket(rq, Process.created_at)
    where = _in_scope("process", rq)
    started: dict[date, int] = {
        b: c
        for b, c in session.execute(
            select(bucket, func.count())
            .where(Process.created_at >= rq.since, Process.created_at < rq.until, *where)
            .group_by(bucket)
        )
    }
    ends: dict[date, dict[ProcessState, int]] = {}
    for _, state, moment, count in finished:
        per_state = ends.setdefault(moment, {})
        per_state[state] = per_state.get(state, 0) + count
    open_now = sum(count for _, _, _, count in opened.processes)
    started_after = finished_after = 0
    if rq.until < now:
        started_after, finished_after = session.execute(
            select(
                func.count().filter(Process.created_at >= rq.until),
                func.count().filter(Process.finished_at >= rq.until),
            ).where(*where, or_(Process.created_at >= rq.until, Process.finished_at >= rq.until))
        ).one()
    weekly = rq.granularity == "week"
    first = rq.start - timedelta(days=rq.start.weekday()) if weekly else rq.start
    step = timedelta(days=7 if weekly else 1)
    days: list[date] = []
    day = first
    while day <= rq.end:
        days.append(day)
        day += step
    points: list[TrendPoint] = []
    backlog = open_now - started_after + finished_after  # at the end of the last bucket
    for day in reversed(days):
        done = ends.get(day, {})
        points.append(
            TrendPoint(
                bucket=day,
                started=started.get(day, 0),
                completed=done.get(ProcessState.COMPLETED, 0),
                rejected=done.get(ProcessState.REJECTED, 0),
                expired=done.get(ProcessState.EXPIRED, 0),
                backlog=max(0, backlog),
            )
        )
        backlog = backlog - started.get(day, 0) + sum(done.values())
    return list(reversed(points))


Units = list[tuple[int | None, OrgLevel, tuple[int, ...]]]  # area, level, counts (see `units_figures`)


def units_figures(session: Session, rq: Resolved) -> Units:
    """Units of the scope and their accounts, by area one level down and level: (active units, active,
    pending, suspended, deactivated accounts, active units without an account)."""
    area = literal_column(f"org_unit.lineage[{rq.depth + 1}]", Integer)
    where = [] if rq.national else [literal_column(f"org_unit.lineage[{rq.depth}]", Integer) == rq.unit.id]
    rows = session.execute(units_and_accounts(area).where(*where).group_by(area, OrgUnit.level)).all()
    return [(a, level, tuple(counts)) for a, level, *counts in rows]


def units_and_accounts(*keys: Any) -> Any:
    """SELECT keys…, level, and the counts of `Units` (active units; active, pending, suspended and
    deactivated accounts; active units without one) from the units below the national root that are
    active or have an account — to be grouped by the keys and the level."""
    return (
        select(
            *keys,
            OrgUnit.level,
            func.count().filter(OrgUnit.status == OrgStatus.ACTIVE),
            func.count().filter(Account.state == AccountState.ACTIVE),
            func.count().filter(Account.state == AccountState.PENDING),
            func.count().filter(Account.state == AccountState.SUSPENDED),
            func.count().filter(Account.state == AccountState.DEACTIVATED),
            func.count().filter(Account.id.is_(None), OrgUnit.status == OrgStatus.ACTIVE),
        )
        .select_from(OrgUnit)
        .outerjoin(Account, Account.org_unit_id == OrgUnit.id)
        .where(
            or_(OrgUnit.status == OrgStatus.ACTIVE, Account.id.is_not(None)),
            OrgUnit.level != OrgLevel.NATIONAL,
        )
    )


def coverage(rq: Resolved, units: Units) -> list[CoverageRow]:
    """The cascade's accounts by level below the scope's unit."""
    sums: dict[OrgLevel, list[int]] = {}
    below = set(list(OrgLevel)[rq.unit.level.rank + 1 :])
    for _, level, counts in units:
        if level not in below:
            continue
        total = sums.setdefault(level, [0] * 6)
        for i, value in enumerate(counts):
            total[i] += value
    return [
        CoverageRow(
            level=lv, level_uk=LEVELS_UK[lv], units=c[0], active=c[1], pending=c[2], suspended=c[3],
            deactivated=c[4], without_account=c[5], coverage_pct=_pct(c[1], c[0]),
        )
        for lv in OrgLevel
        if lv in sums
        for c in [sums[lv]]
    ]  # fmt: skip


def areas(
    session: Session,
    rq: Resolved,
    opened: _OpenFigures,
    units: Units,
) -> list[AreaRow]:
    """Per unit one level down: accounts open / units (and of schools), open processes, open, overdue
    and escalated steps."""
    per_area: dict[int, list[int]] = {}
    for area_id, level, counts in units:
        if area_id is None:
            continue
        a = per_area.setdefault(area_id, [0, 0, 0, 0])
        a[0] += counts[0]
        a[1] += counts[1]
        if level in (OrgLevel.SCHOOL, OrgLevel.BRANCH):
            a[2] += counts[0]
            a[3] += counts[1]
    open_processes: dict[int, int] = {}
    for _, _, area_id, count in opened.processes:
        if area_id is not None:
            open_processes[area_id] = open_processes.get(area_id, 0) + count
    open_steps: dict[int, list[int]] = {}
    for _, _, area_id, count, overdue, escalated in opened.steps:
        if area_id is not None:
            sums = open_steps.setdefault(area_id, [0, 0, 0])
            sums[0] += count
            sums[1] += overdue
            sums[2] += escalated
    rows = []
    children = session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.level).where(OrgUnit.parent_id == rq.unit.id)
    )
    for unit_id, name, level in children:
        total, active, schools, schools_active = per_area.get(unit_id, [0, 0, 0, 0])
        steps = open_steps.get(unit_id, [0, 0, 0])
        if not total and not open_processes.get(unit_id) and not steps[0]:
            continue  # e.g. a liquidated school with nothing open
        rows.append(
            AreaRow(
                unit_id=unit_id, name=name, level=level, units=total, accounts_active=active,
                coverage_pct=_pct(active, total), schools=schools, schools_active=schools_active,
                open_processes=open_processes.get(unit_id, 0), open_steps=steps[0], overdue=steps[1],
                escalated=steps[2],
            )
        )  # fmt: skip
    return sorted(rows, key=lambda r: ukrainian_order(r.name))


class _Timer:
    """Milliseconds per named query of one page."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, call: Any) -> Any:
        started = perf_counter()
        value = call()
        self.timings[name] = round((perf_counter() - started) * 1000, 1)
        return value


def monitor(
    session: Session,
    viewer: Person,
    query: MonitorQuery | None = None,
    *,
    now: datetime | None = None,
    live: bool = False,
) -> Monitor:
    """Every figure of the monitor for `viewer` (checked against their scope), with each query's time;
    `live`: read the live tables even where fresh summaries exist (to compare)."""
    now = now or datetime.now(UTC)
    timed = _Timer()
    rq: Resolved = timed("scope", lambda: resolve(session, viewer, query or MonitorQuery(), now))
    if rq.depth > 2:  # a rayon or smaller: a few hundred rows
        return _figures(session, rq, now, live=live, timed=timed)
    # The country or an oblast read live: the percentiles' sorts stay in memory (the default is 4 MB).
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    try:
        return _figures(session, rq, now, live=live, timed=timed)
    finally:
        session.execute(text("RESET work_mem"))  # the caller's transaction goes on with its own


def _figures(session: Session, rq: Resolved, now: datetime, *, live: bool, timed: _Timer) -> Monitor:
    # The country and an oblast read the reconciler's summaries while they are fresh; smaller scopes
    # (and a database whose reconciler is not running) read the live tables.
    from aikom.services import monitor_rollup as rollup  # (it imports this module)

    as_of = rollup.fresh_as_of(session, now) if rollup.serves(rq) and not live else None
    source: Any = rollup if as_of is not None else _LIVE
    opened: _OpenFigures = timed("open", lambda: source.open_figures(session, rq))
    finished = timed("finished", lambda: source.finished_figures(session, rq))
    steps = step_backlog(opened)
    oldest, worst = timed("waiting", lambda: waiting_steps(session, rq, now))
    breach = Breaches(
        overdue=sum(s.overdue for s in steps), escalated=sum(s.escalated for s in steps), worst=worst
    )
    spent = timed("durations", lambda: source.durations(session, rq))
    trend = timed("trends", lambda: trends(session, rq, now, opened, finished))
    units = timed("units", lambda: source.units_figures(session, rq))
    area_rows = timed("areas", lambda: areas(session, rq, opened, units))
    return Monitor(
        scope=rq.scope(),
        generated_at=now,
        counts=state_counts(rq, opened, finished),
        steps=steps,
        oldest=oldest,
        breaches=breach,
        durations=spent,
        trends=trend,
        areas=area_rows,
        coverage=coverage(rq, units),
        as_of=as_of,
        timings_ms=timed.timings,
    )


# The live tables as the source of the figures that the summaries also hold (same functions).
_LIVE = SimpleNamespace(
    open_figures=open_figures,
    finished_figures=finished_figures,
    durations=durations,
    units_figures=units_figures,
)
