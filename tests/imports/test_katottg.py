"""The КАТОТТГ import builds the national root, oblasts, special-status cities, rayons and hromadas."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from aikom.imports import import_katottg
from aikom.imports.errors import RegisterFileNotFound, UnknownRegisterFormat
from aikom.models import OrgLevel, OrgUnit
from tests.imports.helpers import (
    BERDIANSK_HROMADA,
    CODIFIER,
    KYIV,
    SEVASTOPOL,
    ZAPORIZHZHIA,
    added,
    import_fixture_katottg,
    level_counts,
    unit_by,
)


def _categories_in_file(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in list(csv.reader(f, delimiter=";"))[1:]:
            if row[0].startswith("UA") and len(row[0]) == 19:
                counts[row[5]] = counts.get(row[5], 0) + 1
    return counts


def test_creates_root_oblasts_cities_rayons_and_every_hromada_of_the_file(session: Session) -> None:
    before = level_counts(session)
    report = import_fixture_katottg(session)

    in_file = _categories_in_file(CODIFIER)
    assert report.counts["O"] == 2 and report.counts["K"] == 2
    new_root = {"national": 1} if before["national"] == 0 else {}
    # Settlements are not org units; the districts of Kyiv are.
    assert added(before, level_counts(session)) == {
        **new_root,
        "oblast": 4,
        "rayon": in_file["P"],
        "hromada": in_file["H"],
        "district": in_file["B"],
    }
    assert (in_file["P"], in_file["H"]) == (12, 39)
    assert in_file["B"] == 7
    assert report.created == len(new_root) + 4 + 12 + 39 + 7


def test_units_carry_parent_managing_body_oblast_and_readable_names(session: Session) -> None:
    import_fixture_katottg(session)
    oblast = unit_by(session, katottg=ZAPORIZHZHIA)
    national = session.get(OrgUnit, oblast.parent_id)
    assert national is not None and national.level == OrgLevel.NATIONAL
    hromada = unit_by(session, katottg=BERDIANSK_HROMADA)
    rayon = session.get(OrgUnit, hromada.parent_id)
    kyiv = unit_by(session, katottg=KYIV)

    assert national.name == "Україна" and national.parent_id is None
    assert oblast.name == "Запорізька область" and oblast.parent_id == national.id
    assert oblast.oblast_id == oblast.id and oblast.katottg_category == "O"
    assert rayon is not None and rayon.level == OrgLevel.RAYON and rayon.name == "Бердянський район"
    assert hromada.name == "Бердянська територіальна громада" and hromada.short_name == "Бердянська"
    assert hromada.managing_body_id == rayon.id and hromada.oblast_id == oblast.id
    assert kyiv.name == "м. Київ" and kyiv.level == OrgLevel.OBLAST and kyiv.katottg_category == "K"
    assert unit_by(session, katottg=SEVASTOPOL).parent_id == national.id


def test_refuses_unreadable_rows_with_line_and_reason_and_imports_the_rest(session: Session) -> None:
    report = import_fixture_katottg(session)

    refused = {r.line: (r.code, r.reason) for r in report.refused_rows}
    assert refused == {
        112: ("bad_katottg", "Код КАТОТТГ має бути у форматі UA і 17 цифр"),
        113: ("unknown_category", "Невідома категорія об’єкта «Z»"),
    }


def test_second_run_changes_nothing(session: Session) -> None:
    import_fixture_katottg(session)
    again = import_fixture_katottg(session)

    # 62 units of the codifier (7 of them Kyiv's districts) and the national root.
    assert (again.created, again.updated, again.unchanged) == (0, 0, 63)


def test_a_unit_renamed_in_the_database_is_restored_from_the_codifier(session: Session) -> None:
    import_fixture_katottg(session)
    hromada = unit_by(session, katottg=BERDIANSK_HROMADA)
    hromada.name = "Стара назва"
    session.flush()

    report = import_fixture_katottg(session)

    assert (report.created, report.updated) == (0, 1)
    assert unit_by(session, katottg=BERDIANSK_HROMADA).name == "Бердянська територіальна громада"


def test_a_file_that_is_not_the_codifier_is_refused_before_any_change(
    session: Session, tmp_path: Path
) -> None:
    before = level_counts(session)
    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(UnknownRegisterFormat, match="невідомий формат"):
        import_katottg(session=session, path=other)
    with pytest.raises(RegisterFileNotFound, match="не знайдено"):
        import_katottg(session=session, path=tmp_path / "missing.csv")
    assert added(before, level_counts(session)) == {}
