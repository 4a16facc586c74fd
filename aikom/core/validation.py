"""Turn pydantic validation errors into Ukrainian messages that name the field and the rule."""

from __future__ import annotations

from pydantic import ValidationError

FIELD_NAMES_UK: dict[str, str] = {
    "full_name": "ПІБ",
    "rnokpp": "РНОКПП",
    "email": "Електронна пошта",
    "order_no": "Номер наказу",
    "order_date": "Дата наказу",
}

_RULES_UK: dict[str, str] = {
    "missing": "обов'язкове поле",
    "string_type": "потрібен текст",
    "date_type": "потрібна дата у форматі РРРР-ММ-ДД",
    "date_parsing": "потрібна дата у форматі РРРР-ММ-ДД",
    "date_from_datetime_parsing": "потрібна дата у форматі РРРР-ММ-ДД",
    "int_parsing": "потрібне ціле число",
    "json_invalid": "файл не є коректним JSON",
    "extra_forbidden": "невідоме поле",
}


def validation_message_uk(error: ValidationError) -> str:
    """One line per invalid field: «Поле: правило»."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item.get("loc", ())) or "дані"
        label = FIELD_NAMES_UK.get(field, field)
        rule = _RULES_UK.get(item.get("type", ""), "некоректне значення")
        parts.append(f"{label}: {rule}")
    return "; ".join(parts) + "."
