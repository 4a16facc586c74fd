"""«Служба підтримки»: the desk starts a request's process from the request (its start form prefilled,
on the requester's behalf) and files a request for a person; the request — and «Мої звернення» — show
the process's state (Streamlit AppTest, per role)."""

from __future__ import annotations

from sqlalchemy import select

from aikom.core.actor import Actor
from aikom.db import unit_of_work
from aikom.models import OrgUnit, Process, SupportRequest, SupportRequestType
from aikom.services import support
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

DESK = "views/support.py"
MINE = "views/my_requests.py"
NAME = "Гімназія № 2 Ліцейської сільської ради"


def _free_code() -> str:
    with unit_of_work() as session:
        while True:
            code = f.edrpou()
            if session.scalars(select(OrgUnit.id).where(OrgUnit.edrpou == code)).first() is None:
                return code


def _file(world: DashboardWorld, kind: SupportRequestType, body: str) -> int:
    person = world.persons["hromada-admin-1"]
    with unit_of_work() as session:
        return support.file_request(
            session=session,
            actor=Actor(person_id=person.person_id, label=person.full_name),
            type=kind,
            subject="Немає закладу в довіднику",
            body=body,
        ).id


def _submit(at: object, label: str) -> None:
    button = next(b for b in at.button if b.label == label)  # type: ignore[attr-defined]
    button.click().run()


def test_the_support_agent_starts_the_process_from_the_request_prefilled(
    dashboard_world: DashboardWorld,
) -> None:
    code = _free_code()
    requester = dashboard_world.persons["hromada-admin-1"]
    request_id = _file(
        dashboard_world,
        SupportRequestType.NEW_SCHOOL,
        f"Код ЄДРПОУ: {code}\nНазва: {NAME}\nНаселений пункт: с. Ліцейське",
    )
    agent = dashboard_world.persons["support"]
    at = _app(agent.person_id, DESK, request=str(request_id))
    start = "Запустити процес «Новий заклад освіти (через службу підтримки)»"
    assert [b.label for b in at.button if b.key == "sq_start_process"] == [start]
    at.button(key="sq_start_process").click().run()
    assert not at.exception
    # The start form, prefilled from the request; the requester's name and unit are said.
    assert at.text_input(key="edrpou").value == code
    assert at.text_input(key="name").value == NAME
    assert at.text_input(key="settlement").value == "с. Ліцейське"
    assert f"Від імені: {requester.full_name}" in _texts(at)
    assert f"Заклад подається від імені «{requester.org_name}»" in _texts(at)
    at.text_input(key="edebo_id").input("160077")
    _submit(at, "Подати звернення")
    assert not at.exception
    assert f"Від імені: {requester.full_name}" in _texts(at) and "збережено" in _texts(at)
    with unit_of_work() as session:
        request = session.get_one(SupportRequest, request_id)
        assert request.process_id is not None
        process = session.get_one(Process, request.process_id)
        assert (process.requester_person_id, process.started_by_id) == (requester.person_id, agent.person_id)
        assert process.parameters["edebo_id"] == "160077" and process.parameters["edrpou"] == code
    # The request shows its process; no second start is offered.
    assert f"Процес №{process.id} «" in _texts(at) and "запускається" in _texts(at)
    assert [b for b in at.button if b.key == "sq_start_process"] == []
    assert f"запущено процес №{process.id} (від імені {requester.full_name})" in _texts(at)  # history

    # The requester sees the process's state on «Мої звернення», and no desk control.
    mine = _app(requester.person_id, MINE, request=str(request_id))
    assert f"Процес №{process.id} «" in _texts(mine) and "запускається" in _texts(mine)
    assert "Запуск процесу" not in _texts(mine)
    assert [b for b in mine.button if b.key == "sq_start_process"] == []


def test_the_button_shows_only_for_a_type_that_maps_to_a_process(dashboard_world: DashboardWorld) -> None:
    question = _file(dashboard_world, SupportRequestType.QUESTION, "Як додати заступника?")
    new_school = _file(dashboard_world, SupportRequestType.NEW_SCHOOL, "ЄДРПОУ не знаю")
    for key in ("support", "ioa-admin-1"):  # both work the desk
        person_id = dashboard_world.persons[key].person_id
        at = _app(person_id, DESK, request=str(question))
        assert [b for b in at.button if b.key == "sq_start_process"] == [], key
        at = _app(person_id, DESK, request=str(new_school))
        assert [b.key for b in at.button if b.key == "sq_start_process"] == ["sq_start_process"], key
    # An ОУО admin is refused the desk: no request, no control.
    at = _app(dashboard_world.persons["hromada-admin-1"].person_id, DESK, request=str(new_school))
    assert "черга звернень для служби підтримки" in _texts(at)
    assert [b.key for b in at.button] == ["signout"]
    # What the request lacks is named when the desk submits the form as it opened.
    at = _app(dashboard_world.persons["support"].person_id, DESK, request=str(new_school))
    at.button(key="sq_start_process").click().run()
    _submit(at, "Подати звернення")
    assert "обов'язкове поле" in _texts(at)
    with unit_of_work() as session:
        assert session.get_one(SupportRequest, new_school).process_id is None


def test_the_desk_files_a_request_on_a_persons_behalf(dashboard_world: DashboardWorld) -> None:
    requester = dashboard_world.persons["hromada-admin-1"]
    agent = dashboard_world.persons["support"]
    at = _app(agent.person_id, DESK)
    at.text_input(key="sq_nr_query").input(requester.full_name).run()
    at.selectbox(key="sq_nr_requester").select_index(0).run()
    at.selectbox(key="sq_nr_type").set_value(SupportRequestType.NEW_SCHOOL)
    at.text_input(key="sq_nr_subject").input("Новий заклад освіти: Ліцей № 4")
    at.text_area(key="sq_nr_body").input("Заявниця телефонувала: ЄДРПОУ буде надіслано")
    at.button(key="sq_nr_send").click().run()
    assert not at.exception
    assert f"від імені {requester.full_name}" in _texts(at)
    with unit_of_work() as session:
        request = session.scalars(
            select(SupportRequest)
            .where(SupportRequest.requester_person_id == requester.person_id)
            .order_by(SupportRequest.id.desc())
        ).first()
        assert request is not None and request.subject == "Новий заклад освіти: Ліцей № 4"
        assert request.payload["filed_by"]["id"] == agent.person_id
    # It opened: the thread says who filed it for whom, and the desk can act on it.
    assert f"подано службою підтримки ({agent.full_name}) від імені {requester.full_name}" in _texts(at)
    assert [b.key for b in at.button if b.key == "sq_start_process"] == ["sq_start_process"]
    # A filing without a chosen requester is refused, naming the field.
    at = _app(agent.person_id, DESK)
    at.text_input(key="sq_nr_subject").input("Без заявника")
    at.text_area(key="sq_nr_body").input("Текст")
    at.button(key="sq_nr_send").click().run()
    assert "Заявник: оберіть особу" in _texts(at)
