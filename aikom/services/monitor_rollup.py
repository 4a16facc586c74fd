"""The monitor's summaries for the whole country and for an oblast, refreshed by the reconciler.

Live, a national page would aggregate every open process and step (tens of thousands) and every step
decided in the period on each load. The reconciler instead refreshes, once a pass:
- `monitor_open` — open processes by state and open steps by declared step, per oblast, rayon and type,
  with the steps overdue at that moment and the escalated ones (whole table, one grouped query each);
- `monitor_units` — active units and their accounts per oblast, rayon and level (whole table);
- `monitor_day` — per Kyiv day, oblast (and the country as oblast 0) and type: processes finished by
  final state and steps decided by step, each cell holding the durations themselves (hours and business
  days), so that p50/p90 over any period stay exact. Only the days that changed since the last pass are
  recomputed: the days of the rows the same pass measured (`measure_durations`);
- `monitor_recent` — the percentiles over the default period (the last 30 days) per oblast and for the
  country: sorting every duration of a month is the one part of a page that stays costly, so the
  default view gets it ready; another period is computed on request from the day cells.
The figures read from them are exactly the live ones as of the refresh (a test compares both); a page
shows «станом на …». Rayons, hromadas and anything smaller read the live tables (a few hundred rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.models import (
    ApprovalTask,
    MonitorDay,
    MonitorOpen,
    MonitorRecent,
    MonitorRefresh,
    MonitorUnits,
    OrgLevel,
    OrgUnit,
    Process,
    ProcessState,
    TaskState,
)
from aikom.services import monitor as m

# Summaries older than this are not shown: the page falls back to the live tables (the reconciler is
# not running, e.g. a development database).
FRESH_FOR = timedelta(minutes=10)
CLOCK_SKEW = timedelta(seconds=30)  # between the reconciler's clock and the dashboard's
REFRESH_LOCK = 0x41494B4F4D  # "AIKOM": the advisory lock one refresh holds
COUNTRY = 0  # monitor_day.oblast_id of the whole country's rows
ABOVE = -1  # monitor_day.oblast_id of subjects above the oblasts (institute-level)


def _hours(begin: Any, finish: Any) -> Any:
    return func.extract("epoch", finish - begin) / 3600.0


def _kyiv_day(column: Any) -> Any:
    return cast(func.timezone("Europe/Kyiv", column), Date)


def _zero_if_none(column: str, default: int = 0) -> Any:
    """SQL: `coalesce(column, default)` written literally, so that GROUP BY matches the select list."""
    return func.coalesce(literal_column(column, Integer), literal_column(str(default), Integer))


def _path(table: str, depth: int) -> Any:
    return _zero_if_none(f"{table}.subject_path[{depth}]")


@dataclass
class Refreshed:
    """What one refresh wrote."""

    open_rows: int
    unit_rows: int
    days: int


def refresh(session: Session, *, now: datetime, dirty_days: set[date] | None = None) -> Refreshed:
    """Refresh the summaries: open figures and units in full, `monitor_day` for `dirty_days` (None, and
    on the very first refresh: every day that has a finished process or a decided step). Refreshes
    run one at a time (a transaction-level advisory lock): reconcilers may run side by side."""
    session.execute(select(func.pg_advisory_xact_lock(REFRESH_LOCK)))
    session.execute(delete(MonitorOpen))
    session.execute(
        insert(MonitorOpen).from_select(
            ["oblast_id", "rayon_id", "process_type", "kind", "item", "count", "overdue", "escalated"],
            select(
                _path("process", 2),
                _path("process", 3),
                Process.type,
                literal("process"),
                Process.state,
                func.count(),
                literal(0),
                literal(0),
            )
            .where(Process.state.in_(m.OPEN_STATES))
            .group_by(_path("process", 2), _path("process", 3), Process.type, Process.state),
        )
    )
    group = m._step_group()
    session.execute(
        insert(MonitorOpen).from_select(
            ["oblast_id", "rayon_id", "process_type", "kind", "item", "count", "overdue", "escalated"],
            select(
                _path("approval_task", 2),
                _path("approval_task", 3),
                ApprovalTask.process_type,
                literal("step"),
                group,
                func.count(),
                func.count().filter(ApprovalTask.due_at < now),
                func.count().filter(ApprovalTask.escalation_level > 0),
            )
            .where(ApprovalTask.state == TaskState.OPEN)
            .group_by(
                _path("approval_task", 2),
                _path("approval_task", 3),
                ApprovalTask.process_type,
                group,
            ),
        )
    )
    open_rows = session.scalar(select(func.count()).select_from(MonitorOpen)) or 0
    unit_rows = _refresh_units(session)
    stamp = session.get(MonitorRefresh, 1)
    days = _refresh_days(session, dirty_days if stamp is not None else None)  # the first time: every day
    _refresh_recent(session, now)
    if stamp is None:
        session.add(MonitorRefresh(id=1, refreshed_at=now))
    else:
        stamp.refreshed_at = now
    session.flush()
    return Refreshed(open_rows=open_rows, unit_rows=unit_rows, days=days)


def _refresh_units(session: Session) -> int:
    session.execute(delete(MonitorUnits))
    oblast = _zero_if_none("org_unit.lineage[2]")
    rayon = _zero_if_none("org_unit.lineage[3]")
    session.execute(
        insert(MonitorUnits).from_select(
            [
                "oblast_id",
                "rayon_id",
                "level",
                "units",
                "active",
                "pending",
                "suspended",
                "deactivated",
                "without_account",
            ],
            m.units_and_accounts(oblast, rayon).group_by(oblast, rayon, OrgUnit.level),
        )
    )
    return session.scalar(select(func.count()).select_from(MonitorUnits)) or 0


def _refresh_days(session: Session, dirty_days: set[date] | None) -> int:
    """Recompute `monitor_day` for the given Kyiv days (None: all), for every oblast and the country."""
    if dirty_days is not None and not dirty_days:
        return 0
    columns = ["day", "oblast_id", "process_type", "kind", "item", "count", "hours", "business_days"]
    sources: list[tuple[str, Any, Any, Any, Any, Any, Any]] = [
        ("process", Process.type, Process.state, Process.created_at, Process.finished_at,
         Process.business_days, "process"),
        ("step", ApprovalTask.process_type, m._step_group(), ApprovalTask.created_at,
         ApprovalTask.decided_at, ApprovalTask.business_days, "approval_task"),
    ]  # fmt: skip
    if dirty_days is None:
        session.execute(delete(MonitorDay))
    else:
        session.execute(delete(MonitorDay).where(MonitorDay.day.in_(sorted(dirty_days))))
    for kind, ptype, item, begin, finish, business_days, table in sources:
        day = _kyiv_day(finish)
        where = [finish.is_not(None)]
        if dirty_days is not None:
            first, last = min(dirty_days), max(dirty_days)
            where += [
                finish >= datetime.combine(first, datetime.min.time(), tzinfo=KYIV).astimezone(UTC),
                finish < datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=KYIV),
                day.in_(sorted(dirty_days)),
            ]
        oblast = _zero_if_none(f"{table}.subject_path[2]", ABOVE)
        rows = (
            select(
                day.label("day"),
                oblast.label("oblast"),
                ptype.label("ptype"),
                item.label("item"),
                _hours(begin, finish).label("hours"),
                business_days.label("bdays"),
            )
            .where(*where)
            .subquery()
        )
        for per_oblast in (True, False):  # each oblast's cells, then the country's
            area = rows.c.oblast if per_oblast else literal_column(str(COUNTRY), Integer)
            keys = [rows.c.day, rows.c.ptype, rows.c.item, *([rows.c.oblast] if per_oblast else [])]
            session.execute(
                insert(MonitorDay).from_select(
                    columns,
                    select(
                        rows.c.day,
                        area,
                        rows.c.ptype,
                        literal_column(f"'{kind}'"),
                        rows.c.item,
                        func.count(),
                        func.array_agg(rows.c.hours),
                        func.array_agg(rows.c.bdays),
                    ).group_by(*keys),
                )
            )
    if dirty_days is None:
        return session.scalar(select(func.count(func.distinct(MonitorDay.day)))) or 0
    return len(dirty_days)


# --- reading -------------------------------------------------------------------------------------


def fresh_as_of(session: Session, now: datetime) -> datetime | None:
    """When the summaries were refreshed, if recently enough to be shown."""
    stamp = session.get(MonitorRefresh, 1)
    if stamp is None or not -CLOCK_SKEW <= now - stamp.refreshed_at <= FRESH_FOR:
        return None  # stale, or taken after `now` (a look at the past reads the live tables)
    return stamp.refreshed_at


def serves(rq: m.Resolved) -> bool:
    """Whether the summaries hold this scope: the country or an oblast."""
    return rq.national or rq.unit.level == OrgLevel.OBLAST


def _scope(rq: m.Resolved) -> tuple[Any, Any]:
    """(condition on monitor_open, the area column) for the scope."""
    if rq.national:
        return literal(True), MonitorOpen.oblast_id
    return MonitorOpen.oblast_id == rq.unit.id, MonitorOpen.rayon_id


def open_figures(session: Session, rq: m.Resolved) -> m._OpenFigures:
    """Open processes and steps as of the refresh, by type, state or step and area."""
    where, area = _scope(rq)
    typed = [MonitorOpen.process_type == rq.process_type] if rq.process_type else []
    rows = session.execute(
        select(
            MonitorOpen.kind,
            MonitorOpen.process_type,
            MonitorOpen.item,
            area,
            func.sum(MonitorOpen.count),
            func.sum(MonitorOpen.overdue),
            func.sum(MonitorOpen.escalated),
        )
        .where(where, *typed)
        .group_by(MonitorOpen.kind, MonitorOpen.process_type, MonitorOpen.item, area)
    ).all()
    processes = []
    steps = []
    for kind, ptype, item, area_id, count, overdue, escalated in rows:
        area_id = area_id or None
        if kind == "process":
            processes.append((ptype, ProcessState(item), area_id, int(count)))
        else:
            steps.append((ptype, item, area_id, int(count), int(overdue), int(escalated)))
    return m._OpenFigures(processes=processes, steps=steps)


def _day_scope(rq: m.Resolved) -> list[Any]:
    where = [
        MonitorDay.oblast_id == (COUNTRY if rq.national else rq.unit.id),
        MonitorDay.day >= rq.start,
        MonitorDay.day <= rq.end,
    ]
    if rq.process_type:
        where.append(MonitorDay.process_type == rq.process_type)
    return where


def finished_figures(session: Session, rq: m.Resolved) -> m.Finished:
    """Processes finished in the period by type, final state and day or week."""
    bucket = m.bucket_of(rq, MonitorDay.day)
    rows = session.execute(
        select(MonitorDay.process_type, MonitorDay.item, bucket, func.sum(MonitorDay.count))
        .where(*_day_scope(rq), MonitorDay.kind == "process")
        .group_by(MonitorDay.process_type, MonitorDay.item, bucket)
    ).all()
    return [(ptype, ProcessState(item), day, int(count)) for ptype, item, day, count in rows]


def _value_pairs(where: list[Any]) -> Any:
    """Subquery: one row per finished process or decided step of the day cells `where` selects —
    (oblast_id, process_type, kind, item, h, b) — each cell's two arrays unnested side by side."""
    value = (
        func.unnest(MonitorDay.hours, MonitorDay.business_days)
        .table_valued(column("h", Float), column("b", Float))
        .render_derived(name="v")
    )
    return (
        select(
            MonitorDay.oblast_id,
            MonitorDay.process_type,
            MonitorDay.kind,
            MonitorDay.item,
            value.c.h,
            value.c.b,
        )
        .select_from(MonitorDay)
        .join(value, literal(True))
        .where(*where)
        .subquery()
    )


