"""Ukrainian labels and formats shared by dashboard pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aikom.models import Decision

KYIV = ZoneInfo("Europe/Kyiv")

DECISION_LABELS_UK: dict[Decision, str] = {
    Decision.APPROVE: "Погодити",
    Decision.REJECT: "Відхилити",
    Decision.CONFIRM: "Підтвердити",
    Decision.DEACTIVATE: "Деактивувати",
}

TASK_STATE_LABELS_UK: dict[str, str] = {
    "open": "очікує рішення",
    "decided": "рішення ухвалено",
    "expired": "строк минув",
    "cancelled": "скасовано",
}


def format_time(value: datetime | None) -> str:
    """Kyiv local time, or a dash."""
    if value is None:
        return "—"
    return value.astimezone(KYIV).strftime("%d.%m.%Y %H:%M")
