"""«Довідник» as each person sees it (Streamlit AppTest): sign-in first, searching and opening a card,
placing a school that waits for its hromada, a director's view of their own school only."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from aikom.db import unit_of_work
from aikom.models import Account, AuditEntry, OrgLevel, OrgUnit, Person, PersonRole, PersonState
from aikom.services.persons import read_rnokpp
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PAGE = "views/directory.py"
SCHOOL_EDRPOU = "20077720"  # the dashboard world's school
SCHOOL_NAME = "Ліцей № 1 імені Лесі Українки"


def _cells(at: AppTest) -> str:
    return "\n".join(str(v) for e in at.dataframe for v in e.value.astype(str).to_numpy().ravel())


def _everything(at: AppTest) -> str:
    return _texts(at) + "\n" + _cells(at)


def test_an_anonymous_visitor_is_asked_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(page=PAGE)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Довідник»" in _texts(at)
    assert not at.dataframe


def test_an_ois_operator_is_refused(dashboard_world: DashboardWorld) -> None:
    with unit_of_work() as session:
        hromada = session.get_one(OrgUnit, dashboard_world.persons["hromada-admin-1"].org_unit_id)
        company = f.org_unit(
            session, level=OrgLevel.SCHOOL, parent=hromada, name="ТОВ «Журнал для довідника»"
        )
        operator = f.person(session, f.account(session, company), role=PersonRole.OIS_OPERATOR).id
    at = _app(operator, PAGE)
    assert "«Довідник» — для працівників ІОА" in _texts(at)
    assert not at.text_input


def test_the_institute_admin_searches_and_opens_a_card(dashboard_world: DashboardWorld) -> None:
    admin = dashboard_world.persons["ioa-admin-1"]
    director = dashboard_world.persons["director"]
    at = _app(admin.person_id, PAGE)
    assert at.title[0].value == "Довідник"
    at.text_input(key="d_query").input(SCHOOL_EDRPOU).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert table.iloc[0]["Назва"] == SCHOOL_NAME and table.iloc[0]["Збіг"] == "ЄДРПОУ"
    assert table.iloc[0]["Картка"] == f"directory?unit={dashboard_world.school_id}"

    at.button(key="d_open").click().run()
    assert not at.exception
    assert at.query_params["unit"] == str(dashboard_world.school_id)
    texts = _everything(at)
    assert SCHOOL_NAME in [s.value for s in at.subheader]
    assert "ЄДРПОУ: 20077720" in texts
    assert "Обліковий запис: активний" in texts
    assert director.full_name in texts and "director@demo.aikom.local" in texts
    assert "Керівник закладу освіти" in texts
    with unit_of_work() as session:
        rnokpp = read_rnokpp(session.get_one(Person, director.person_id))
    assert rnokpp and rnokpp not in texts


def _waiting_school(world: DashboardWorld) -> tuple[int, int, int, str]:
    """A new hromada (with its admin) in the demo rayon, and a school the import left at that rayon."""
    tag = uuid.uuid4().hex[:8]
    with unit_of_work() as session:
        rayon_admin = session.get_one(Person, world.persons["rayon-admin"].person_id)
        rayon = session.get_one(OrgUnit, rayon_admin.org_unit_id)
        hromada = f.org_unit(
            session, level=OrgLevel.HROMADA, parent=rayon, oblast_id=rayon.oblast_id, name=f"Громада {tag}"
        )
        admin = f.person(session, f.account(session, hromada), role=PersonRole.HROMADA_ADMIN)
        school = f.org_unit(
            session,
            level=OrgLevel.SCHOOL,
            parent=rayon,
            oblast_id=rayon.oblast_id,
            managing_body_id=rayon.id,
            name=f"Гімназія без громади {tag}",
            needs_placement=True,
            placement_note="Громаду за КОАТУУ не визначено",
        )
        return school.id, hromada.id, admin.id, tag


def test_a_hromada_admin_moves_a_school_waiting_for_placement(dashboard_world: DashboardWorld) -> None:
    school_id, hromada_id, admin_id, tag = _waiting_school(dashboard_world)
    at = _app(admin_id, PAGE)
    at.text_input(key="d_query").input(f"гімназія {tag}").run()
    at.checkbox(key="d_waiting").check().run()
    table = at.dataframe[0].value
    assert list(table["№"]) == [school_id] and table.iloc[0]["Розміщення"] == "потребує"
    at.button(key="d_open").click().run()
    texts = _texts(at)
    assert "Заклад потребує розміщення під громадою: Громаду за КОАТУУ не визначено" in texts
    assert "показано лише назву, коди та стан" in texts  # the school sits above the admin's hromada
    picker = at.selectbox(key="d_move_target")
    assert picker.value == hromada_id and picker.options == [f"Громада {tag}"]
    at.text_input(key="d_move_note").input("За листом громади").run()
    at.button(key="d_move_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert f"Заклад «Гімназія без громади {tag}» розміщено під «Громада {tag}»." in _texts(at)
    # Placed: now inside the admin's hromada, its card is full and offers no move any more.
    assert f"Гімназія без громади {tag}" in [h.value for h in at.subheader]
    assert "d_move_target" not in [s.key for s in at.selectbox]
    assert "показано лише назву, коди та стан" not in _texts(at)
    with unit_of_work() as session:
        school = session.get_one(OrgUnit, school_id)
        assert school.parent_id == hromada_id and school.managing_body_id == hromada_id
        assert not school.needs_placement
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "org_unit.placed", AuditEntry.object_id == str(school_id)
            )
        ).one()
        assert entry.actor_person_id == admin_id and entry.details["note"] == "За листом громади"


def test_the_demo_hromada_admin_cannot_move_it_elsewhere(dashboard_world: DashboardWorld) -> None:
    school_id, _, _, _ = _waiting_school(dashboard_world)
    admin = dashboard_world.persons["hromada-admin-1"]
    at = _app(admin.person_id, PAGE, unit=str(school_id))
    # The demo admin's own hromada is a valid target (it lies in the rayon); another rayon's is not offered.
    picker = at.selectbox(key="d_move_target")
    assert picker.options == [admin.org_name]


def _current_director(world: DashboardWorld) -> tuple[int, str]:
    """The school's director now (another test may have replaced the demo one)."""
    with unit_of_work() as session:
        director = session.scalars(
            select(Person).where(
                Person.org_unit_id == world.school_id,
                Person.role == PersonRole.DIRECTOR,
                Person.state.in_([PersonState.ACTIVE, PersonState.PENDING]),
            )
        ).one()
        return director.id, director.full_name


