"""The support desk's SLA in working hours on the business calendar: pure functions, no database.

Two clocks run for each request from its `created_at`:
- first response: until the desk's first public reply (`first_response_at`);
- resolution: until the request is resolved (`resolved_at`; a reopened request has it cleared again).

Only working time counts (the calendar's working hours on business days: weekends, public holidays and
the configured extra days off do not). A running clock is overdue once the working time elapsed reaches its
target; a stopped clock was late when it stopped after more working time than the target. The clock does
not pause while the desk waits for the requester (`info_requested`): the target is the desk's promise for
the whole request.

For a query, `overdue_cutoffs` turns the targets into wall-clock instants: a running clock of priority `p`
is overdue exactly when `created_at <= cutoff[p]`, because working time elapsed since `created_at` only
shrinks as `created_at` moves later. The cutoff is computed by walking back `target` working seconds from
now — so a database query needs only a plain comparison on `created_at` per priority (no calendar in SQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from aikom.core.calendar import BusinessCalendar

HOUR = 3600.0

# Defaults in working hours (a working day is 9 hours: 09:00–18:00).
DEFAULT_FIRST_RESPONSE_HOURS: dict[str, float] = {"urgent": 1, "high": 2, "normal": 4, "low": 8}
DEFAULT_RESOLUTION_HOURS: dict[str, float] = {"urgent": 9, "high": 18, "normal": 27, "low": 45}


@dataclass(frozen=True)
class SlaTargets:
    """Working hours allowed per priority for the first response and for the resolution."""

    first_response_hours: Mapping[str, float]
    resolution_hours: Mapping[str, float]

    def __post_init__(self) -> None:
        for kind in (self.first_response_hours, self.resolution_hours):
            for priority, hours in kind.items():
                if hours <= 0:
                    raise ValueError(f"SLA target for {priority!r} must be positive")

    def first_response(self, priority: str) -> float:
        """Seconds of working time allowed until the first public reply."""
        return (
            float(self.first_response_hours.get(priority, DEFAULT_FIRST_RESPONSE_HOURS.get(priority, 4)))
            * HOUR
        )

    def resolution(self, priority: str) -> float:
        """Seconds of working time allowed until the request is resolved."""
        return float(self.resolution_hours.get(priority, DEFAULT_RESOLUTION_HOURS.get(priority, 27))) * HOUR


DEFAULT_TARGETS = SlaTargets(DEFAULT_FIRST_RESPONSE_HOURS, DEFAULT_RESOLUTION_HOURS)


def working_seconds(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Working time between two instants, in seconds (0 when `end` is not after `start`).

    The same figure as `BusinessCalendar.working_seconds_between`, in time that does not grow with the
    span's length in time-zone conversions: the first and last days are measured exactly, the days
    between count whole working days (a page shows requests months old).
    """
    if end <= start:
        return 0.0
    first = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    if (last - first).days < 2:
        return calendar.working_seconds_between(start, end)
    after_first = datetime.combine(first + timedelta(days=1), time(0), tzinfo=calendar.zone)
    last_midnight = datetime.combine(last, time(0), tzinfo=calendar.zone)
    day_length = (
        datetime.combine(first, calendar.day_end) - datetime.combine(first, calendar.day_start)
    ).total_seconds()
    full_days = calendar.count_business_days(first + timedelta(days=1), last)
    return (
        calendar.working_seconds_between(start, after_first)
        + full_days * day_length
        + calendar.working_seconds_between(last_midnight, end)
    )


def subtract_working_seconds(calendar: BusinessCalendar, end: datetime, seconds: float) -> datetime:
    """The latest instant `start` with `working_seconds(start, end) >= seconds` (UTC)."""
    if seconds <= 0:
        raise ValueError("working time to go back is positive")
    day = end.astimezone(calendar.zone).date()
    remaining = seconds
    while True:
        if calendar.is_business_day(day):
            opens = calendar._at(day, calendar.day_start)
            closes = calendar._at(day, calendar.day_end)
            stop = min(closes, end)
            available = (stop - opens).total_seconds()
            if available > 0:
                if available >= remaining:
                    return (stop - timedelta(seconds=remaining)).astimezone(UTC)
                remaining -= available
        day -= timedelta(days=1)


@dataclass(frozen=True)
class Clock:
    """One SLA clock of a request."""

    target_seconds: float
    elapsed_seconds: float  # working time from creation until it stopped, or until now
    stopped: bool  # the first reply was sent / the request was resolved
    deadline: datetime  # when the target is reached (UTC)

    @property
    def breached(self) -> bool:
        """Late (stopped after the target) or overdue (running and the target reached)."""
        if self.stopped:
            return self.elapsed_seconds > self.target_seconds
        return self.elapsed_seconds >= self.target_seconds

    @property
    def left_seconds(self) -> float:
        """Working time left (negative: by how much the target was exceeded)."""
        return self.target_seconds - self.elapsed_seconds


def clock(
    calendar: BusinessCalendar,
    *,
    created_at: datetime,
    target_seconds: float,
    stopped_at: datetime | None,
    now: datetime,
) -> Clock:
    """One clock: working time from `created_at` to `stopped_at` (or `now`) against its target."""
    end = stopped_at if stopped_at is not None else now
    return Clock(
        target_seconds=target_seconds,
        elapsed_seconds=working_seconds(calendar, created_at, end),
        stopped=stopped_at is not None,
        deadline=calendar.add_working_seconds(created_at, target_seconds),
    )


def overdue_cutoffs(
    calendar: BusinessCalendar, targets: SlaTargets, priorities: list[str], now: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """Per priority: (first-response cutoff, resolution cutoff) — a running clock is overdue when the
    request's `created_at` is at or before its cutoff."""
    return {
        p: (
            subtract_working_seconds(calendar, now, targets.first_response(p)),
            subtract_working_seconds(calendar, now, targets.resolution(p)),
        )
        for p in priorities
    }


def format_working(seconds: float) -> str:
    """A span of working time in Ukrainian: «3 год 15 хв» (the sign is the caller's)."""
    minutes = int(abs(seconds) // 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} год")
    parts.append(f"{minutes} хв")
    return " ".join(parts)
