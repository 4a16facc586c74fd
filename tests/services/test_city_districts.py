"""A city district in the cascade: its city's hromada admin opens its account, its admin runs its schools."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import NotInScope
from aikom.models import OrgLevel, OrgUnit, Person, PersonRole, Process
from aikom.processes.cascade_provisioning import CascadeProvisioningParams
from aikom.processes.director_replacement import DirectorReplacementParams
from aikom.processes.rollout import RolloutParams
from aikom.services import directors, directory, provisioning, rollout
from tests import factories


def _actor(person: Person) -> Actor:
    return Actor(person_id=person.id, label=person.full_name)


def _world(session: Session) -> dict[str, OrgUnit | Person]:
    units = factories.cascade(session, with_edrpou=True)
    hromada = units["hromada"]
    district = factories.org_unit(
        session,
        level=OrgLevel.DISTRICT,
        parent=hromada,
        name="Печерський район м. Київ",
        oblast_id=hromada.oblast_id,
        managing_body_id=hromada.id,
        edrpou=factories.edrpou(),
        official_email="pechersk@example.org",
    )
    school = factories.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=district,
        oblast_id=hromada.oblast_id,
        managing_body_id=district.id,
        edrpou=factories.edrpou(),
        official_email="school57@example.org",
    )

    def admin(unit: OrgUnit, role: PersonRole) -> Person:
        return factories.person(
            session, factories.account(session, unit), role=role, rnokpp=factories.rnokpp()
        )

    return {
        **units,
        "district": district,
        "district_school": school,
        "rayon_admin": admin(units["rayon"], PersonRole.RAYON_ADMIN),
        "hromada_admin": admin(hromada, PersonRole.HROMADA_ADMIN),
        "district_admin": admin(district, PersonRole.HROMADA_ADMIN),
    }


def _provision(session: Session, admin: Person, unit: OrgUnit) -> Process:
    params = CascadeProvisioningParams.model_validate(
        {
            "unit": f"id:{unit.id}",
            "person": {
                "full_name": "Бондар Марія Олексіївна",
                "rnokpp": factories.rnokpp(),
                "email": "bondar@example.org",
                "position": "Начальник управління освіти",
            },
        }
    )
    return provisioning.start_provisioning(session=session, actor=_actor(admin), params=params)


def test_the_citys_hromada_admin_opens_the_districts_account(session: Session) -> None:
    w = _world(session)
    process = _provision(session, w["hromada_admin"], w["district"])  # type: ignore[arg-type]
    # A district's body is run by admins with the hromada admin's role.
    assert process.parameters["role"] == "hromada_admin"
    assert process.subject_org_unit_id == w["district"].id


def test_the_rayon_admin_is_two_levels_above_a_district(session: Session) -> None:
    w = _world(session)
    with pytest.raises(provisioning.NotOneLevelDown) as refused:
        _provision(session, w["rayon_admin"], w["district"])  # type: ignore[arg-type]
    assert "району міста відкриває адміністратор безпосередньо вищого рівня" in refused.value.message_uk


def test_the_district_admin_opens_the_director_of_a_school_it_manages(session: Session) -> None:
    w = _world(session)
    process = _provision(session, w["district_admin"], w["district_school"])  # type: ignore[arg-type]
    assert process.parameters["role"] == "director"
    listed = provisioning.provisionable_units(session=session, person_id=w["district_admin"].id)
    assert [u.id for u in listed] == [w["district_school"].id]
    # The city's hromada admin does not manage that school: its district does.
    with pytest.raises(NotInScope):
        _provision(session, w["hromada_admin"], w["district_school"])  # type: ignore[arg-type]


def test_the_district_admin_replaces_a_director_and_the_city_approves_when_alone(session: Session) -> None:
    w = _world(session)
    school = w["district_school"]
    assert isinstance(school, OrgUnit)
    factories.person(
        session, factories.account(session, school), role=PersonRole.DIRECTOR, rnokpp=factories.rnokpp()
    )
    params = DirectorReplacementParams.model_validate(
        {
            "school": school.edrpou,
            "new_director": {
                "full_name": "Нова Директорка Оксана",
                "rnokpp": factories.rnokpp(),
                "email": "new@example.org",
                "order_no": "15-к",
                "order_date": date(2026, 11, 1),
            },
        }
    )
    with pytest.raises(NotInScope):
        directors.start_replacement(session=session, actor=_actor(w["hromada_admin"]), params=params)  # type: ignore[arg-type]
    process = directors.start_replacement(session=session, actor=_actor(w["district_admin"]), params=params)  # type: ignore[arg-type]
    # With no other admin of the district, the city's hromada admins approve.
    assert directors.approver_scope(session, process) == (PersonRole.HROMADA_ADMIN, w["hromada"].id)


def test_a_national_rollout_can_open_the_districts_of_a_city(session: Session) -> None:
    w = _world(session)
    institute = factories.person(
        session,
        factories.account(session, w["national"]),
        role=PersonRole.INSTITUTE_ADMIN,  # type: ignore[arg-type]
    )
    hromada = w["hromada"]
    assert isinstance(hromada, OrgUnit)
    process = rollout.start_rollout(
        session=session,
        actor=_actor(institute),
        params=RolloutParams(level="district", scope=f"id:{hromada.id}"),
    )
    assert process.parameters["total"] == 1
    assert process.title.endswith(f"райони міст, {hromada.name}")


def test_a_school_waiting_for_placement_can_be_placed_under_a_district_it_is_run_by(session: Session) -> None:
    w = _world(session)
    rayon, district = w["rayon"], w["district"]
    assert isinstance(rayon, OrgUnit) and isinstance(district, OrgUnit)
    waiting = factories.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=rayon,
        oblast_id=rayon.oblast_id,
        managing_body_id=rayon.id,
        needs_placement=True,
        managing_body_name="Відділ освіти виконкому Печерської районної в місті ради",
    )
    institute = factories.person(
        session,
        factories.account(session, w["national"]),  # type: ignore[arg-type]
        role=PersonRole.INSTITUTE_ADMIN,
    )
    targets = directory.placement_targets(
        session=session, actor=institute, unit_id=waiting.id, query="Печерський"
    )
    assert district.id in {t.id for t in targets}

    directory.move_unit(session=session, actor=institute, unit_id=waiting.id, new_parent_id=district.id)

    session.refresh(waiting)
    # Its register body is the district's («…районної в місті ради»), not the rayon's.
    assert (waiting.parent_id, waiting.managing_body_id, waiting.needs_placement) == (
        district.id,
        district.id,
        False,
    )
