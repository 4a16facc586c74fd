"""Official emails of ОУО units (КАТОТТГ has none): a CSV of КАТОТТГ code, name and official email.

The base key of an ОУО's account goes to that address (the order, item 4), so the file is checked row by
row: an unknown code, a name that does not match the unit, or an invalid address is refused with its
reason, and nothing is guessed. Re-importing the same file changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.validation import check_email
from aikom.imports.report import ImportReport
from aikom.imports.source import clean, normalize_name, read_csv, records_as_dicts
from aikom.models import OrgLevel, OrgUnit

OUO_LEVELS = (OrgLevel.OBLAST, OrgLevel.RAYON, OrgLevel.HROMADA)
CODE_COLUMNS = ("katottg", "КАТОТТГ", "код КАТОТТГ", "Код КАТОТТГ")
NAME_COLUMNS = ("name", "Назва", "назва")
EMAIL_COLUMNS = ("email", "official_email", "Електронна пошта", "Офіційна електронна пошта")


def _cell(row: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in row:
            return clean(row[name])
    return None


def import_ouo_contacts(*, session: Session, path: Path) -> ImportReport:
    """Set the official email of each ОУО unit the file names (by КАТОТТГ code)."""
    csv_file = read_csv(path)
    report = ImportReport(kind="ouo-contacts", file=str(path), rows=len(csv_file.records))
    units = {
        unit.katottg: unit
        for unit in session.scalars(
            select(OrgUnit).where(OrgUnit.level.in_(OUO_LEVELS), OrgUnit.katottg.is_not(None))
        )
    }
    for line, row in records_as_dicts(csv_file):
        code = (_cell(row, CODE_COLUMNS) or "").upper()
        name = _cell(row, NAME_COLUMNS)
        email = _cell(row, EMAIL_COLUMNS)
        unit = units.get(code)
        if unit is None:
            report.refuse(
                line,
                "unknown_katottg",
                f"КАТОТТГ: «{code}» — не область, район чи громада довідника",
                value=code,
            )
            continue
        given, known = normalize_name(name or ""), normalize_name(unit.name)
        if given and given not in known and known not in given:
            report.refuse(
                line,
                "name_mismatch",
                f"Назва: «{name}» не відповідає одиниці «{unit.name}» з кодом {code}",
                name=name,
            )
            continue
        try:
            address = check_email(email or "")
        except ValueError:
            report.refuse(
                line,
                "invalid_email",
                f"Електронна пошта: «{email or ''}» — потрібна адреса виду ім'я@домен.укр",
                name=unit.name,
                value=email,
            )
            continue
        if unit.official_email == address:
            report.unchanged += 1
            continue
        unit.official_email = address
        report.updated += 1
    session.flush()
    return report
