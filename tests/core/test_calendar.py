"""Deadlines on the Ukrainian business calendar: weekends, public holidays (none under martial law),
configured days off; working hours for SLAs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from aikom.core.calendar import KYIV, BusinessCalendar
from aikom.settings import Settings


def kyiv(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=KYIV)


def test_five_business_days_from_a_friday_end_on_the_next_friday_evening() -> None:
    due = BusinessCalendar().add_business_days(kyiv(2026, 11, 27, 15), 5)  # Friday
    assert due.astimezone(KYIV) == kyiv(2026, 12, 4, 18)


def test_a_configured_day_off_is_skipped() -> None:
    calendar = Settings(extra_days_off=[date(2026, 12, 1)]).business_calendar()
    assert calendar.add_business_days(kyiv(2026, 11, 30, 10), 1).astimezone(KYIV) == kyiv(2026, 12, 2, 18)
    assert BusinessCalendar().add_business_days(kyiv(2026, 11, 30, 10), 1).astimezone(KYIV) == kyiv(
        2026, 12, 1, 18
    )


def test_independence_day_2021_is_off_but_under_martial_law_holidays_are_working_days() -> None:
    calendar = BusinessCalendar()
    # Monday 23.08.2021 + 1 business day: Tuesday 24.08.2021 (Independence Day) is skipped.
    assert calendar.add_business_days(kyiv(2021, 8, 23, 10), 1).astimezone(KYIV) == kyiv(2021, 8, 25, 18)
    assert not calendar.is_business_day(date(2021, 8, 24))
    assert calendar.is_business_day(date(2026, 8, 24))  # a Monday under martial law: a working day
    assert calendar.is_business_day(date(2025, 1, 1))


def test_a_start_after_working_hours_counts_from_the_next_business_day() -> None:
    due = BusinessCalendar().add_business_days(kyiv(2026, 11, 27, 19), 1)  # Friday evening
    assert due.astimezone(KYIV) == kyiv(2026, 11, 30, 18)  # Monday


def test_working_hours_across_a_weekend_and_a_day_off() -> None:
    calendar = Settings(extra_days_off=[date(2026, 11, 30)]).business_calendar()
    start, end = kyiv(2026, 11, 27, 17), kyiv(2026, 12, 1, 10)  # Fri 17:00 → Tue 10:00, Monday off
    assert calendar.working_seconds_between(start, end) == 2 * 3600
    assert calendar.add_working_hours(start, 2).astimezone(KYIV) == end
    assert calendar.business_days_between(kyiv(2026, 12, 1, 9), kyiv(2026, 12, 2, 18)) == 2.0


def test_working_hours_are_configurable() -> None:
    calendar = Settings(working_day_start=time(8, 0), working_day_end=time(17, 0)).business_calendar()
    due = calendar.add_business_days(datetime(2026, 12, 1, 8, tzinfo=UTC), 1)
    assert due.astimezone(KYIV) == kyiv(2026, 12, 2, 17)


def test_a_saturday_made_a_working_day_counts_and_its_substituted_monday_does_not() -> None:
    calendar = BusinessCalendar()
    # Monday 23.08.2021 was a day off in exchange for Saturday 28.08.2021, a working day.
    assert not calendar.is_business_day(date(2021, 8, 23))
    assert calendar.is_business_day(date(2021, 8, 28))
    assert not calendar.is_business_day(date(2021, 8, 29))  # Sunday
    # Friday 27.08.2021 + 1 business day: the working Saturday.
    assert calendar.add_business_days(kyiv(2021, 8, 27, 10), 1).astimezone(KYIV) == kyiv(2021, 8, 28, 18)


def test_days_off_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIKOM_EXTRA_DAYS_OFF", '["2026-12-01", "2026-12-02"]')
    calendar = Settings().business_calendar()
    assert calendar.add_business_days(kyiv(2026, 11, 30, 10), 1).astimezone(KYIV) == kyiv(2026, 12, 3, 18)
    assert calendar.previous_business_day(date(2026, 12, 3)) == date(2026, 11, 30)


def test_business_days_are_counted_across_years_as_a_day_by_day_walk_counts_them() -> None:
    import random
    from datetime import timedelta

    calendar = BusinessCalendar(extra_days_off=frozenset({date(2025, 12, 31), date(2026, 6, 1)}))
    rng = random.Random(5)
    for _ in range(200):
        first = date(2023, 1, 1) + timedelta(days=rng.randrange(4 * 365))
        last = first + timedelta(days=rng.randrange(800))
        walked, day = 0, first
        while day < last:
            walked += calendar.is_business_day(day)
            day += timedelta(days=1)
        assert calendar.count_business_days(first, last) == walked, (first, last)
    assert calendar.count_business_days(date(2026, 6, 1), date(2026, 6, 1)) == 0
    # The configured day off (a Monday) and the weekend do not count: 2–5 June only.
    assert calendar.count_business_days(date(2026, 5, 30), date(2026, 6, 6)) == 4