def default_period(now: datetime) -> tuple[date, date]:
    """The monitor's default period as of `now`: the last 30 Kyiv days up to today."""
    end = m.kyiv_today(now)
    return end - timedelta(days=m.DEFAULT_DAYS - 1), end


def _refresh_recent(session: Session, now: datetime) -> None:
    """The durations over the default period, per oblast and for the country, by type and step."""
    start, end = default_period(now)
    session.execute(delete(MonitorRecent))
    pairs = _value_pairs([MonitorDay.day >= start, MonitorDay.day <= end])
    item = case((pairs.c.kind == "process", literal_column("''")), else_=pairs.c.item)
    keys = [pairs.c.oblast_id, pairs.c.process_type, pairs.c.kind, item]
    columns = [
        "oblast_id", "process_type", "kind", "item", "start", "end", "count", "hours", "business_days",
        "total_hours",
    ]  # fmt: skip
    figures = m.duration_figures(pairs.c.h, pairs.c.b)
    session.execute(
        insert(MonitorRecent).from_select(
            columns, select(*keys, literal(start), literal(end), *figures).group_by(*keys)
        )
    )


def durations(session: Session, rq: m.Resolved) -> list[m.Duration]:
    """p50/p90 over the period: the default period's as the reconciler computed them, any other period's
    from the durations the day cells keep."""
    oblast = COUNTRY if rq.national else rq.unit.id
    if (rq.start, rq.end) == default_period(rq.now):
        recent = [
            MonitorRecent.oblast_id == oblast,
            MonitorRecent.start == rq.start,
            MonitorRecent.end == rq.end,
        ]
        if rq.process_type:
            recent.append(MonitorRecent.process_type == rq.process_type)
        rows = session.execute(
            select(
                MonitorRecent.kind,
                MonitorRecent.process_type,
                MonitorRecent.item,
                MonitorRecent.count,
                MonitorRecent.hours,
                MonitorRecent.business_days,
                MonitorRecent.total_hours,
            ).where(*recent)
        ).all()
        return m.to_durations(
            [(t, c, h, b, total) for kind, t, _, c, h, b, total in rows if kind == "process"],
            [(t, i, c, h, b, total) for kind, t, i, c, h, b, total in rows if kind == "step"],
        )
    pairs = _value_pairs(_day_scope(rq))
    figures = m.duration_figures(pairs.c.h, pairs.c.b)
    whole = session.execute(
        select(pairs.c.process_type, *figures).where(pairs.c.kind == "process").group_by(pairs.c.process_type)
    )
    steps = session.execute(
        select(pairs.c.process_type, pairs.c.item, *figures)
        .where(pairs.c.kind == "step")
        .group_by(pairs.c.process_type, pairs.c.item)
    )
    return m.to_durations(whole, steps)


def units_figures(session: Session, rq: m.Resolved) -> m.Units:
    """Units and accounts by area one level down and level."""
    where: Any = literal(True)
    area: Any = MonitorUnits.oblast_id
    if not rq.national:
        where, area = MonitorUnits.oblast_id == rq.unit.id, MonitorUnits.rayon_id
    rows = session.execute(
        select(
            area,
            MonitorUnits.level,
            func.sum(MonitorUnits.units),
            func.sum(MonitorUnits.active),
            func.sum(MonitorUnits.pending),
            func.sum(MonitorUnits.suspended),
            func.sum(MonitorUnits.deactivated),
            func.sum(MonitorUnits.without_account),
        )
        .where(where)
        .group_by(area, MonitorUnits.level)
    ).all()
    return [(a or None, OrgLevel(level), tuple(int(c) for c in counts)) for a, level, *counts in rows]
