"""Import of the КАТОТТГ codifier: the national root, oblasts (O) and the special-status cities (K),
rayons (P), hromadas (H) and the districts of cities (B, under their city's hromada, or under Kyiv and
Sevastopol). Settlements are not org units; the school import reads them from the same file to place
schools (see `aikom.imports.territory`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aikom.imports.errors import UnknownRegisterFormat
from aikom.imports.report import ImportReport, Progress, no_progress
from aikom.imports.source import read_csv
from aikom.imports.writer import ORG_UNIT, PendingWrite, allocate_ids, write_units
from aikom.models import OrgLevel, OrgStatus

KATOTTG_RE = re.compile(r"^UA\d{17}$")
NATIONAL_NAME = "Україна"

# Codifier categories: which ones are org units, and at which level.
CATEGORY_LEVEL = {
    "O": OrgLevel.OBLAST,
    "K": OrgLevel.OBLAST,
    "P": OrgLevel.RAYON,
    "H": OrgLevel.HROMADA,
    "B": OrgLevel.DISTRICT,
}
SETTLEMENT_CATEGORIES = frozenset({"C", "M", "X"})
KNOWN_CATEGORIES = frozenset({*CATEGORY_LEVEL, *SETTLEMENT_CATEGORIES, "B"})
# The file writes some categories in Cyrillic look-alikes (О, К, Р, Н, С, М, Х, В).
_CYRILLIC_CATEGORY = str.maketrans(
    {"О": "O", "К": "K", "Р": "P", "Н": "H", "С": "C", "М": "M", "Х": "X", "В": "B"}
)
HEADER_HINT = "Перший рівень; …; Категорія об’єкта; Назва об’єкта"


@dataclass(frozen=True, slots=True)
class CodifierEntry:
    """One object of the codifier with the codes of the levels above it."""

    line: int
    code: str
    category: str
    name: str
    oblast: str
    rayon: str | None
    hromada: str | None
    city: str | None = None  # the fourth level: a district's city (a settlement, or Kyiv/Sevastopol itself)


def normalize_category(value: str) -> str:
    """The Latin category letter (the files mix Latin and Cyrillic look-alikes)."""
    return value.strip().upper().translate(_CYRILLIC_CATEGORY)


def read_codifier(path: Path, report: ImportReport | None = None) -> list[CodifierEntry]:
    """Parse the codifier; rows that cannot be read are refused into `report` (when given)."""
    csv_file = read_csv(path)
    header = [h.lower() for h in csv_file.header]
    if len(header) < 7 or "катег" not in header[5] or "назва" not in header[6]:
        raise UnknownRegisterFormat(path, HEADER_HINT)
    entries: list[CodifierEntry] = []
    seen: dict[str, int] = {}

    def refuse(line: int, code: str, reason: str, value: str | None = None) -> None:
        if report is not None:
            report.refuse(line, code, reason, value=value)

    for line, record in csv_file.records:
        if len(record) < 7:
            refuse(line, "bad_row", f"У рядку {len(record)} стовпців замість 7")
            continue
        levels = [cell.strip() for cell in record[:5]]
        category = normalize_category(record[5])
        name = " ".join(record[6].split())
        code = next((c for c in reversed(levels) if c), "")
        if not KATOTTG_RE.match(code) or any(c and not KATOTTG_RE.match(c) for c in levels):
            refuse(line, "bad_katottg", "Код КАТОТТГ має бути у форматі UA і 17 цифр", value=code or None)
            continue
        if category not in KNOWN_CATEGORIES:
            refuse(line, "unknown_category", f"Невідома категорія об’єкта «{record[5].strip()}»", value=code)
            continue
        if not name:
            refuse(line, "missing_name", "Немає назви об’єкта", value=code)
            continue
        if code in seen:
            refuse(line, "duplicate_katottg", f"Код КАТОТТГ {code} уже є в рядку {seen[code]}", value=code)
            continue
        seen[code] = line
        entries.append(
            CodifierEntry(
                line=line,
                code=code,
                category=category,
                name=name,
                oblast=levels[0],
                rayon=levels[1] or None,
                hromada=levels[2] or None,
                city=levels[3] or None,
            )
        )
    return entries


def unit_name(entry: CodifierEntry, city: str | None = None) -> str:
    """The full name of an org unit made from its codifier entry (a district's: with its city's name)."""
    if entry.category == "B":
        return f"{entry.name} район м. {city}" if city else f"{entry.name} район"
    if entry.category == "O":
        return entry.name if "республіка" in entry.name.lower() else f"{entry.name} область"
    if entry.category == "K":
        return f"м. {entry.name}"
    if entry.category == "P":
        return f"{entry.name} район"
    return f"{entry.name} територіальна громада"


_COMPARED = (
    "level",
    "name",
    "short_name",
    "katottg_category",
    "status",
    "parent_id",
    "managing_body_id",
    "oblast_id",
)


def import_katottg(*, session: Session, path: Path, progress: Progress = no_progress) -> ImportReport:
    """Create or update the national root, oblasts, rayons and hromadas of the codifier (idempotent)."""
    report = ImportReport(kind="katottg", file=str(path))
    session.flush()
    entries = read_codifier(path, report)
    report.rows = len(entries) + len(report.refused_rows)
    by_category = Counter(e.category for e in entries)
    report.counts = {cat: by_category.get(cat, 0) for cat in ("O", "K", "P", "H", "M", "X", "C", "B")}
    progress("Кодифікатор прочитано", report.rows, report.rows)

    existing = _existing_units(session)
    national = existing.pop("", None)
    new_ids = iter(allocate_ids(session, 1 + sum(by_category[c] for c in CATEGORY_LEVEL)))
    ids: dict[str, int] = {}
    oblast_of: dict[str, int] = {}
    inserts: dict[OrgLevel, list[PendingWrite]] = {level: [] for level in OrgLevel}
    updates: list[PendingWrite] = []

    if national is None:
        national_id = next(new_ids)
        inserts[OrgLevel.NATIONAL].append(
            PendingWrite(
                0,
                NATIONAL_NAME,
                _values(national_id, OrgLevel.NATIONAL, NATIONAL_NAME, None, None, None, None, None),
            )
        )
    else:
        national_id = national["id"]
        report.unchanged += 1

    names = {e.code: e.name for e in entries}
    for category in ("O", "K", "P", "H", "B"):
        for entry in (e for e in entries if e.category == category):
            # A district's third level is its city's hromada (Kyiv and Sevastopol: the city itself).
            parent_code = {"O": None, "K": None, "P": entry.oblast, "H": entry.rayon, "B": entry.hromada}[
                category
            ]
            if parent_code is None:
                parent_id: int | None = national_id
            else:
                parent_id = ids.get(parent_code)
            if parent_id is None:
                report.refuse(
                    entry.line,
                    "parent_missing",
                    f"Вищої одиниці {parent_code} немає серед імпортованих рядків кодифікатора",
                    name=entry.name,
                    value=entry.code,
                )
                continue
            current = existing.get(entry.code)
            unit_id = current["id"] if current else next(new_ids)
            ids[entry.code] = unit_id
            oblast_id = unit_id if category in ("O", "K") else oblast_of[entry.oblast]
            if category in ("O", "K"):
                oblast_of[entry.code] = unit_id
            level = CATEGORY_LEVEL[category]
            name = unit_name(entry, names.get(entry.city or ""))
            values = _values(unit_id, level, name, entry.name, entry.code, category, parent_id, oblast_id)
            write = PendingWrite(entry.line, entry.name, values)
            if current is None:
                inserts[level].append(write)
            elif any(current[k] != values[k] for k in _COMPARED):
                updates.append(write)
            else:
                report.unchanged += 1

    for level, writes in inserts.items():
        written = write_units(
            session,
            writes=writes,
            mode="insert",
            report=report,
            progress=progress,
            stage=f"Запис: {level.value}",
        )
        report.created += len(written)
    written = write_units(
        session, writes=updates, mode="update", report=report, progress=progress, stage="Оновлення"
    )
    report.updated += len(written)
    report.counts["not_in_file"] = len(set(existing) - set(ids))
    session.expire_all()
    return report


def _values(
    unit_id: int,
    level: OrgLevel,
    name: str,
    short_name: str | None,
    katottg: str | None,
    category: str | None,
    parent_id: int | None,
    oblast_id: int | None,
) -> dict[str, Any]:
    return {
        "id": unit_id,
        "level": level,
        "name": name,
        "short_name": short_name,
        "katottg": katottg,
        "katottg_category": category,
        "status": OrgStatus.ACTIVE,
        "parent_id": parent_id,
        "managing_body_id": parent_id,
        "oblast_id": oblast_id,
        "needs_placement": False,
    }


def _existing_units(session: Session) -> dict[str, dict[str, Any]]:
    """Units the codifier owns, keyed by КАТОТТГ ("" for the national root)."""
    columns = [ORG_UNIT.c.id, *(ORG_UNIT.c[name] for name in (*_COMPARED, "katottg"))]
    rows = session.execute(
        select(*columns)
        .where(or_(ORG_UNIT.c.level == OrgLevel.NATIONAL, ORG_UNIT.c.katottg.is_not(None)))
        .where(ORG_UNIT.c.level.in_([OrgLevel.NATIONAL, *CATEGORY_LEVEL.values()]))
        .order_by(ORG_UNIT.c.id)
    ).mappings()
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = "" if row["level"] == OrgLevel.NATIONAL else row["katottg"]
        units.setdefault(key, dict(row))
    return units
