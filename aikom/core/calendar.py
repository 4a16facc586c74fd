"""The Ukrainian business calendar: due dates in business days, SLAs in working hours.

A business day is a weekday (or a weekend day the government made a working day) that is neither a
public holiday nor an extra day off from configuration. Public holidays come from the `holidays`
package's Ukraine calendar, which knows that under martial law (since 24.02.2022) public holidays are
working days — so for 2022 on it adds only the holidays before that date, and none today.
Working hours are 09:00–18:00 Kyiv time unless configured otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")


@lru_cache(maxsize=64)
def _public_calendar(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(public holidays, weekend days made working days) of one year."""
    import holidays

    public = holidays.Ukraine(years=year, categories=("public",))
    days_off = frozenset(public)
    # Saturdays worked in exchange for a day off (e.g. 28.08.2021 for Monday 23.08.2021).
    workdays = frozenset(day for day in public.weekend_workdays if day.year == year)
    return days_off, workdays


def load_public_calendars(years: Iterable[int]) -> None:
    """Read the public holidays of `years` now (the `holidays` package loads ~300 modules on first use:
    the flow-run forkserver does it once for every flow process it forks)."""
    for year in years:
        _public_calendar(year)


@lru_cache(maxsize=256)
def _year_counts(calendar: BusinessCalendar, year: int) -> tuple[int, ...]:
    """counts[i]: business days among the first i days of `year` (counts[-1]: the whole year)."""
    counts = [0]
    day = date(year, 1, 1)
    while day.year == year:
        counts.append(counts[-1] + calendar.is_business_day(day))
        day += timedelta(days=1)
    return tuple(counts)


@dataclass(frozen=True)
class BusinessCalendar:
    """Business days and working hours (Kyiv time)."""

    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    zone: ZoneInfo = KYIV

    @classmethod
    def from_settings(
        cls, extra_days_off: Iterable[date], day_start: time, day_end: time
    ) -> BusinessCalendar:
        """The calendar the configuration describes."""
        if day_end <= day_start:
            raise ValueError("working hours must end after they start")
        return cls(extra_days_off=frozenset(extra_days_off), day_start=day_start, day_end=day_end)

    # --- days ----------------------------------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        """Whether people work on `day`."""
        if day in self.extra_days_off:
            return False
        days_off, workdays = _public_calendar(day.year)
        if day in days_off:
            return False
        return day.weekday() < 5 or day in workdays

    def count_business_days(self, first: date, last: date) -> int:
        """How many business days in [first, last) — in time that does not grow with the span (a per-year
        running count, cached)."""
        if last <= first:
            return 0
        start = first.timetuple().tm_yday - 1
        stop = last.timetuple().tm_yday - 1
        if first.year == last.year:
            counts = _year_counts(self, first.year)
            return counts[stop] - counts[start]
        head = _year_counts(self, first.year)
        middle = sum(_year_counts(self, year)[-1] for year in range(first.year + 1, last.year))
        return head[-1] - head[start] + middle + _year_counts(self, last.year)[stop]

    def next_business_day(self, day: date) -> date:
        """The first business day after `day`."""
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def previous_business_day(self, day: date) -> date:
        """The last business day before `day`."""
        day -= timedelta(days=1)
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("a moment without a time zone")
        return moment.astimezone(self.zone)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The end of the working day `days` business days after `start`'s day (UTC).

        Started on Friday at 15:00 with 5 business days: due the next Friday at 18:00 (Kyiv), unless a
        day in between is off. A start after working hours counts from the next business day.
        """
        if days < 1:
            raise ValueError("a due date is at least one business day away")
        local = self._local(start)
        day = local.date()
        if not self.is_business_day(day) or local.time() >= self.day_end:
            day = self.next_business_day(day)
            days -= 1
        for _ in range(days):
            day = self.next_business_day(day)
        return self._at(day, self.day_end)

    # --- working hours -------------------------------------------------------------------------

    def _working_window(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_business_day(day):
            return None
        return self._at(day, self.day_start), self._at(day, self.day_end)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working time between two moments, in seconds (0 when `end` is not after `start`)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = self._local(start).date()
        last = self._local(end).date()
        while day <= last:
            window = self._working_window(day)
            if window is not None:
                opens, closes = window
                total += max(0.0, (min(closes, end) - max(opens, start)).total_seconds())
            day += timedelta(days=1)
        return total

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment when `seconds` of working time have passed since `start` (UTC)."""
        if seconds < 0:
            raise ValueError("working time is not negative")
        day = self._local(start).date()
        moment = start
        while True:
            window = self._working_window(day)
            if window is not None:
                opens, closes = window
                begin = max(opens, moment)
                available = (closes - begin).total_seconds()
                if available >= seconds and closes >= begin:
                    return (begin + timedelta(seconds=seconds)).astimezone(UTC)
                seconds -= max(0.0, available)
            day += timedelta(days=1)
            moment = self._at(day, self.day_start)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (UTC)."""
        return self.add_working_seconds(start, hours * 3600)

    def business_days_between(self, start: datetime, end: datetime) -> float:
        """Working time between two moments in business days (a full working day is 1.0)."""
        day_seconds = (
            datetime.combine(date.min, self.day_end) - datetime.combine(date.min, self.day_start)
        ).total_seconds()
        return self.working_seconds_between(start, end) / day_seconds
