"""«Почати процес» → «Створення філії» (Streamlit AppTest): a hub's director asks for a branch; the director
of a school that is not a hub is told why not; a deputy never sees the form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from aikom.dashboard.forms.branch import WITH_EDRPOU
from aikom.db import unit_of_work
from aikom.models import OrgUnit, Process, ProcessState
from tests import factories
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

TITLE = "Створення філії"
SUBMIT = "Надіслати на підтвердження ОУО"


def _mark(world: DashboardWorld, mark: str | None) -> None:
    with unit_of_work() as session:
        session.get_one(OrgUnit, world.school_id).edebo_mark = mark


@pytest.fixture
def hub(dashboard_world: DashboardWorld) -> Iterator[DashboardWorld]:
    """The demo school marked «Опорний» for one test; its branch requests are closed afterwards."""
    _mark(dashboard_world, "hub")
    yield dashboard_world
    _mark(dashboard_world, None)
    with unit_of_work() as session:
        for process in session.scalars(select(Process).where(Process.type == "branch")):
            process.state = ProcessState.CANCELLED


def _requests() -> list[Process]:
    """The branch requests of this test (those of earlier tests are closed)."""
    with unit_of_work() as session:
        return list(
            session.scalars(
                select(Process).where(Process.type == "branch", Process.state != ProcessState.CANCELLED)
            )
        )


def _branch_form(world: DashboardWorld) -> AppTest:
    at = _app(world.persons["director"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select(TITLE).run()
    return at


def _submit(at: AppTest) -> None:
    next(b for b in at.button if b.label == SUBMIT).click().run()


def test_the_director_of_a_school_that_is_not_a_hub_is_told_why(dashboard_world: DashboardWorld) -> None:
    at = _branch_form(dashboard_world)
    assert "не є опорним закладом" in _texts(at)
    assert not [w for w in at.text_input if w.key == "branch_name"]


def test_a_hubs_director_asks_for_a_branch_without_edrpou(hub: DashboardWorld) -> None:
    at = _branch_form(hub)
    assert "Ліцей № 1 імені Лесі Українки" in _texts(at)
    _submit(at)  # everything left empty: every field named, nothing started
    text = _texts(at)
    assert "Назва: обов'язкове поле" in text and "Населений пункт: обов'язкове поле" in text
    assert not _requests()

    at.text_input(key="branch_name").input("Філія «Калинка»")
    at.text_input(key="branch_settlement").input("с. Калинівка")
    _submit(at)
    assert not at.exception
    assert re.search(r"Процес №\d+ (розпочато|збережено)", _texts(at))
    (process,) = _requests()
    assert process.requester_person_id == hub.persons["director"].person_id
    assert process.parameters["name"] == "Філія «Калинка»" and process.parameters["edrpou"] is None


def test_a_branch_with_its_own_edrpou_asks_for_its_head_and_checks_the_code(hub: DashboardWorld) -> None:
    at = _branch_form(hub)
    at.radio(key="branch_kind").set_value(WITH_EDRPOU).run()
    good = factories.edrpou()
    bad = good[:7] + str((int(good[7]) + 1) % 10)
    at.text_input(key="branch_name").input("Філія «Берізка»")
    at.text_input(key="branch_settlement").input("с. Берізки")
    at.text_input(key="branch_edrpou").input(bad)
    at.text_input(key="branch_official_email").input("bereza@example.org")
    at.text_input(key="full_name").input("Гнатюк Олена Петрівна")
    at.text_input(key="rnokpp").input(factories.rnokpp())
    at.text_input(key="email").input("hnatiuk@example.org")
    at.text_input(key="position").input("Завідувач філії")
    _submit(at)
    assert f"ЄДРПОУ: «{bad}» має неправильну контрольну цифру (очікувалась {good[7]})" in _texts(at)
    assert not _requests()

    at.text_input(key="branch_edrpou").input(good)
    _submit(at)
    assert re.search(r"Процес №\d+ (розпочато|збережено)", _texts(at))
    (process,) = _requests()
    assert process.parameters["edrpou"] == good
    assert process.parameters["head"]["full_name"] == "Гнатюк Олена Петрівна"
    assert "rnokpp" not in process.parameters["head"]  # sealed, never in clear


def test_a_deputy_does_not_see_the_branch_form(hub: DashboardWorld) -> None:
    at = _app(hub.persons["deputy"].person_id, "views/start_process.py")
    assert "заступник не може створити заступника" in _texts(at)
    assert not at.selectbox and not at.text_input
