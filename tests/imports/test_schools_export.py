"""The ЄДЕБО export (no ЄДРПОУ column): statuses, hubs and branches, Kyiv, identity by ЄДЕБО id."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from aikom.imports.report import ImportReport
from aikom.models import OrgLevel, OrgStatus, OrgUnit
from tests.imports.helpers import (
    EXPORT,
    EXPORT_WITH_EDRPOU,
    KYIV,
    REGISTER,
    import_fixture_katottg,
    import_fixture_schools,
    unit_by,
)

HUB = "145907"


@pytest.fixture
def report(session: Session) -> ImportReport:
    import_fixture_katottg(session)
    return import_fixture_schools(session, EXPORT)


def test_the_export_format_is_detected_and_rows_are_identified_by_edebo_id(report: ImportReport) -> None:
    assert report.format == "export"
    refused = {r.line: r for r in report.refused_rows}
    assert {line: r.code for line, r in refused.items()} == {
        12: "duplicate_edebo_id",
        13: "missing_name",
        14: "invalid_edebo_id",
        15: "missing_edebo_id",
    }
    assert refused[12].reason.startswith("Код в ЄДЕБО 147787 уже є в рядку 11")
    assert refused[14].value == "14A599"
    assert report.created == 11


def test_branches_go_under_their_hub_named_by_edebo_id_or_by_name(
    session: Session, report: ImportReport
) -> None:
    hub = unit_by(session, edebo_id=HUB)
    assert hub.level == OrgLevel.SCHOOL and not hub.needs_placement

    for edebo_id in ("143891", "135909"):  # hub given as its ЄДЕБО id; hub given by its full name
        branch = unit_by(session, edebo_id=edebo_id)
        assert branch.level == OrgLevel.BRANCH and branch.parent_id == hub.id
        assert branch.managing_body_id == hub.managing_body_id and branch.oblast_id == hub.oblast_id
        assert not branch.needs_placement
    assert report.counts["branch"] == 2


def test_a_branch_without_a_known_hub_waits_for_an_admin(session: Session, report: ImportReport) -> None:
    listed = {p.line: p for p in report.needs_placement}
    # The record on line 5 spans two lines (a line break inside the address): the next one is line 7.
    assert set(listed) == {5, 7}
    no_hub = unit_by(session, edebo_id="146399")
    unknown_hub = unit_by(session, edebo_id="999002")
    for unit in (no_hub, unknown_hub):
        parent = session.get(OrgUnit, unit.parent_id)
        assert unit.level == OrgLevel.SCHOOL and unit.needs_placement
        assert parent is not None and parent.level == OrgLevel.HROMADA
    assert "головний заклад не вказано" in (no_hub.placement_note or "")
    assert "«Неіснуючий ліцей Іванівської селищної ради» не знайдено" in (unknown_hub.placement_note or "")
    assert no_hub.address == "вулиця Шкільна, 3"


def test_liquidated_reorganized_and_suspended_schools_are_recorded_as_such(
    session: Session, report: ImportReport
) -> None:
    assert unit_by(session, edebo_id="134779").status == OrgStatus.LIQUIDATED
    assert unit_by(session, edebo_id="148979").status == OrgStatus.REORGANIZED
    assert unit_by(session, edebo_id="135203").status == OrgStatus.SUSPENDED
    assert unit_by(session, edebo_id=HUB).status == OrgStatus.ACTIVE
    assert report.counts["status_liquidated"] == 1


def test_a_kyiv_school_goes_under_the_city_with_its_director(session: Session, report: ImportReport) -> None:
    school = unit_by(session, edebo_id="147787")
    kyiv = unit_by(session, katottg=KYIV)
    # «Управління освіти Солом`янської районної в місті Києві державної адміністрації»: the city's district.
    district = unit_by(session, katottg="UA80000000000980793")

    assert district.parent_id == kyiv.id
    assert school.parent_id == district.id and school.managing_body_id == district.id
    assert school.oblast_id == kyiv.id
    assert school.director_name and not school.director_name.lower().startswith("директор")
    assert school.short_name and school.school_type and school.official_email


def test_second_run_changes_nothing(session: Session, report: ImportReport) -> None:
    again = import_fixture_schools(session, EXPORT)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 11)


def test_a_school_already_imported_from_the_register_is_joined_not_duplicated(session: Session) -> None:
    import_fixture_katottg(session)
    import_fixture_schools(session, REGISTER)

    export = import_fixture_schools(session, EXPORT)

    school = unit_by(session, edrpou="26338802")
    assert school.edebo_id == "999001" and school.director_name == "Іваненко Марія Петрівна"
    assert (export.created, export.updated) == (10, 1)
    # The register after the export neither duplicates nor overwrites the live ЄДЕБО record.
    register_again = import_fixture_schools(session, REGISTER)
    assert (register_again.created, register_again.updated) == (0, 0)
    assert unit_by(session, edrpou="26338802").short_name == "Бердянська ЗОШ № 7"


def test_an_export_with_an_edrpou_column_checks_it_too(session: Session) -> None:
    import_fixture_katottg(session)

    report = import_fixture_schools(session, EXPORT_WITH_EDRPOU)

    refused = {r.line: r for r in report.refused_rows}
    assert {line: r.code for line, r in refused.items()} == {
        3: "bad_check_digit",
        5: "edrpou_lost_zeros",
        6: "duplicate_edrpou",
    }
    assert refused[3].value == "38110075" and "уже є в рядку 2" in refused[6].reason
    assert [(w.line, w.code) for w in report.warnings] == [(4, "edrpou_zeros_restored")]
    assert unit_by(session, edebo_id="999012").edrpou == "02143525"
    # A liquidated predecessor may share the ЄДРПОУ of the active school.
    assert unit_by(session, edebo_id="999015").edrpou == unit_by(session, edebo_id="146399").edrpou
