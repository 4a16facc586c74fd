"""«Моніторинг» as each role sees it (Streamlit AppTest): who may open it, whose figures they see, the
drill-down, and the Ukrainian messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from aikom.db import unit_of_work
from aikom.models import Account, OrgLevel, OrgUnit, Person, PersonRole, ProcessState
from aikom.services.persons import person_view
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PAGE = "views/monitor.py"


@dataclass(frozen=True)
class Monitored:
    """Open, long-overdue steps in three places, and who watches them."""

    national_id: int
    oblast_id: int
    oblast_name: str
    rayon_name: str
    far_oblast: str  # another oblast
    far_process: int
    sibling_rayon: str  # another rayon of the demo oblast
    sibling_process: int
    oblast_manager: int  # a manager placed in the demo oblast


def _overdue_step(session: object, unit: OrgUnit, role: PersonRole, days: int) -> int:
    """A process about `unit` whose open step has been overdue for `days` days (older than any other)."""
    requester = f.person(session, f.account(session, unit), role=role)  # type: ignore[arg-type]
    process, task = f.approval_task(
        session,  # type: ignore[arg-type]
        requester=requester,
        subject=unit,
        scope=unit,
        allowed_roles=[role],
    )
    moment = datetime.now(UTC) - timedelta(days=days)
    process.created_at = task.created_at = moment - timedelta(days=1)
    task.due_at = moment
    process.state = ProcessState.WAITING
    return process.id


@pytest.fixture(scope="module")
def monitored(dashboard_world: DashboardWorld) -> Monitored:
    with unit_of_work() as session:
        rayon_admin = session.get_one(Person, dashboard_world.persons["rayon-admin"].person_id)
        rayon = session.get_one(OrgUnit, rayon_admin.org_unit_id)
        oblast = session.get_one(OrgUnit, rayon.parent_id)
        national = session.get_one(OrgUnit, oblast.parent_id)
        far = f.org_unit(session, level=OrgLevel.OBLAST, parent=national, name="Далека область")
        sibling = f.org_unit(
            session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id, name="Сусідній район"
        )
        account = session.scalars(select(Account).where(Account.org_unit_id == oblast.id)).one()
        manager = f.person(session, account, role=PersonRole.MANAGER, name="Олійник Тарас Іванович")
        return Monitored(
            national_id=national.id,
            oblast_id=oblast.id,
            oblast_name=oblast.name,
            rayon_name=rayon.name,
            far_oblast=far.name,
            far_process=_overdue_step(session, far, PersonRole.OBLAST_ADMIN, days=900),
            sibling_rayon=sibling.name,
            sibling_process=_overdue_step(session, sibling, PersonRole.RAYON_ADMIN, days=800),
            oblast_manager=manager.id,
        )


@pytest.fixture(autouse=True)
def _fresh_figures() -> Iterator[None]:
    st.cache_data.clear()  # the page caches figures per person for a few seconds
    yield


def _frame(at: AppTest, first_column: str) -> pd.DataFrame:
    """The table whose first column is `first_column`."""
    for element in at.dataframe:
        if element.value.columns[0] == first_column:
            return element.value
    raise AssertionError(f"no table starting with «{first_column}»")


def _everything(at: AppTest) -> str:
    """Every text and every table cell on the page."""
    cells = [str(v) for e in at.dataframe for v in e.value.astype(str).to_numpy().ravel()]
    return _texts(at) + "\n" + "\n".join(cells)


def _monitor(person_id: int) -> AppTest:
    at = _app(person_id, PAGE)
    assert at.title[0].value == "Моніторинг"
    assert not at.error, [e.value for e in at.error]
    return at


def test_only_institute_staff_and_ouo_admins_have_the_monitor(dashboard_world: DashboardWorld) -> None:
    from aikom.dashboard.pages import menu_for

    with unit_of_work() as session:
        for key in ("ioa-admin-1", "support", "manager", "oblast-admin", "rayon-admin", "hromada-admin-1"):
            viewer = person_view(session=session, person_id=dashboard_world.persons[key].person_id)
            assert "Моніторинг" in [p.title for p in menu_for(viewer)], key
        for key in ("director", "deputy"):
            viewer = person_view(session=session, person_id=dashboard_world.persons[key].person_id)
            assert "Моніторинг" not in [p.title for p in menu_for(viewer)], key
    assert "Моніторинг" not in [p.title for p in menu_for(None)]


def test_an_anonymous_visitor_is_asked_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(page=PAGE)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Моніторинг»" in _texts(at)
    assert not at.dataframe


@pytest.mark.parametrize("key", ["director", "deputy"])
def test_a_director_or_deputy_is_refused(
    dashboard_world: DashboardWorld, monitored: Monitored, key: str
) -> None:
    at = _app(dashboard_world.persons[key].person_id, PAGE)
    assert at.title[0].value == "Моніторинг"
    assert "«Моніторинг» — для керівників і аналітиків" in _texts(at)
    assert not at.dataframe and not at.metric
    assert monitored.far_oblast not in _everything(at)


def test_an_institute_manager_sees_the_whole_country(
    dashboard_world: DashboardWorld, monitored: Monitored
) -> None:
    at = _monitor(dashboard_world.persons["manager"].person_id)
    areas = _frame(at, "Область")
    assert {monitored.oblast_name, monitored.far_oblast} <= set(areas["Область"])
    far = areas[areas["Область"] == monitored.far_oblast].iloc[0]
    assert far["Відкритих кроків"] == 1 and far["Прострочено"] == 1
    worst = _frame(at, "№ процесу")  # the most overdue steps first
    assert worst["№ процесу"].tolist()[:2] == [monitored.far_process, monitored.sibling_process]
    assert any("за київським часом" in column for column in worst.columns)
    assert {m.label for m in at.metric} >= {"Відкриті процеси", "Прострочені кроки"}
    assert "Україна ·" in _texts(at)


def test_an_oblast_manager_never_sees_another_oblast(
    dashboard_world: DashboardWorld, monitored: Monitored
) -> None:
    at = _monitor(monitored.oblast_manager)
    assert not [s for s in at.selectbox if s.key == "m_oblast"]
    areas = _frame(at, "Район")
    assert {monitored.rayon_name, monitored.sibling_rayon} <= set(areas["Район"])
    worst = _frame(at, "№ процесу")
    assert monitored.sibling_process in worst["№ процесу"].tolist()
    assert monitored.far_process not in worst["№ процесу"].tolist()
    assert monitored.far_oblast not in _everything(at)
    assert f"{monitored.oblast_name} ·" in _texts(at)


def test_an_ouo_admin_sees_only_their_subtree(dashboard_world: DashboardWorld, monitored: Monitored) -> None:
    at = _monitor(dashboard_world.persons["rayon-admin"].person_id)
    areas = _frame(at, "Громада (місто)")
    assert len(areas) >= 1
    shown = _everything(at)
    assert monitored.far_oblast not in shown and monitored.sibling_rayon not in shown
    for table in at.dataframe:
        if "№ процесу" in table.value.columns:
            ids = table.value["№ процесу"].tolist()
            assert monitored.far_process not in ids and monitored.sibling_process not in ids
    assert f"{monitored.rayon_name} ·" in _texts(at)


def test_a_period_ending_before_it_starts_is_refused_in_ukrainian(
    dashboard_world: DashboardWorld, monitored: Monitored
) -> None:
    at = _monitor(dashboard_world.persons["oblast-admin"].person_id)
    start = at.date_input(key="m_start").value
    at.date_input(key="m_end").set_value(start - timedelta(days=1)).run()
    assert not at.exception
    assert "Період: кінець не може бути раніше за початок." in _texts(at)
    assert "Traceback" not in _texts(at)
    assert not at.dataframe


def test_drilling_down_to_an_oblast_and_back_up(
    dashboard_world: DashboardWorld, monitored: Monitored
) -> None:
    at = _monitor(dashboard_world.persons["manager"].person_id)
    at.selectbox(key=f"m_drill_{monitored.national_id}").set_value(monitored.oblast_id).run()
    assert not at.exception
    assert f"{monitored.oblast_name} ·" in _texts(at)
    assert monitored.sibling_rayon in set(_frame(at, "Район")["Район"])
    assert monitored.far_oblast not in _everything(at)
    assert at.selectbox(key="m_oblast").value == monitored.oblast_id  # the oblast choice follows

    at.button(key="m_up0").click().run()  # back up to the whole country
    assert "Україна ·" in _texts(at)
    assert monitored.far_oblast in set(_frame(at, "Область")["Область"])
    assert at.selectbox(key="m_oblast").value is None

    at.selectbox(key="m_oblast").set_value(monitored.oblast_id).run()  # the oblast choice narrows too
    assert f"{monitored.oblast_name} ·" in _texts(at)


def test_a_listed_step_opens_its_process(dashboard_world: DashboardWorld, monitored: Monitored) -> None:
    at = _monitor(dashboard_world.persons["manager"].person_id)
    at.selectbox(key="m_open_breach").set_value(monitored.far_process).run()
    at.button(key="m_open_breach_go").click().run()
    assert not at.exception
    assert at.title[0].value == "Процес"
    assert f"№ {monitored.far_process}." in _texts(at)
