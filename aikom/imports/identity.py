"""Identity checks of a register row: the only reasons an import refuses a school."""

from __future__ import annotations

from dataclasses import dataclass

from stdnum.ua import edrpou as edrpou_rules

# Codes that pass the check digit but are obviously typed in to fill the column.
PLACEHOLDER_EDRPOU = frozenset({*(d * 8 for d in "0123456789"), "12345678", "87654321"})


class IdentityRefused(Exception):
    """The row cannot identify a school; carries the machine code and the Ukrainian reason."""

    def __init__(self, code: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.value = value


@dataclass(frozen=True, slots=True)
class CheckedEdrpou:
    """A valid ЄДРПОУ, and the warning to report when its leading zeros had to be restored."""

    code: str
    warning: str | None = None


def _digits(n: int) -> str:
    """«1 цифру», «3 цифри», «5 цифр»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} цифру"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} цифри"
    return f"{n} цифр"


def check_edrpou(raw: str | None, *, required: bool) -> CheckedEdrpou | None:
    """Validate an ЄДРПОУ cell; restore leading zeros lost by a spreadsheet when that gives a valid code."""
    value = (raw or "").strip()
    if value.lower() in ("", "null", "none", "! not applicable"):
        if required:
            raise IdentityRefused("missing_edrpou", "Немає коду ЄДРПОУ", value or None)
        return None
    if value.endswith(".0"):  # a number that went through a spreadsheet as a float
        value = value[:-2]
    if not value.isdigit():
        raise IdentityRefused("invalid_edrpou", f"Код ЄДРПОУ «{value}» має містити лише цифри", value)
    if len(value) > 8:
        raise IdentityRefused("invalid_edrpou", f"Код ЄДРПОУ «{value}» довший за 8 цифр", value)
    if len(value) < 8:
        restored = value.zfill(8)
        lost = f"Код ЄДРПОУ «{value}» має {_digits(len(value))} замість 8 — втрачено початкові нулі; "
        if restored in PLACEHOLDER_EDRPOU:
            raise IdentityRefused(
                "edrpou_lost_zeros", lost + f"відновлений код «{restored}» — заповнювач", value
            )
        if not edrpou_rules.is_valid(restored):
            raise IdentityRefused(
                "edrpou_lost_zeros",
                lost + f"відновлений код «{restored}» не проходить перевірку контрольної цифри",
            )
        return CheckedEdrpou(
            restored,
            f"Код ЄДРПОУ «{value}» втратив початкові нулі; відновлено «{restored}» "
            "(контрольна цифра правильна) — перевірте за ЄДР",
        )
    if value in PLACEHOLDER_EDRPOU:
        raise IdentityRefused(
            "placeholder_edrpou", f"Код ЄДРПОУ «{value}» — заповнювач, а не код юридичної особи"
        )
    if not edrpou_rules.is_valid(value):
        raise IdentityRefused(
            "bad_check_digit",
            f"Код ЄДРПОУ «{value}» має неправильну контрольну цифру "
            f"(очікувалась {edrpou_rules.calc_check_digit(value)})",
            value,
        )
    return CheckedEdrpou(value)


def check_edebo_id(raw: str | None, *, required: bool) -> str | None:
    """Validate a ЄДЕБО id cell (digits only)."""
    value = (raw or "").strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not value:
        if required:
            raise IdentityRefused("missing_edebo_id", "Немає коду в ЄДЕБО")
        return None
    if not value.isdigit() or len(value) > 20:
        raise IdentityRefused(
            "invalid_edebo_id", f"Код в ЄДЕБО «{value}» має містити лише цифри (до 20)", value
        )
    return value.lstrip("0") or "0"
