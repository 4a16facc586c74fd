"""Times as people read them: Kyiv time, with the zone said (emails, pages and the CLI alike)."""

from __future__ import annotations

from datetime import date, datetime

from aikom.core.calendar import KYIV

ZONE_LABEL = "за київським часом"


def format_kyiv(moment: datetime | None, *, zone: bool = True) -> str:
    """«05.12.2026 18:00 за київським часом» (or a dash for nothing)."""
    if moment is None:
        return "—"
    text = moment.astimezone(KYIV).strftime("%d.%m.%Y %H:%M")
    return f"{text} {ZONE_LABEL}" if zone else text


def format_date(day: date | None) -> str:
    """«01.11.2026» (or a dash)."""
    return day.strftime("%d.%m.%Y") if day is not None else "—"
