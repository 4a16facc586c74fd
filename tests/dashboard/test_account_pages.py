"""The pages of the accounts lifecycle as each role sees them: a deputy's and a unit's start forms, and
a new account's API key shown once."""

from __future__ import annotations

from sqlalchemy import select

from aikom.core.actor import Actor
from aikom.db import unit_of_work
from aikom.models import OrgUnit, Person, Process
from aikom.services.accounts import open_account
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts


def test_a_director_starts_a_deputy_from_the_page_and_every_bad_field_is_named(
    dashboard_world: DashboardWorld,
) -> None:
    director = dashboard_world.persons["director"]
    at = _app(director.person_id, "views/start_process.py")
    at.button[0].click().run()  # everything left empty
    text = _texts(at)
    for field in ("ПІБ", "РНОКПП", "Електронна пошта", "Посада"):
        assert f"{field}: обов'язкове поле" in text, field
    at.text_input(key="full_name").input("Гнатюк Олена Василівна")
    at.text_input(key="rnokpp").input("3456789014")
    at.text_input(key="email").input("hnatiuk@example.org")
    at.text_input(key="position").input("Заступник директора з НВР")
    at.button[0].click().run()
    assert not at.exception
    with unit_of_work() as session:
        process = session.scalars(
            select(Process).where(Process.type == "deputy").order_by(Process.id.desc()).limit(1)
        ).one()
        assert process.requester_person_id == director.person_id
        assert process.parameters["person"]["position"] == "Заступник директора з НВР"


def test_a_hromada_admin_sees_the_schools_it_manages_in_the_cascade_form(
    dashboard_world: DashboardWorld,
) -> None:
    admin = dashboard_world.persons["hromada-admin-1"]
    at = _app(admin.person_id, "views/start_process.py")
    at.selectbox(key="process_type").select("Створення облікового запису (каскад)").run()
    assert not at.exception
    assert any("Ліцей № 1 імені Лесі Українки" in option for option in at.selectbox(key="unit").options)


def test_the_api_key_is_shown_once_to_the_director_and_never_to_a_deputy(
    dashboard_world: DashboardWorld,
) -> None:
    director = dashboard_world.persons["director"]
    at = _app(director.person_id, "views/api_key.py")
    assert "Нового ключа API для показу немає" in _texts(at)

    with unit_of_work() as session:
        person = session.get_one(Person, director.person_id)
        unit = session.get_one(OrgUnit, person.org_unit_id)
        # The demo school's keys are regenerated as for a new account: its API key waits to be shown.
        from aikom.models import AccessKey, KeyState

        for key in session.scalars(select(AccessKey).where(AccessKey.account_id == person.account_id)):
            key.state = KeyState.DEACTIVATED
        session.flush()
        open_account(
            session=session,
            unit=unit,
            official_email="school@example.org",
            actor=Actor.system(),
            deadline=None,
            idempotency_key="dashboard-test-open",
        )

    deputy = _app(dashboard_world.persons["deputy"].person_id, "views/api_key.py")
    assert "керівнику закладу або адміністратору ОУО" in _texts(deputy)

    at = _app(director.person_id, "views/api_key.py")
    at.button(key="reveal_api_key").click().run()
    assert not at.exception
    assert at.code and at.code[0].value.startswith("aika_")
    assert "лише один раз" in _texts(at)
    again = _app(director.person_id, "views/api_key.py")
    assert "Нового ключа API для показу немає" in _texts(again)


def test_an_institute_admin_starts_a_rollout_from_the_page(dashboard_world: DashboardWorld) -> None:
    admin = dashboard_world.persons["ioa-admin-1"]
    at = _app(admin.person_id, "views/start_process.py")
    at.selectbox(key="process_type").select("Розгортання: відкриття облікових записів").run()
    assert "Заклади освіти" in at.selectbox(key="level").options
    assert at.selectbox(key="scope").options[0] == "Уся країна"
    at.button[0].click().run()
    assert not at.exception
    with unit_of_work() as session:
        process = session.scalars(
            select(Process).where(Process.type == "rollout").order_by(Process.id.desc()).limit(1)
        ).one()
        assert process.parameters["level"] == "school" and process.parameters["total"] >= 1
        assert process.requester_person_id == admin.person_id
    hromada = _app(dashboard_world.persons["hromada-admin-1"].person_id, "views/start_process.py")
    assert "Розгортання: відкриття облікових записів" not in hromada.selectbox(key="process_type").options
