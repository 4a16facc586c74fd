"""The support desk's SLA in working hours on the business calendar (pure functions, no database)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from aikom.core.calendar import KYIV, BusinessCalendar
from aikom.core.support_sla import (
    DEFAULT_TARGETS,
    clock,
    overdue_cutoffs,
    subtract_working_seconds,
    working_seconds,
)

HOUR = 3600.0
# Friday 04.12.2026; Monday 07.12.2026 is a configured day off; Tuesday 08.12.2026 a working day.
DAY_OFF = date(2026, 12, 7)
CALENDAR = BusinessCalendar.from_settings([DAY_OFF], time(9, 0), time(18, 0))


def kyiv(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=KYIV)


def test_working_time_skips_the_weekend_and_a_configured_day_off() -> None:
    # Fri 16:00 → Tue 10:00: 2 h on Friday + 1 h on Tuesday; Sat, Sun and the day off count nothing.
    assert working_seconds(CALENDAR, kyiv(4, 16), kyiv(8, 10)) == 3 * HOUR
    # Without the day off, Monday's 9 hours count.
    plain = BusinessCalendar.from_settings([], time(9, 0), time(18, 0))
    assert working_seconds(plain, kyiv(4, 16), kyiv(8, 10)) == 12 * HOUR
    # Outside working hours nothing counts; reversed bounds are zero.
    assert working_seconds(CALENDAR, kyiv(4, 18, 30), kyiv(8, 8, 59)) == 0
    assert working_seconds(CALENDAR, kyiv(8, 10), kyiv(4, 16)) == 0


def test_a_first_response_breach_is_counted_in_working_hours() -> None:
    created = kyiv(4, 16)  # a normal request: 4 working hours to the first public reply
    target = DEFAULT_TARGETS.first_response("normal")
    assert target == 4 * HOUR

    # Tuesday 10:00 (four days of wall time later): 3 working hours used, 1 left.
    running = clock(CALENDAR, created_at=created, target_seconds=target, stopped_at=None, now=kyiv(8, 10))
    assert not running.breached and running.left_seconds == 1 * HOUR
    assert running.deadline == kyiv(8, 11).astimezone(UTC)

    # Tuesday 12:30: overdue by 1.5 working hours.
    late = clock(CALENDAR, created_at=created, target_seconds=target, stopped_at=None, now=kyiv(8, 12, 30))
    assert late.breached and late.left_seconds == -1.5 * HOUR

    # A reply on Tuesday at 10:30 was in time; at 12:00 it was late (by one working hour).
    met = clock(
        CALENDAR, created_at=created, target_seconds=target, stopped_at=kyiv(8, 10, 30), now=kyiv(9, 9)
    )
    assert not met.breached
    slow = clock(CALENDAR, created_at=created, target_seconds=target, stopped_at=kyiv(8, 12), now=kyiv(9, 9))
    assert slow.breached and slow.left_seconds == -1 * HOUR


def test_resolution_in_working_days_across_the_day_off() -> None:
    # Normal: 3 working days (27 h). From Friday 16:00: Fri 2 h, Tue 9 h, Wed 9 h, Thu 7 h → Thu 16:00.
    target = DEFAULT_TARGETS.resolution("normal")
    c = clock(CALENDAR, created_at=kyiv(4, 16), target_seconds=target, stopped_at=None, now=kyiv(10, 15))
    assert c.deadline == kyiv(10, 16).astimezone(UTC) and not c.breached
    assert DEFAULT_TARGETS.resolution("high") < target and DEFAULT_TARGETS.first_response("high") < 4 * HOUR


def test_the_overdue_cutoff_walks_back_working_time() -> None:
    # 4 working hours before Tuesday 11:00 is Friday 16:00 (the weekend and the day off skipped).
    assert subtract_working_seconds(CALENDAR, kyiv(8, 11), 4 * HOUR) == kyiv(4, 16).astimezone(UTC)
    # From Saturday: the end of Friday counts back.
    assert subtract_working_seconds(CALENDAR, kyiv(5, 12), 1 * HOUR) == kyiv(4, 17).astimezone(UTC)


def test_created_at_before_the_cutoff_is_exactly_what_is_overdue() -> None:
    """The SQL filter (`created_at <= cutoff`) agrees with the clock for any creation time."""
    rng = random.Random(11)
    now = kyiv(15, 10, 17)
    cutoffs = overdue_cutoffs(CALENDAR, DEFAULT_TARGETS, ["urgent", "high", "normal", "low"], now)
    for _ in range(400):
        created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 14))
        for priority, (first_cut, resolution_cut) in cutoffs.items():
            for target, cut in (
                (DEFAULT_TARGETS.first_response(priority), first_cut),
                (DEFAULT_TARGETS.resolution(priority), resolution_cut),
            ):
                c = clock(CALENDAR, created_at=created, target_seconds=target, stopped_at=None, now=now)
                assert c.breached == (created <= cut), (priority, created)


def test_the_fast_working_time_equals_the_calendars() -> None:
    rng = random.Random(5)
    for _ in range(300):
        start = kyiv(1, 0) + timedelta(minutes=rng.randint(0, 60 * 24 * 40))
        end = start + timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        assert working_seconds(CALENDAR, start, end) == CALENDAR.working_seconds_between(start, end)