def test_a_director_sees_their_own_school_only(dashboard_world: DashboardWorld) -> None:
    director_id, director_name = _current_director(dashboard_world)
    at = _app(director_id, PAGE)
    at.text_input(key="d_query").input("ліцей").run()
    assert not at.error, [e.value for e in at.error]
    assert list(at.dataframe[0].value["№"]) == [dashboard_world.school_id]
    assert not at.selectbox(key="d_level").value  # «Усі рівні»

    at = _app(director_id, PAGE, unit=str(dashboard_world.school_id))
    assert SCHOOL_NAME in [s.value for s in at.subheader]
    assert director_name in _everything(at)

    with unit_of_work() as session:
        hromada_id = session.get_one(OrgUnit, dashboard_world.school_id).parent_id
    at = _app(director_id, PAGE, unit=str(hromada_id))
    assert "бачать у довіднику лише свій заклад і його філії" in _texts(at)
    assert not at.subheader and not at.dataframe


def test_a_former_director_is_told_the_directory_is_closed(dashboard_world: DashboardWorld) -> None:
    with unit_of_work() as session:
        school = session.get_one(OrgUnit, dashboard_world.school_id)
        former = f.person(
            session,
            session.scalars(select(Account).where(Account.org_unit_id == school.id)).one(),
            role=PersonRole.DIRECTOR,
            state=PersonState.INACTIVE,
        ).id
    at = _app(former, PAGE)
    at.text_input(key="d_query").input("ліцей").run()
    assert "неактивна: довідник і переміщення закладів їй недоступні" in _texts(at)
    assert not at.dataframe
