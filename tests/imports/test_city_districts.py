"""City districts (КАТОТТГ category B) as ОУО units, and the managing ОУО of a school from the register."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.imports import import_katottg, import_schools
from aikom.imports.report import ImportReport
from aikom.models import OrgLevel, OrgUnit
from tests.imports.helpers import FIXTURES, unit_by

DISTRICTS = FIXTURES / "districts"
CODIFIER = DISTRICTS / "katottg.csv"
COMPARISON = DISTRICTS / "koatuu-comparison.csv"
EXPORT = DISTRICTS / "export.csv"

KYIV = "UA80000000000093317"
PECHERSKYI = "UA80000000000624772"
OBOLONSKYI = "UA80000000000551439"
ODESA_OBLAST = "UA51000000000030770"
ODESA_HROMADA = "UA51100270000073549"
ODESA_KYIVSKYI = "UA51100270010196805"
ODESA_PRYMORSKYI = "UA51100270010320268"
BOLHRAD_RAYON = "UA51060000000057808"
BOLHRAD_HROMADA = "UA51060030000044366"
VYLKOVE_HROMADA = "UA51080010000087690"
ANANIIV_HROMADA = "UA51120010000025020"
KRYVYI_RIH_HROMADA = "UA12060170000091033"
KRYVYI_RIH_POKROVSKYI = "UA12060170010439451"


def _import_codifier(session: Session) -> ImportReport:
    return import_katottg(session=session, path=CODIFIER)


def _import_export(session: Session) -> ImportReport:
    return import_schools(session=session, path=EXPORT, codifier_path=CODIFIER, comparison_path=COMPARISON)


@pytest.fixture
def report(session: Session) -> ImportReport:
    _import_codifier(session)
    return _import_export(session)


def _school(session: Session, edebo_id: str) -> tuple[OrgUnit, str | None, str | None]:
    """The school, the КАТОТТГ of its parent and of its managing ОУО."""
    school = unit_by(session, edebo_id=edebo_id)
    parent = session.get(OrgUnit, school.parent_id)
    body = session.get(OrgUnit, school.managing_body_id)
    return school, parent.katottg if parent else None, body.katottg if body else None


def test_districts_are_imported_under_their_city(session: Session) -> None:
    report = _import_codifier(session)

    assert report.counts["B"] == 21
    districts = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.DISTRICT, OrgUnit.katottg.is_not(None))
    ).all()
    assert len({d.katottg for d in districts}) >= 21
    pecherskyi = unit_by(session, katottg=PECHERSKYI)
    kyiv = unit_by(session, katottg=KYIV)
    assert (pecherskyi.level, pecherskyi.parent_id, pecherskyi.oblast_id) == (
        OrgLevel.DISTRICT,
        kyiv.id,
        kyiv.id,
    )
    assert pecherskyi.name == "Печерський район м. Київ" and pecherskyi.short_name == "Печерський"
    pokrovskyi = unit_by(session, katottg=KRYVYI_RIH_POKROVSKYI)
    kryvyi_rih = unit_by(session, katottg=KRYVYI_RIH_HROMADA)
    assert pokrovskyi.parent_id == kryvyi_rih.id and pokrovskyi.managing_body_id == kryvyi_rih.id
    assert pokrovskyi.name == "Покровський район м. Кривий Ріг"
    assert pokrovskyi.lineage[-2:] == [kryvyi_rih.id, pokrovskyi.id]


def test_importing_the_codifier_again_changes_nothing(session: Session) -> None:
    first = _import_codifier(session)
    again = _import_codifier(session)
    assert first.created >= 21
    assert (again.created, again.updated, again.refused) == (0, 0, 0)


def test_the_managing_body_named_by_the_register_manages_the_school(
    session: Session, report: ImportReport
) -> None:
    # An oblast's department → the oblast; the school still lies in its city's district (КОАТУУ).
    assert _school(session, "900001")[1:] == (ODESA_PRYMORSKYI, ODESA_OBLAST)
    # A rayon's administration → the rayon (the school lies in its hromada).
    assert _school(session, "900002")[1:] == (BOLHRAD_HROMADA, BOLHRAD_RAYON)
    # A city council's department → the hromada.
    assert _school(session, "900003")[1:] == (VYLKOVE_HROMADA, VYLKOVE_HROMADA)
    # A district administration of Kyiv, and a district council of Kryvyi Rih → the district.
    assert _school(session, "900004")[1:] == (PECHERSKYI, PECHERSKYI)
    assert _school(session, "900005")[1:] == (KRYVYI_RIH_POKROVSKYI, KRYVYI_RIH_POKROVSKYI)
    # Kyiv's council manages; «Київ, Оболонський район» places the school in its district.
    assert _school(session, "900006")[1:] == (OBOLONSKYI, KYIV)
    # Odesa's council manages; the КОАТУУ of a district places the school in it.
    assert _school(session, "900007")[1:] == (ODESA_KYIVSKYI, ODESA_HROMADA)
    # A rayon abolished in 2020 matches no unit: the hromada manages the school.
    school, parent, body = _school(session, "900008")
    assert (parent, body) == (ANANIIV_HROMADA, ANANIIV_HROMADA)
    assert school.managing_body_name == "Відділ освіти Ананьївської районної державної адміністрації"
    assert not school.needs_placement


def test_the_report_counts_who_manages_and_who_lies_in_a_district(report: ImportReport) -> None:
    assert report.created == 8 and report.refused == 0
    counts = report.counts
    assert (
        counts["managed_by_oblast"],
        counts["managed_by_rayon"],
        counts["managed_by_hromada"],
        counts["managed_by_district"],
    ) == (1, 1, 4, 2)
    assert counts["placed_under_district"] == 5
    assert (counts["managing_body_matched"], counts["managing_body_unmatched"]) == (7, 1)
    assert "в управлінні району в місті — 2" in report.summary_uk()


def test_importing_the_schools_again_changes_nothing(session: Session, report: ImportReport) -> None:
    again = _import_export(session)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 8)
    assert again.counts["managed_by_district"] == 2
