"""The real national registers from the shared data folder, imported whole (skipped when absent)."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import ColumnElement, create_engine, func, select
from sqlalchemy.orm import Session

from aikom.imports import import_katottg, import_schools, register_paths
from aikom.models import OrgLevel, OrgUnit
from aikom.settings import Settings
from tests.imports.helpers import throwaway_database

pytestmark = pytest.mark.slow
PATHS = register_paths(Settings())
REFUSAL_CODES = {
    "bad_check_digit",
    "edrpou_lost_zeros",
    "placeholder_edrpou",
    "missing_edrpou",
    "invalid_edrpou",
    "duplicate_edrpou",
    "duplicate_row",
    "missing_name",
}


@pytest.mark.skipif(not all(p.is_file() for p in PATHS.values()), reason="the real registers are not here")
def test_the_whole_codifier_and_register_import_with_a_reason_for_every_refusal(database_url: str) -> None:
    with PATHS["codifier"].open(encoding="utf-8-sig", newline="") as f:
        hromadas_in_file = sum(1 for row in csv.reader(f, delimiter=";") if row[5:6] == ["H"])

    # A database of its own: other tests may have committed units to the shared one.
    with throwaway_database(database_url) as url:
        engine = create_engine(url)
        with Session(engine) as session:
            katottg = import_katottg(session=session, path=PATHS["codifier"])
            schools = import_schools(
                session=session,
                path=PATHS["register"],
                codifier_path=PATHS["codifier"],
                comparison_path=PATHS["comparison"],
            )

            def count(*conditions: ColumnElement[bool]) -> int:
                return session.execute(
                    select(func.count()).select_from(OrgUnit).where(*conditions)
                ).scalar_one()

            assert count(OrgUnit.level == OrgLevel.OBLAST, OrgUnit.katottg_category == "O") == 25
            assert count(OrgUnit.level == OrgLevel.OBLAST, OrgUnit.katottg_category == "K") == 2
            assert count(OrgUnit.level == OrgLevel.RAYON) == 136
            assert count(OrgUnit.level == OrgLevel.HROMADA) == hromadas_in_file == katottg.counts["H"]
            assert count(OrgUnit.level == OrgLevel.SCHOOL) >= 14_500
            # Every school lies in an oblast except those waiting for an admin, and all of those are listed.
            unplaced = count(OrgUnit.level == OrgLevel.SCHOOL, OrgUnit.oblast_id.is_(None))
            assert unplaced <= count(OrgUnit.needs_placement.is_(True)) == len(schools.needs_placement)
        engine.dispose()

    assert katottg.refused == 0
    assert schools.rows == 15_261 == schools.created + schools.refused
    assert all(r.reason and r.code and r.line >= 2 for r in schools.refused_rows)
    assert set(schools.refused_by_code()) <= REFUSAL_CODES
