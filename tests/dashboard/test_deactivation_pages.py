"""«Почати процес» for the account deactivation and the bulk deactivation of liquidated schools, as each
role sees it (Streamlit AppTest)."""

from __future__ import annotations

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import AccessKey, Account, KeyState, OrgLevel, OrgStatus, OrgUnit, Process
from aikom.services.keys import issue_account_keys
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

SINGLE = "Деактивація облікового запису"
BULK = "Деактивація облікових записів ліквідованих закладів"


def _processes(process_type: str) -> list[Process]:
    with unit_of_work() as session:
        return list(session.scalars(select(Process).where(Process.type == process_type)))


def _school(world: DashboardWorld, *, status: OrgStatus = OrgStatus.ACTIVE) -> tuple[int, str]:
    """A new school with an account and keys, in a hromada of its own beside the demo one (so that the
    demo hromada's lists stay as the other page tests expect)."""
    with unit_of_work() as session:
        demo = session.get_one(OrgUnit, world.school_id)
        rayon = session.get_one(OrgUnit, session.get_one(OrgUnit, demo.parent_id).parent_id)
        hromada = f.org_unit(session, level=OrgLevel.HROMADA, parent=rayon, oblast_id=demo.oblast_id)
        school = f.org_unit(
            session, level=OrgLevel.SCHOOL, parent=hromada, status=status, oblast_id=demo.oblast_id,
            managing_body_id=hromada.id, edrpou=f.edrpou(),
        )  # fmt: skip
        issue_account_keys(session=session, account=f.account(session, school), actor_label="test")
        assert school.edrpou is not None
        return school.id, school.edrpou


def test_an_institute_admin_is_told_what_is_missing_then_starts_a_deactivation(
    dashboard_world: DashboardWorld,
) -> None:
    school_id, edrpou = _school(dashboard_world)
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select(SINGLE).run()
    assert at.selectbox(key="deact_reason").options == [
        "Ліквідація",
        "Реорганізація",
        "Несанкціоноване втручання в роботу АІКОМ",
        "Кіберзагроза, кіберінцидент чи кібератака (або ризик їх настання)",
    ]
    at.text_input(key="deact_org").input(edrpou)
    at.button[0].click().run()  # no reason chosen
    assert "Причина деактивації: обов'язкове поле" in _texts(at)
    assert not _processes("account-deactivation")

    at.selectbox(key="deact_reason").select_index(1)  # reorganisation, no successor
    at.button[0].click().run()
    assert "Правонаступник: для реорганізації вкажіть ЄДРПОУ або номер" in _texts(at)
    assert not _processes("account-deactivation")

    at.selectbox(key="deact_reason").select_index(3)  # cyber incident
    at.text_area(key="deact_note").input("CERT-UA 2026/7")
    at.button[0].click().run()
    assert not at.exception
    (process,) = _processes("account-deactivation")
    assert process.subject_org_unit_id == school_id and process.parameters["reason"] == "cyber_incident"
    with unit_of_work() as session:
        account_id = session.scalars(select(Account.id).where(Account.org_unit_id == school_id)).one()
        states = set(session.scalars(select(AccessKey.state).where(AccessKey.account_id == account_id)))
    assert states == {KeyState.SUSPENDED}  # at once, with the engine not even reachable


def test_a_hromada_admin_picks_a_managed_school_and_only_the_ouo_reasons(
    dashboard_world: DashboardWorld,
) -> None:
    at = _app(dashboard_world.persons["hromada-admin-1"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select(SINGLE).run()
    assert any("Ліцей № 1 імені Лесі Українки" in o for o in at.selectbox(key="deact_unit").options)
    assert at.selectbox(key="deact_reason").options == ["Ліквідація", "Реорганізація"]
    assert BULK not in at.selectbox(key="process_type").options  # the bulk one is the institute's


def test_the_bulk_form_shows_how_many_liquidated_schools_are_open(dashboard_world: DashboardWorld) -> None:
    for _ in range(2):
        _school(dashboard_world, status=OrgStatus.LIQUIDATED)
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select(BULK).run()
    assert at.metric[0].value == "2"
    assert "Ліквідованих закладів з відкритим обліковим записом" in at.metric[0].label
    at.button(key="liquidated_start").click().run()
    assert not at.exception
    (process,) = _processes("liquidated-deactivation")
    assert len(process.parameters["unit_ids"]) == 2


def test_other_roles_do_not_see_the_deactivation_forms(dashboard_world: DashboardWorld) -> None:
    for key in ("director", "deputy", "manager", "support"):
        at = _app(dashboard_world.persons[key].person_id, "views/start_process.py")
        assert not at.exception
        assert not any(box.key == "deact_reason" for box in at.selectbox), key
        offered = [o for box in at.selectbox if box.key == "process_type" for o in box.options]
        assert not any("еактивац" in option for option in offered), key
