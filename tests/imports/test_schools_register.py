"""The ЄДЕБО register (with ЄДРПОУ): identity checks, placement under hromadas, idempotency."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.db import unit_of_work
from aikom.imports.errors import KatottgNotImported, UnknownRegisterFormat
from aikom.imports.report import ImportReport
from aikom.models import OrgLevel, OrgStatus, OrgUnit
from tests import factories as f
from tests.imports.helpers import (
    BERDIANSK_HROMADA,
    EXPORT,
    KYIV,
    ODESA,
    REGISTER,
    VASYLIVKA_RAYON,
    ZAPORIZHZHIA,
    import_fixture_katottg,
    import_fixture_schools,
    level_counts,
    throwaway_database,
    unit_by,
)


@pytest.fixture
def report(session: Session) -> ImportReport:
    import_fixture_katottg(session)
    return import_fixture_schools(session, REGISTER)


def test_refuses_only_rows_that_cannot_identify_a_school_with_line_and_reason(
    session: Session, report: ImportReport
) -> None:
    refused = {r.line: r for r in report.refused_rows}

    assert {line: r.code for line, r in refused.items()} == {
        12: "bad_check_digit",
        14: "edrpou_lost_zeros",
        15: "duplicate_edrpou",
        16: "duplicate_row",
        17: "missing_name",
        18: "missing_edrpou",
        19: "placeholder_edrpou",
    }
    assert "неправильну контрольну цифру" in refused[12].reason and refused[12].value == "22881440"
    assert "втрачено початкові нулі" in refused[14].reason and "«00822447»" in refused[14].reason
    assert "уже є в рядку 2" in refused[15].reason
    assert refused[16].reason == "Рядок повністю повторює рядок 3"
    assert refused[17].reason == "Немає назви закладу"
    assert report.rows == 17 and report.created == 10


def test_restored_leading_zeros_are_accepted_and_reported_as_a_warning(
    session: Session, report: ImportReport
) -> None:
    warnings = {(w.line, w.code) for w in report.warnings}

    assert (13, "edrpou_zeros_restored") in warnings
    school = unit_by(session, edrpou="02142879")
    assert school.level == OrgLevel.SCHOOL
    # The same row's e-mail had stray spaces: repaired, and said so.
    assert (13, "email_repaired") in warnings and school.official_email == "div.school@ukr.net"


def test_schools_go_under_their_hromada_with_managing_body_oblast_and_register_data(
    session: Session, report: ImportReport
) -> None:
    school = unit_by(session, edrpou="26338802")
    hromada = unit_by(session, katottg=BERDIANSK_HROMADA)
    oblast = unit_by(session, katottg=ZAPORIZHZHIA)

    assert school.parent_id == hromada.id and school.managing_body_id == hromada.id
    assert school.oblast_id == oblast.id and school.status == OrgStatus.ACTIVE
    assert not school.needs_placement and school.placement_note is None
    assert school.koatuu == "2310400000" and school.settlement == "Бердянськ"
    assert school.official_email == "brd-school7@ukr.net" and school.address == "вул. Херсонська, 1/90"
    assert school.director_name is None  # «! not applicable» in the register
    # Placed by settlement name, by the old rayon, and by the council named in the school's name.
    for edrpou in ("26251461", "26251053", "26291650", "26318024"):
        placed = unit_by(session, edrpou=edrpou)
        parent = session.get(OrgUnit, placed.parent_id)
        assert parent is not None and parent.level == OrgLevel.HROMADA, edrpou
        assert not placed.needs_placement


def test_a_kyiv_school_goes_under_the_city(session: Session, report: ImportReport) -> None:
    kyiv = unit_by(session, katottg=KYIV)
    school = unit_by(session, edrpou="22877005")

    # «Київ, Голосіївський район»: in the city's district; the register names no body, so the city manages.
    district = unit_by(session, katottg="UA80000000000126643")
    assert district.parent_id == kyiv.id and school.parent_id == district.id
    assert school.oblast_id == kyiv.id and school.managing_body_id == kyiv.id
    assert not school.needs_placement


def test_unplaceable_schools_go_to_the_lowest_certain_unit_flagged_and_listed(
    session: Session, report: ImportReport
) -> None:
    listed = {p.line: p for p in report.needs_placement}
    assert set(listed) == {9, 10, 20}

    in_rayon = unit_by(session, edrpou="26291733")
    assert in_rayon.needs_placement and in_rayon.parent_id == unit_by(session, katottg=VASYLIVKA_RAYON).id
    assert "«Переможне» є в 2 громадах" in (in_rayon.placement_note or "")
    assert listed[9].placed_under_level == "rayon"

    in_oblast = unit_by(session, edrpou="26363757")
    odesa = unit_by(session, katottg=ODESA)
    assert in_oblast.needs_placement and in_oblast.parent_id == odesa.id and in_oblast.oblast_id == odesa.id
    assert listed[10].placed_under == "Одеська область" and "розміщено в області" in listed[10].note

    nowhere = unit_by(session, edrpou="38110022")
    assert nowhere.needs_placement and listed[20].placed_under_level == "national"


def test_second_run_changes_nothing(session: Session, report: ImportReport) -> None:
    again = import_fixture_schools(session, REGISTER)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert [r.line for r in again.refused_rows] == [r.line for r in report.refused_rows]


def test_an_admins_placement_survives_a_reimport(session: Session, report: ImportReport) -> None:
    school = unit_by(session, edrpou="26291733")
    hromada = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.parent_id == school.parent_id, OrgUnit.level == OrgLevel.HROMADA)
        .limit(1)
    ).one()
    school.parent_id = school.managing_body_id = hromada.id
    school.needs_placement, school.placement_note = False, None
    session.flush()

    again = import_fixture_schools(session, REGISTER)

    assert again.updated == 0
    assert unit_by(session, edrpou="26291733").parent_id == hromada.id
    assert 9 not in {p.line for p in again.needs_placement}


def test_a_school_still_waiting_for_an_admin_is_settled_when_the_data_allow(
    session: Session, report: ImportReport
) -> None:
    school = unit_by(session, edrpou="26338802")
    hromada = session.get(OrgUnit, school.parent_id)
    assert hromada is not None
    rayon_id = hromada.parent_id
    school.parent_id = school.managing_body_id = rayon_id
    school.needs_placement, school.placement_note = True, "тимчасово"
    session.flush()

    again = import_fixture_schools(session, REGISTER)

    assert again.updated == 1
    settled = unit_by(session, edrpou="26338802")
    assert settled.parent_id == unit_by(session, katottg=BERDIANSK_HROMADA).id and not settled.needs_placement


def test_a_code_that_belongs_to_a_management_body_is_not_taken_for_a_school(session: Session) -> None:
    import_fixture_katottg(session)
    oblast = unit_by(session, katottg=ZAPORIZHZHIA)
    f.org_unit(session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id, edrpou="26338802")

    report = import_fixture_schools(session, REGISTER)

    refused = {r.line: r for r in report.refused_rows}
    assert refused[2].code == "edrpou_of_body" and "органу управління" in refused[2].reason
    assert report.created == 9


def test_the_database_refusing_one_row_of_a_batch_keeps_the_others(session: Session) -> None:
    import_fixture_katottg(session)
    oblast = unit_by(session, katottg=ZAPORIZHZHIA)
    # A non-school unit holding a school's ЄДЕБО id is invisible to the matcher: the unique index refuses.
    f.org_unit(
        session, level=OrgLevel.HROMADA, parent=oblast, oblast_id=oblast.id, name="Двійник", edebo_id="147787"
    )

    report = import_fixture_schools(session, EXPORT)

    refused = {r.line: r for r in report.refused_rows}
    assert refused[11].code == "db_rejected" and "код ЄДЕБО вже має інший заклад" in refused[11].reason
    assert report.created == 10  # the other eleven accepted rows less this one


def test_schools_cannot_be_imported_before_the_codifier(database_url: str) -> None:
    # A database of its own: the shared one may already hold a codifier another test imported.
    with (
        throwaway_database(database_url) as url,
        pytest.raises(KatottgNotImported, match="спочатку імпортуйте кодифікатор"),
        unit_of_work(url) as fresh,
    ):
        import_fixture_schools(fresh, REGISTER)


def test_an_unknown_header_is_refused(session: Session, tmp_path: Path) -> None:
    import_fixture_katottg(session)
    before = level_counts(session)
    other = tmp_path / "other.csv"
    other.write_text("name,code\nШкола,123\n", encoding="utf-8")

    with pytest.raises(UnknownRegisterFormat):
        import_fixture_schools(session, other)
    assert level_counts(session) == before
