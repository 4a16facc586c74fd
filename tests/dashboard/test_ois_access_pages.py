"""«Доступ ОІС» as a director, a deputy, an institute admin and an anonymous visitor see it (AppTest):
the key's state without its secret, a grant through the form, a revocation request, the new key shown
once after the Institute applied the revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import GrantState, OisGrant, OrgLevel, OrgUnit, PersonRole, Process
from aikom.services import keys, ois_access
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PAGE = "views/ois_access.py"


@dataclass
class School:
    school_id: int
    director: int
    deputy: int
    institute_admin: int
    api_token: str
    api_public_id: str
    ois: int
    ois_name: str
    other_name: str
    suspended_name: str


def _school(world: DashboardWorld, name: str) -> School:
    with unit_of_work() as session:
        hromada = session.get_one(OrgUnit, world.persons["hromada-admin-1"].org_unit_id)
        school = f.org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, name=name)
        account = f.account(session, school)
        director = f.person(session, account, role=PersonRole.DIRECTOR, name="Коваль Олена Петрівна")
        deputy = f.person(session, account, role=PersonRole.DEPUTY, appointed_by=director)
        issued = keys.issue_account_keys(session=session, account=account, actor_label="test")
        ois = f.connected_ois(session, name=f"Нові знання ({name})")
        other = f.connected_ois(session, name=f"Мій клас ({name})")
        suspended = f.connected_ois(session, name=f"Призупинена ({name})", state="suspended")
        return School(
            school_id=school.id,
            director=director.id,
            deputy=deputy.id,
            institute_admin=world.persons["ioa-admin-1"].person_id,
            api_token=issued.api.token,
            api_public_id=issued.api.public_id,
            ois=ois.id,
            ois_name=ois.system_name,
            other_name=other.system_name,
            suspended_name=suspended.system_name,
        )


def test_a_director_grants_asks_to_revoke_and_sees_the_new_key_once(dashboard_world: DashboardWorld) -> None:
    school = _school(dashboard_world, "Ліцей № 12")
    at = _app(school.director, PAGE)
    assert at.title[0].value == "Доступ ОІС"
    text = _texts(at)
    assert f"{school.api_public_id[:8]}… — чинний" in text
    assert (
        school.api_token not in text and school.api_public_id not in text
    )  # never the secret, nor all the id
    assert "Заклад ще не надав доступу жодній ОІС." in text
    options = at.selectbox(key="ois_grant_ois").options
    assert any(school.ois_name in o for o in options) and not any(school.suspended_name in o for o in options)
    table = str(at.table[0].value)
    assert school.ois_name in table and school.suspended_name not in table  # CONNECTED only

    # The contract is required: refused naming it, nothing granted.
    at.selectbox(key="ois_grant_ois").set_value(school.ois)
    at.multiselect(key="ois_grant_data_sets").select("journal").select("pupils")
    at.button(key="ois_grant_submit").click().run()
    assert not at.exception
    assert "Номер договору: вкажіть номер договору" in _texts(at)
    with unit_of_work() as session:
        assert (
            session.scalars(select(OisGrant).where(OisGrant.school_org_unit_id == school.school_id)).all()
            == []
        )

    at.text_input(key="ois_grant_contract_number").input("ДГ-12/2026")
    at.date_input(key="ois_grant_contract_date").set_value(date(2026, 9, 1))
    at.button(key="ois_grant_submit").click().run()
    assert not at.exception
    text = _texts(at)
    assert "Доступ ОІС надано." in text
    assert f"{school.ois_name} — доступ №" in text and "чинний" in text
    with unit_of_work() as session:
        grant = session.scalars(select(OisGrant).where(OisGrant.school_org_unit_id == school.school_id)).one()
        assert grant.data_sets == ["pupils", "journal"] and grant.contract_number == "ДГ-12/2026"
        grant_id = grant.id
    # Granted once: that ОІС is no longer offered.
    assert not any(school.ois_name in o for o in at.selectbox(key="ois_grant_ois").options)

    # The revocation request: recorded, waiting for the Institute.
    at.text_input(key=f"revoke_reason{grant_id}").input("Договір розірвано")
    at.button(key=f"revoke{grant_id}").click().run()
    assert not at.exception
    assert "Відкликання доступу" in _texts(at) and "замовлено" in _texts(at)
    assert "чекає погодження технічним адміністратором ІОА" in _texts(at)
    with unit_of_work() as session:
        process = session.scalars(
            select(Process).where(
                Process.type == "ois-revocation", Process.subject_org_unit_id == school.school_id
            )
        ).one()
        # The Institute approved (its signed decision is the flow's; here the effect is applied directly).
        ois_access.apply_revocation(
            session=session, process_id=process.id, approver_id=school.institute_admin
        )

    at = _app(school.director, PAGE)
    text = _texts(at)
    assert "відкликаний" in text and "Договір розірвано" in text
    at.button(key="ois_reveal_key").click().run()
    assert not at.exception
    shown = at.code[0].value
    assert shown.startswith("aika_") and shown != school.api_token
    with unit_of_work() as session:
        assert keys.check_key(session=session, token=shown).valid
        assert session.get_one(OisGrant, grant_id).state == GrantState.REVOKED
    at.button(key="ois_key_saved").click().run()
    assert not at.code
    at = _app(school.director, PAGE)  # shown once: gone for good
    assert not at.code and not [b for b in at.button if b.key == "ois_reveal_key"]
    assert "— чинний" in _texts(at)


def test_a_deputy_and_an_institute_admin_are_refused(dashboard_world: DashboardWorld) -> None:
    school = _school(dashboard_world, "Гімназія № 14")
    for person_id in (school.deputy, school.institute_admin):
        at = _app(person_id, PAGE)
        text = _texts(at)
        assert "«Доступ ОІС» — для керівника закладу освіти" in text and "директору ЗО" in text
        assert [b.key for b in at.button] == ["signout"]
        assert school.ois_name not in text and not at.selectbox


def test_an_anonymous_visitor_is_asked_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(page=PAGE)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Доступ ОІС»" in _texts(at)


def test_a_director_asks_for_a_new_api_key_from_start_process(dashboard_world: DashboardWorld) -> None:
    school = _school(dashboard_world, "Ліцей № 15")
    at = _app(school.director, "views/start_process.py")
    at.selectbox(key="process_type").set_value("Надання доступу ОІС").run()
    assert "на сторінці «Доступ ОІС»" in _texts(at)
    at.selectbox(key="process_type").set_value("Перегенерація ключа API").run()
    at.button(key="kr_submit").click().run()  # no reason: refused, nothing recorded
    assert not at.exception and at.error and "Traceback" not in _texts(at)
    with unit_of_work() as session:
        asked = select(Process).where(
            Process.type == "key-regeneration", Process.subject_org_unit_id == school.school_id
        )
        assert session.scalars(asked).all() == []
    at.text_input(key="kr_reason").input("Ключ втрачено")
    at.button(key="kr_submit").click().run()
    assert not at.exception
    with unit_of_work() as session:
        process = session.scalars(asked).one()
        assert (
            process.requester_person_id == school.director and process.parameters["reason"] == "Ключ втрачено"
        )
