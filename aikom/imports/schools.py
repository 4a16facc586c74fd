"""Import of general secondary schools from the ЄДЕБО open data, in either of its two formats.

* `register` — the register with ЄДРПОУ (university_name, edrpou, koatuu_id, region_name_u, …);
  identity: ЄДРПОУ.
* `export` — the ЄДЕБО export (Повна назва, Код в ЄДЕБО, Статус, Код КОАТУУ, …, Головний заклад,
  Опорний / Філія); identity: the ЄДЕБО id (it usually has no ЄДРПОУ column; one is used when present).

Each school goes under its hromada (or the special-status city) — under the city's district where the
register names one — and is managed by the ОУО its «орган управління» names (see
`aikom.imports.managing_bodies`), else by its hromada; where no hromada can be found, under the lowest
certain unit with `needs_placement`. A row is refused only when it cannot identify a school.
Re-running changes nothing; an admin's later placement of a school is never undone by an import.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.imports.errors import KatottgNotImported, UnknownRegisterFormat
from aikom.imports.identity import IdentityRefused, check_edebo_id, check_edrpou
from aikom.imports.managing_bodies import ManagingBodyIndex
from aikom.imports.report import ImportReport, PlacementIssue, Progress, no_progress
from aikom.imports.source import CsvFile, clean, normalize_name, read_csv, records_as_dicts
from aikom.imports.territory import Placement, TerritoryIndex, normalize_koatuu
from aikom.imports.writer import ORG_UNIT, PendingWrite, allocate_ids, write_units
from aikom.models import OrgLevel, OrgStatus


class SchoolFormat(StrEnum):
    """The two ЄДЕБО file formats."""

    REGISTER = "register"
    EXPORT = "export"


STATUS_WORDS = {
    "працює": OrgStatus.ACTIVE,
    "діючий": OrgStatus.ACTIVE,
    "ліквідовано": OrgStatus.LIQUIDATED,
    "ліквідований": OrgStatus.LIQUIDATED,
    "реорганізовано": OrgStatus.REORGANIZED,
    "реорганізований": OrgStatus.REORGANIZED,
    "призупинено": OrgStatus.SUSPENDED,
    "призупинений": OrgStatus.SUSPENDED,
}
_EMAIL = re.compile(r"[^@\s,;<>()]+@[^@\s,;<>()]+\.[^@\s,;<>()]+")
_DIRECTOR_TITLE = re.compile(
    r"^(?:(?:т\.?\s*)?в\.?\s*о\.?\s*)?(?:директора|директор|завідувача|завідувач|начальника|начальник)\s+",
    re.IGNORECASE,
)
_FIELD_SIZES = {
    "name": 500,
    "short_name": 300,
    "settlement": 300,
    "address": 500,
    "official_email": 320,
    "director_name": 300,
    "school_type": 200,
    "managing_body_name": 500,
}
# Columns an import owns on a school; placement columns are handled separately (admins may move schools).
_DATA_FIELDS = (
    "name",
    "short_name",
    "status",
    "edrpou",
    "edebo_id",
    "koatuu",
    "settlement",
    "address",
    "official_email",
    "director_name",
    "school_type",
    "edebo_mark",
    "managing_body_name",
)
_PLACEMENT_FIELDS = (
    "level",
    "parent_id",
    "managing_body_id",
    "oblast_id",
    "needs_placement",
    "placement_note",
)
_SCHOOL_COLUMNS = ("id", *_DATA_FIELDS, *_PLACEMENT_FIELDS)
_EXPORT_EDRPOU_COLUMNS = ("Код ЄДРПОУ", "ЄДРПОУ", "Код за ЄДРПОУ", "edrpou")


@dataclass(slots=True)
class SchoolRow:
    """One school as the file describes it (identity already checked)."""

    line: int
    name: str
    edrpou: str | None = None
    edebo_id: str | None = None
    short_name: str | None = None
    status: OrgStatus | None = None
    koatuu: str | None = None
    region: str | None = None
    settlement: str | None = None
    address: str | None = None
    official_email: str | None = None
    director_name: str | None = None
    school_type: str | None = None
    is_branch: bool = False
    is_hub: bool = False
    hub_ref: str | None = None
    managing_body_name: str | None = None
    # Filled while importing.
    unit_id: int | None = None
    existing: dict[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)


def detect_format(header: list[str]) -> SchoolFormat | None:
    """Which ЄДЕБО format a header belongs to."""
    names = {h.strip().lower() for h in header}
    if {"university_name", "edrpou"} <= names:
        return SchoolFormat.REGISTER
    if {"повна назва", "код в єдебо"} <= names:
        return SchoolFormat.EXPORT
    return None


def import_schools(
    *,
    session: Session,
    path: Path,
    codifier_path: Path,
    comparison_path: Path,
    progress: Progress = no_progress,
) -> ImportReport:
    """Create or update the schools (and branches) of an ЄДЕБО file under their hromadas; idempotent."""
    session.flush()
    csv_file = read_csv(path)
    file_format = detect_format(csv_file.header)
    if file_format is None:
        raise UnknownRegisterFormat(path, "university_name, edrpou, … або Повна назва, Код в ЄДЕБО, …")
    report = ImportReport(
        kind="schools", file=str(path), format=file_format.value, rows=len(csv_file.records)
    )

    territory_units = _territory_units(session)
    if not any(u["level"] == OrgLevel.OBLAST for u in territory_units.values()):
        raise KatottgNotImported()
    rows = _read_rows(csv_file, file_format, report, progress)
    index = TerritoryIndex.load(codifier_path, comparison_path)
    progress("Кодифікатор прочитано", 1, 1)

    planner = _Planner(session, report, index, territory_units, file_format)
    planner.match_existing(rows)
    planner.place(rows, progress)
    planner.write(rows, progress)
    session.expire_all()
    return report


def _read_rows(
    csv_file: CsvFile, file_format: SchoolFormat, report: ImportReport, progress: Progress
) -> list[SchoolRow]:
    """Parse and identity-check every record; refused ones go to the report."""
    rows: list[SchoolRow] = []
    first_by_edrpou: dict[str, SchoolRow] = {}
    first_by_edebo: dict[str, SchoolRow] = {}
    first_by_content: dict[tuple[str, ...], int] = {}
    header_lower = {h.strip().lower(): h for h in csv_file.header}
    edrpou_column = next(
        (header_lower[c.lower()] for c in _EXPORT_EDRPOU_COLUMNS if c.lower() in header_lower), None
    )
    total = len(csv_file.records)
    for n, (line, cells) in enumerate(records_as_dicts(csv_file), start=1):
        if n % 2000 == 0 or n == total:
            progress("Перевірка рядків", n, total)
        content = tuple(v.strip() for v in cells.values())
        name = clean(
            cells.get("university_name") if file_format is SchoolFormat.REGISTER else cells.get("Повна назва")
        )
        warnings_before = len(report.warnings)
        try:
            if content in first_by_content:
                raise IdentityRefused(
                    "duplicate_row", f"Рядок повністю повторює рядок {first_by_content[content]}"
                )
            if not name:
                raise IdentityRefused("missing_name", "Немає назви закладу")
            if file_format is SchoolFormat.REGISTER:
                row = _register_row(line, name, cells, report)
            else:
                row = _export_row(line, name, cells, edrpou_column, report)
            if row.edebo_id and row.edebo_id in first_by_edebo:
                first = first_by_edebo[row.edebo_id]
                raise IdentityRefused(
                    "duplicate_edebo_id",
                    f"Код в ЄДЕБО {row.edebo_id} уже є в рядку {first.line} («{first.name}»)",
                    row.edebo_id,
                )
            if row.edrpou and row.status in (None, OrgStatus.ACTIVE) and row.edrpou in first_by_edrpou:
                first = first_by_edrpou[row.edrpou]
                raise IdentityRefused(
                    "duplicate_edrpou",
                    f"Код ЄДРПОУ {row.edrpou} уже є в рядку {first.line} («{first.name}»)",
                    row.edrpou,
                )
        except IdentityRefused as refused:
            del report.warnings[warnings_before:]  # a refused row warns about nothing else
            value = refused.value or _identity_value(cells, file_format)
            report.refuse(line, refused.code, refused.reason, name=name, value=value)
            first_by_content.setdefault(content, line)
            continue
        first_by_content[content] = line
        if row.edebo_id:
            first_by_edebo[row.edebo_id] = row
        if row.edrpou and row.status in (None, OrgStatus.ACTIVE):
            first_by_edrpou[row.edrpou] = row
        rows.append(row)
    return rows


def _identity_value(cells: dict[str, str], file_format: SchoolFormat) -> str | None:
    key = "edrpou" if file_format is SchoolFormat.REGISTER else "Код в ЄДЕБО"
    return (cells.get(key) or "").strip() or None


def _register_row(line: int, name: str, cells: dict[str, str], report: ImportReport) -> SchoolRow:
    checked = check_edrpou(cells.get("edrpou"), required=True)
    assert checked is not None
    if checked.warning:
        report.warn(line, "edrpou_zeros_restored", checked.warning)
    return SchoolRow(
        line=line,
        name=name,
        edrpou=checked.code,
        koatuu=clean(cells.get("koatuu_id_u")) or clean(cells.get("koatuu_id")),
        region=clean(cells.get("region_name_u")),
        settlement=clean(cells.get("koatuu_name_u")) or clean(cells.get("koatuu_name")),
        address=_address(clean(cells.get("university_address_u")) or clean(cells.get("university_address"))),
        official_email=_email(line, cells.get("university_email"), report),
        director_name=_director(cells.get("university_director_fio")),
        school_type=clean(cells.get("education_type_name")),
    )


def _export_row(
    line: int, name: str, cells: dict[str, str], edrpou_column: str | None, report: ImportReport
) -> SchoolRow:
    edebo_id = check_edebo_id(cells.get("Код в ЄДЕБО"), required=True)
    checked = check_edrpou(cells.get(edrpou_column), required=False) if edrpou_column else None
    if checked and checked.warning:
        report.warn(line, "edrpou_zeros_restored", checked.warning)
    status_word = (clean(cells.get("Статус")) or "").lower()
    status = STATUS_WORDS.get(status_word)
    if status is None:
        status = OrgStatus.ACTIVE
        if status_word:
            report.warn(
                line, "unknown_status", f"Невідомий статус «{status_word}»; заклад записано як діючий"
            )
    mark = (clean(cells.get("Опорний / Філія")) or "").lower()
    return SchoolRow(
        line=line,
        name=name,
        edebo_id=edebo_id,
        edrpou=checked.code if checked else None,
        short_name=clean(cells.get("Скорочена назва")),
        status=status,
        koatuu=clean(cells.get("Код КОАТУУ")),
        region=clean(cells.get("Регіон")),
        settlement=clean(cells.get("Населений пункт")),
        address=_address(clean(cells.get("Місцезнаходження (юридична адреса)"))),
        official_email=_email(line, cells.get("Електронна пошта"), report),
        director_name=_director(cells.get("Керівник")),
        school_type=clean(cells.get("Тип закладу")),
        is_branch=mark.startswith("філ"),
        is_hub=mark.startswith("опорн"),
        hub_ref=clean(cells.get("Головний заклад")),
        managing_body_name=clean(
            cells.get("Найменування органу, до сфери управління якого належить заклад освіти")
        ),
    )


def _address(value: str | None) -> str | None:
    value = (value or "").strip(" ,")
    return value or None


def _email(line: int, raw: str | None, report: ImportReport) -> str | None:
    """The first address of the cell; spaces typed around «@» and «.» are removed (and reported)."""
    value = clean(raw)
    if not value:
        return None
    joined = re.sub(r"\s*([@.])\s*", r"\1", value)
    for token in re.split(r"[;,\s]+", joined):
        if _EMAIL.fullmatch(token.strip(".")):
            if joined != value and token not in value:
                report.warn(line, "email_repaired", f"З електронної пошти «{value}» прибрано пропуски")
            return token.strip(".")
    report.warn(line, "invalid_email", f"Електронна пошта «{value}» не схожа на адресу; не записано")
    return None


def _director(raw: str | None) -> str | None:
    value = clean(raw)
    if not value or not re.search(r"\w", value):
        return None
    return _DIRECTOR_TITLE.sub("", value).strip() or None


def _truncate(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 1] + "…"


def _fit(values: dict[str, Any]) -> dict[str, Any]:
    for key, size in _FIELD_SIZES.items():
        value = values.get(key)
        if isinstance(value, str):
            values[key] = _truncate(value, size)
    return values


_TERRITORY_LEVELS = (OrgLevel.OBLAST, OrgLevel.RAYON, OrgLevel.HROMADA, OrgLevel.DISTRICT)


def _territory_units(session: Session) -> dict[str, dict[str, Any]]:
    """Oblasts, rayons, hromadas, city districts (by КАТОТТГ) and the national root (key "")."""
    rows = session.execute(
        select(
            ORG_UNIT.c.id,
            ORG_UNIT.c.level,
            ORG_UNIT.c.katottg,
            ORG_UNIT.c.katottg_category,
            ORG_UNIT.c.oblast_id,
            ORG_UNIT.c.name,
        )
        .where(ORG_UNIT.c.level.in_([OrgLevel.NATIONAL, *_TERRITORY_LEVELS]))
        .order_by(ORG_UNIT.c.id)
    ).mappings()
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["level"] == OrgLevel.NATIONAL:
            units.setdefault("", dict(row))
        elif row["katottg"]:
            units[row["katottg"]] = dict(row)
    return units


class _Planner:
    """Decides, for every accepted row, which unit it is and where it goes, then writes the changes."""

    def __init__(
        self,
        session: Session,
        report: ImportReport,
        index: TerritoryIndex,
        territory_units: dict[str, dict[str, Any]],
        file_format: SchoolFormat,
    ) -> None:
        self.session = session
        self.file_format = file_format
        self.report = report
        self.index = index
        self.bodies = ManagingBodyIndex(index)
        self.territory = territory_units
        self.national = territory_units.get("")
        self.units_by_id: dict[int, dict[str, Any]] = {u["id"]: u for u in territory_units.values()}
        self.placement_stats: Counter[str] = Counter()
        self.body_stats: Counter[str] = Counter()

    # -- matching ---------------------------------------------------------------------------------
    def match_existing(self, rows: list[SchoolRow]) -> None:
        """Find the unit each row already is: by ЄДЕБО id, by ЄДРПОУ, else by name and КОАТУУ."""
        existing = [
            dict(r)
            for r in self.session.execute(
                select(*(ORG_UNIT.c[c] for c in _SCHOOL_COLUMNS)).where(
                    ORG_UNIT.c.level.in_([OrgLevel.SCHOOL, OrgLevel.BRANCH])
                )
            ).mappings()
        ]
        by_edebo = {u["edebo_id"]: u for u in existing if u["edebo_id"]}
        by_edrpou: dict[str, dict[str, Any]] = {}
        for u in sorted(existing, key=lambda u: u["status"] == OrgStatus.ACTIVE):
            if u["edrpou"]:
                by_edrpou[u["edrpou"]] = u  # the active one wins
        by_name: dict[tuple[str, str | None], dict[str, Any]] = {}
        for u in existing:
            by_name.setdefault((normalize_name(u["name"]), u["koatuu"]), u)
        body_edrpou = {
            e: n
            for e, n in self.session.execute(
                select(ORG_UNIT.c.edrpou, ORG_UNIT.c.name).where(
                    ORG_UNIT.c.edrpou.is_not(None),
                    ORG_UNIT.c.level.not_in([OrgLevel.SCHOOL, OrgLevel.BRANCH]),
                )
            ).all()
        }
        self.parents_with_children = {
            p
            for (p,) in self.session.execute(
                select(ORG_UNIT.c.parent_id).where(ORG_UNIT.c.level == OrgLevel.BRANCH).distinct()
            ).all()
        }
        self.existing_by_edebo = by_edebo
        self.existing_by_plain_name = {n: u for (n, _k), u in by_name.items()}
        taken: set[int] = set()
        kept: list[SchoolRow] = []
        for row in rows:
            if row.edrpou and row.edrpou in body_edrpou:
                self.report.refuse(
                    row.line,
                    "edrpou_of_body",
                    f"Код ЄДРПОУ {row.edrpou} належить органу управління «{body_edrpou[row.edrpou]}», "
                    "а не закладу",
                    name=row.name,
                    value=row.edrpou,
                )
                continue
            koatuu = normalize_koatuu(row.koatuu)
            match = (by_edebo.get(row.edebo_id) if row.edebo_id else None) or (
                by_edrpou.get(row.edrpou) if row.edrpou else None
            )
            if match is None:
                candidate = by_name.get((normalize_name(row.name), koatuu))
                # A name match only joins a unit that lacks the identity this row brings.
                if (
                    candidate
                    and not (row.edebo_id and candidate["edebo_id"])
                    and not (row.edrpou and candidate["edrpou"])
                ):
                    match = candidate
            if match is not None and match["id"] not in taken:
                taken.add(match["id"])
                row.existing = match
                row.unit_id = match["id"]
            kept.append(row)
        rows[:] = kept

    # -- placement --------------------------------------------------------------------------------
    def place(self, rows: list[SchoolRow], progress: Progress) -> None:
        """Decide parent, managing body and oblast of every row; branches go under their hubs."""
        new_rows = [r for r in rows if r.unit_id is None]
        for row, unit_id in zip(new_rows, allocate_ids(self.session, len(new_rows)), strict=True):
            row.unit_id = unit_id
        in_file_by_edebo = {r.edebo_id: r for r in rows if r.edebo_id}
        in_file_by_name: dict[str, SchoolRow] = {}
        for r in rows:
            in_file_by_name.setdefault(normalize_name(r.name), r)

        total = len(rows)
        for n, row in enumerate(rows, start=1):
            placement = self.index.resolve(
                koatuu=row.koatuu, region=row.region, settlement=row.settlement, school_name=row.name
            )
            row.values = self._school_values(row, placement)
            if n % 2000 == 0 or n == total:
                progress("Розміщення закладів", n, total)

        # Hubs first take their final values (an admin's placement kept), then branches follow them.
        for row in rows:
            if not row.is_branch:
                self._merge_with_existing(row)
        for row in rows:
            if row.is_branch:
                self._place_branch(row, in_file_by_edebo, in_file_by_name)
                self._merge_with_existing(row)
        for row in rows:
            if row.existing is None and row.values["status"] is None:
                row.values["status"] = OrgStatus.ACTIVE

    def _school_values(self, row: SchoolRow, placement: Placement) -> dict[str, Any]:
        unit, note = self._territory_unit(placement)
        self.placement_stats[placement.method if unit is not None else "none"] += 1
        if unit is None:
            unit = self.national
        assert unit is not None, "the КАТОТТГ import creates the national root"
        oblast_id = unit["oblast_id"] if unit["level"] != OrgLevel.NATIONAL else None
        parent, managing = self._district_and_body(row, placement, unit, note)
        return _fit(
            {
                "id": row.unit_id,
                "name": row.name,
                "short_name": row.short_name,
                "status": row.status,
                "edrpou": row.edrpou,
                "edebo_id": row.edebo_id,
                "koatuu": normalize_koatuu(row.koatuu),
                "settlement": row.settlement,
                "address": row.address,
                "official_email": row.official_email,
                "director_name": row.director_name,
                "school_type": row.school_type,
                "edebo_mark": "branch" if row.is_branch else "hub" if row.is_hub else None,
                "managing_body_name": row.managing_body_name,
                "level": OrgLevel.SCHOOL,
                "parent_id": parent["id"],
                "managing_body_id": managing["id"],
                "oblast_id": oblast_id,
                "needs_placement": note is not None,
                "placement_note": note,
            }
        )

    def _district_and_body(
        self, row: SchoolRow, placement: Placement, unit: dict[str, Any], note: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The school's parent (its city's district where the register names one) and managing ОУО
        (the unit its «орган управління» names, else the unit it is placed under, never its district)."""
        if placement.code is None:
            return unit, unit
        # Only a school placed exactly where the codifier says (no walking up) lies in a known city.
        city = placement.code if placement.definite and unit.get("katottg") == placement.code else None
        body = self.bodies.match_body(
            row.managing_body_name, oblast=self.index.oblast_of(placement.code), city=city
        )
        body_unit = self.territory.get(body.code) if body is not None else None
        managing = body_unit if body_unit is not None else unit
        if body_unit is not None:
            self.body_stats["managing_body_matched"] += 1
        elif row.managing_body_name:
            self.body_stats["managing_body_unmatched"] += 1
        district = self.bodies.district_of(city=city, body=body, settlement=row.settlement, koatuu=row.koatuu)
        district_unit = self.territory.get(district) if district and note is None else None
        return (district_unit or unit), managing

    def _territory_unit(self, placement: Placement) -> tuple[dict[str, Any] | None, str | None]:
        """The database unit for a placement, walking up (rayon, oblast) when the codifier unit is missing."""
        if placement.code is None:
            return None, placement.note
        entry = self.index.entries.get(placement.code)
        chain = [placement.code]
        if entry is not None:
            chain += [c for c in (entry.rayon, entry.oblast) if c and c not in chain]
        for position, code in enumerate(chain):
            unit = self.territory.get(code)
            if unit is None:
                continue
            if position == 0:
                return unit, placement.note
            missing = f"одиниці КАТОТТГ {placement.code} немає в базі (імпортуйте актуальний кодифікатор)"
            return (
                unit,
                f"{placement.note}; {missing}" if placement.note else f"Громаду визначено, але {missing}",
            )
        return None, placement.note or f"Одиниці КАТОТТГ {placement.code} та вищих немає в базі"

    def _place_branch(
        self,
        row: SchoolRow,
        in_file_by_edebo: dict[str, SchoolRow],
        in_file_by_name: dict[str, SchoolRow],
    ) -> None:
        hub_values: dict[str, Any] | None = None
        if row.hub_ref:
            ref = row.hub_ref.strip()
            digits = ref if ref.isdigit() else None
            hub_row = (in_file_by_edebo.get(digits.lstrip("0")) if digits else None) or in_file_by_name.get(
                normalize_name(ref)
            )
            if hub_row is not None and hub_row is not row:
                hub_values = hub_row.values
            else:
                hub_unit = (self.existing_by_edebo.get(digits.lstrip("0")) if digits else None) or (
                    self.existing_by_plain_name.get(normalize_name(ref))
                )
                if hub_unit is not None and hub_unit["id"] != row.unit_id:
                    hub_values = hub_unit
            if hub_values is None:
                note = f"Головний заклад «{ref}» не знайдено; філію тимчасово розміщено як заклад"
            elif hub_values["level"] != OrgLevel.SCHOOL:
                note = f"Головний заклад «{ref}» сам є філією; філію тимчасово розміщено як заклад"
                hub_values = None
        else:
            note = "Позначено як філію, але головний заклад не вказано; прив’яжіть філію до опорного закладу"
        if hub_values is None:
            previous = row.values["placement_note"]
            row.values["needs_placement"] = True
            row.values["placement_note"] = _truncate(f"{note}. {previous}" if previous else note, 500)
            self.placement_stats["branch_without_hub"] += 1
            return
        row.values.update(
            level=OrgLevel.BRANCH,
            parent_id=hub_values["id"],
            managing_body_id=hub_values["managing_body_id"],
            oblast_id=hub_values["oblast_id"],
            needs_placement=False,
            placement_note=None,
        )
        self.placement_stats["hub"] += 1

    def _merge_with_existing(self, row: SchoolRow) -> None:
        """Keep what an existing unit has where the file says nothing, and keep an admin's placement."""
        current = row.existing
        if current is None:
            return
        merged = dict(current)
        # The export is the live ЄДЕБО record (status, hub); the register only fills what it lacks.
        fill_only = self.file_format is SchoolFormat.REGISTER and current["edebo_id"] is not None
        for key in _DATA_FIELDS:
            value = row.values[key]
            if value is not None and not (fill_only and merged[key] is not None):
                merged[key] = value
        desired = row.values
        becomes_branch = (
            desired["level"] == OrgLevel.BRANCH
            and current["parent_id"] != desired["parent_id"]
            and current["id"] not in self.parents_with_children
        )
        settles = current["needs_placement"] and not desired["needs_placement"]
        if becomes_branch or settles:
            for key in _PLACEMENT_FIELDS:
                merged[key] = desired[key]
        row.values = merged

    # -- writing ----------------------------------------------------------------------------------
    def write(self, rows: list[SchoolRow], progress: Progress) -> None:
        """Insert new schools, then new branches, then updates; count what happened."""
        schools: list[PendingWrite] = []
        branches: list[PendingWrite] = []
        updates: list[PendingWrite] = []
        for row in rows:
            write = PendingWrite(row.line, row.name, {c: row.values[c] for c in _SCHOOL_COLUMNS})
            if row.existing is None:
                (branches if row.values["level"] == OrgLevel.BRANCH else schools).append(write)
            elif any(row.existing[c] != row.values[c] for c in _SCHOOL_COLUMNS):
                updates.append(write)
            else:
                self.report.unchanged += 1
        pending = {w.values["id"] for w in (*schools, *branches, *updates)}
        written: set[int] = set()
        for stage, writes, mode in (
            ("Запис закладів", schools, "insert"),
            ("Запис філій", branches, "insert"),
            ("Оновлення", updates, "update"),
        ):
            done = write_units(
                self.session, writes=writes, mode=mode, report=self.report, progress=progress, stage=stage
            )
            written |= done
            if mode == "insert":
                self.report.created += len(done)
            else:
                self.report.updated += len(done)

        unit_names = {u["id"]: (u["name"], u["level"]) for u in self.units_by_id.values()}
        unit_names.update({r.unit_id: (r.name, r.values["level"]) for r in rows if r.unit_id is not None})
        counts: Counter[str] = Counter()
        for row in rows:
            if row.unit_id in pending and row.unit_id not in written:
                continue  # refused by the database, reported by the writer
            values = row.values
            counts[str(values["level"])] += 1
            counts[f"status_{values['status']}"] += 1
            counts[f"managed_by_{self._body_kind(values['managing_body_id'])}"] += 1
            if self._level_of(values["parent_id"]) == OrgLevel.DISTRICT:
                counts["placed_under_district"] += 1
            if values["needs_placement"]:
                parent_name, parent_level = unit_names.get(values["parent_id"], (None, None))
                self.report.needs_placement.append(
                    PlacementIssue(
                        line=row.line,
                        unit_id=row.unit_id,
                        name=row.name,
                        edrpou=row.edrpou,
                        edebo_id=row.edebo_id,
                        placed_under_id=values["parent_id"],
                        placed_under=parent_name,
                        placed_under_level=str(parent_level) if parent_level else None,
                        note=values["placement_note"] or "",
                    )
                )
        counts.update(self.body_stats)
        self.report.counts = dict(counts)
        self.report.placement = dict(self.placement_stats.most_common())

    def _level_of(self, unit_id: int | None) -> OrgLevel | None:
        unit = self.units_by_id.get(unit_id) if unit_id is not None else None
        return unit["level"] if unit is not None else None

    def _body_kind(self, unit_id: int | None) -> str:
        """The kind of ОУО managing a school: a special-status city counts as a city (its hromada)."""
        unit = self.units_by_id.get(unit_id) if unit_id is not None else None
        if unit is None:
            return "other"
        if unit["level"] == OrgLevel.OBLAST and unit["katottg_category"] == "K":
            return "hromada"
        return str(unit["level"])
