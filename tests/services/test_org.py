"""Org look-ups: find a unit by any of its codes, its parent chain, counts and subtree membership."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from aikom.core.errors import ValidationFailed
from aikom.models import OrgLevel, OrgStatus, OrgUnit
from aikom.services import org
from tests import factories as f
from tests.imports.helpers import (
    BERDIANSK_HROMADA,
    EXPORT,
    KYIV,
    REGISTER,
    ZAPORIZHZHIA,
    import_fixture_katottg,
    import_fixture_schools,
)


@pytest.fixture
def units(session: Session) -> dict[str, OrgUnit]:
    cascade = f.cascade(session)
    cascade["school"].edrpou = "26338802"
    cascade["hromada"].katottg = BERDIANSK_HROMADA
    cascade["school"].edebo_id = "143595"
    session.flush()
    return cascade


def test_find_by_edrpou_katottg_edebo_id_and_id(session: Session, units: dict[str, OrgUnit]) -> None:
    school, hromada = units["school"], units["hromada"]

    assert org.find_unit(session=session, code="26338802").id == school.id
    assert org.find_unit(session=session, code=BERDIANSK_HROMADA.lower()).id == hromada.id
    assert org.find_unit(session=session, code=str(hromada.id)).id == hromada.id
    assert org.find_unit(session=session, code="143595").id == school.id
    assert org.find_unit(session=session, code=f"id:{school.id}").id == school.id
    assert org.find_unit(session=session, code="edebo:143595").id == school.id


def test_an_active_school_wins_over_its_liquidated_predecessor(
    session: Session, units: dict[str, OrgUnit]
) -> None:
    old = f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=units["hromada"],
        edrpou="26338802",
        status=OrgStatus.LIQUIDATED,
    )
    found = org.find_unit(session=session, code="26338802")
    assert found.id == units["school"].id != old.id


def test_unknown_and_malformed_codes_are_refused_in_ukrainian(
    session: Session, units: dict[str, OrgUnit]
) -> None:
    with pytest.raises(org.OrgUnitNotFound, match="«99999997» не знайдено"):
        org.find_unit(session=session, code="99999997")
    with pytest.raises(org.OrgUnitNotFound):  # a leading zero: an ЄДРПОУ, never an id
        org.find_unit(session=session, code=f"{units['national'].id:08d}")
    with pytest.raises(ValidationFailed, match="UA і 17 цифр"):
        org.find_unit(session=session, code="UA123")
    with pytest.raises(ValidationFailed, match="не ЄДРПОУ"):
        org.find_unit(session=session, code="школа")


def test_parent_chain_runs_from_the_root_down(session: Session, units: dict[str, OrgUnit]) -> None:
    chain = org.parent_chain(session=session, unit_id=units["school"].id)

    assert [u.level for u in chain] == [OrgLevel.NATIONAL, OrgLevel.OBLAST, OrgLevel.RAYON, OrgLevel.HROMADA]
    assert org.parent_chain(session=session, unit_id=units["national"].id) == []


def test_is_within_the_unit_itself_and_its_ancestors_only(
    session: Session, units: dict[str, OrgUnit]
) -> None:
    school, rayon, oblast = units["school"], units["rayon"], units["oblast"]
    other_oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=units["national"])

    assert org.is_within(session, school.id, rayon.id)
    assert org.is_within(session=session, unit_id=school.id, ancestor_id=oblast.id)
    assert org.is_within(session, school.id, school.id)
    assert not org.is_within(session, rayon.id, school.id)
    assert not org.is_within(session, school.id, other_oblast.id)
    assert not org.is_within(session, 10**9, 10**9)


def test_child_counts_direct_and_whole_subtree(session: Session, units: dict[str, OrgUnit]) -> None:
    f.org_unit(session, level=OrgLevel.BRANCH, parent=units["school"])

    counts = org.child_counts(session=session, unit_id=units["oblast"].id)

    assert counts["children"] == {"rayon": 1}
    assert counts["subtree"] == {"rayon": 1, "hromada": 1, "school": 1, "branch": 1}


def test_describe_and_tree_counts_on_imported_registers(session: Session) -> None:
    before = org.tree_counts(session=session)
    import_fixture_katottg(session)
    import_fixture_schools(session, REGISTER)
    import_fixture_schools(session, EXPORT)

    card = org.describe_unit(session=session, code="26338802")
    assert [p.name for p in card.parents] == [
        "Україна",
        "Запорізька область",
        "Бердянський район",
        "Бердянська територіальна громада",
    ]
    assert card.parents[-1].katottg == BERDIANSK_HROMADA
    assert card.managing_body is not None and card.managing_body.katottg == BERDIANSK_HROMADA
    assert card.unit["edebo_id"] == "999001"

    tree = org.tree_counts(session=session)
    grown = {k: n - before["by_level"].get(k, 0) for k, n in tree["by_level"].items()}
    assert grown["oblast"] == 4 and grown["hromada"] == 39
    assert grown["school"] == 18 and grown["branch"] == 2
    assert tree["needs_placement"] - before["needs_placement"] == 5
    by_katottg = {o["katottg"]: o for o in tree["oblasts"]}
    assert by_katottg[KYIV]["counts"] == {"district": 7, "school": 3}
    assert by_katottg[ZAPORIZHZHIA]["needs_placement"] == 1
