"""What the CLI's commands share: an oblast named by a code, a date as people type it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from aikom.core.errors import ValidationFailed
from aikom.models import OrgLevel, OrgUnit

DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def find_oblast(session: Session, code: str) -> OrgUnit:
    """The oblast a filter names (КАТОТТГ, ЄДРПОУ or number); refused when the unit is not an oblast."""
    from aikom.services.org import find_unit

    unit = find_unit(session=session, code=code)
    if unit.level != OrgLevel.OBLAST:
        raise ValidationFailed("oblast", f"Область: «{code}» — це не область, а «{unit.name}».")
    return unit


def parse_day(value: str, *, field: str, label: str) -> date:
    """A date typed as РРРР-ММ-ДД or ДД.ММ.РРРР; refused naming the field otherwise."""
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    raise ValidationFailed(
        field, f"{label}: «{value}» — потрібна дата у форматі РРРР-ММ-ДД (або ДД.ММ.РРРР)."
    )
