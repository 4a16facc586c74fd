"""«Почати процес» → «Новий заклад освіти» (Streamlit AppTest): an ОУО admin files a school; a bad check
digit is refused naming the field; other roles are not offered the form."""

from __future__ import annotations

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import Process, SupportRequest, SupportRequestType
from aikom.processes.new_school import SPEC
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts


def _processes() -> list[Process]:
    with unit_of_work() as session:
        return list(session.scalars(select(Process).where(Process.type == SPEC.type)))


def test_a_hromada_admin_files_a_new_school_and_a_bad_code_is_refused(
    dashboard_world: DashboardWorld,
) -> None:
    at = _app(dashboard_world.persons["hromada-admin-1"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select(SPEC.title_uk).run()
    at.text_input(key="edrpou").input("26338855")
    at.text_input(key="name").input("Ліцей «Світанок» сільської ради")
    at.text_input(key="settlement").input("с. Світанок")
    at.button[0].click().run()
    assert not at.exception
    assert "Код ЄДРПОУ: «26338855» має неправильну контрольну цифру" in _texts(at)
    assert not _processes()

    code = f.edrpou()
    at.text_input(key="edrpou").input(code)
    at.button[0].click().run()
    assert not at.exception
    (process,) = _processes()
    assert process.parameters["edrpou"] == code
    with unit_of_work() as session:
        request = session.scalars(select(SupportRequest).where(SupportRequest.process_id == process.id)).one()
        assert request.type == SupportRequestType.NEW_SCHOOL and request.edrpou == code


def test_other_roles_are_not_offered_the_new_school_form(dashboard_world: DashboardWorld) -> None:
    for key in ("director", "deputy", "manager", "support", "ioa-admin-1"):
        at = _app(dashboard_world.persons[key].person_id, "views/start_process.py")
        assert not at.exception
        offered = [o for box in at.selectbox if box.key == "process_type" for o in box.options]
        assert SPEC.title_uk not in offered, key
