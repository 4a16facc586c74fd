"""Each dashboard page as a person sees it (Streamlit AppTest), for each role that uses it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, PersonRole, Process, ProcessType, SignedDecision, TaskState
from aikom.services.approvals import ApprovalRequest, create_task, find_person
from aikom.services.demo import DemoPerson
from aikom.services.processes import create_process
from tests.dashboard.conftest import APP, DashboardWorld


def _app(person_id: int | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if person_id is not None:
        at.session_state["person_id"] = person_id
    at.run()  # st.navigation registers the pages (with their url paths) on the first run
    if page:
        at.switch_page(page).run()
    return at


def _replacement(session: Session, world: DashboardWorld, requester: DemoPerson) -> Process:
    """A director replacement of the world's school started by `requester` (no flow run)."""
    return create_process(
        session=session,
        type=ProcessType.DIRECTOR_REPLACEMENT,
        flow="director-replacement",
        requester=find_person(session=session, ref=str(requester.person_id)),
        subject_org_unit_id=world.school_id,
        parameters={"school_name": "Ліцей № 1 імені Лесі Українки"},
    )


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.success] + [e.value for e in at.error] + [e.value for e in at.info]
    parts += [e.value for e in at.markdown] + [e.value for e in at.title] + [e.value for e in at.subheader]
    return "\n".join(str(p) for p in parts)


def test_sign_in_page_signs_in_a_demo_person(dashboard_world: DashboardWorld) -> None:
    at = _app()
    assert at.title[0].value == "Вхід до АІКОМ"
    admin = dashboard_world.persons["hromada-admin-1"]
    label = next(o for o in at.selectbox(key="demo_person").options if o.startswith(admin.full_name))
    at.selectbox(key="demo_person").select(label)
    at.button(key="signin_demo").click().run()
    assert not at.exception
    assert at.session_state["person_id"] == admin.person_id
    assert "Вхід виконано" in _texts(at)
    assert admin.full_name in _texts(at)


def test_pages_ask_to_sign_in_first(dashboard_world: DashboardWorld) -> None:
    at = _app(page="views/my_tasks.py")
    assert "Увійдіть до системи з КЕП" in _texts(at)


def test_start_page_validates_and_starts_a_replacement(dashboard_world: DashboardWorld) -> None:
    admin = dashboard_world.persons["hromada-admin-1"]
    at = _app(admin.person_id, "views/start_process.py")
    assert "Ліцей № 1 імені Лесі Українки" in at.selectbox(key="school").value
    at.text_input(key="full_name").input("Петренко Ганна Іванівна")
    at.text_input(key="rnokpp").input("2345678902")
    at.text_input(key="email").input("не-адреса")
    at.text_input(key="order_no").input("12-к")
    at.date_input(key="order_date").set_value(date(2026, 11, 1))
    at.button[0].click().run()
    assert "Електронна пошта" in _texts(at)
    with unit_of_work() as session:
        assert session.scalars(select(Process)).all() == []

    at.text_input(key="email").input("hanna@example.org")
    at.button[0].click().run()
    assert not at.exception
    assert "Процес №" in _texts(at)
    with unit_of_work() as session:
        process = session.scalars(select(Process)).one()
        assert process.requester_person_id == admin.person_id
        assert process.parameters["new_director"]["email"] == "hanna@example.org"


def test_start_page_for_a_director_explains_who_starts(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["director"].person_id, "views/start_process.py")
    assert "адміністратор ОУО" in _texts(at)


def test_my_tasks_lists_the_step_and_a_signed_decision_closes_it(dashboard_world: DashboardWorld) -> None:
    requester = dashboard_world.persons["hromada-admin-1"]
    approver = dashboard_world.persons["hromada-admin-2"]
    with unit_of_work() as session:
        process = session.scalars(select(Process)).first()
        if process is None:  # this test may run alone
            process = _replacement(session, dashboard_world, requester)
        task = create_task(
            session=session,
            request=ApprovalRequest(
                process_id=process.id,
                step_key="approve",
                title="Погодити заміну керівника: Ліцей № 1",
                allowed_roles=[PersonRole.HROMADA_ADMIN],
                scope_org_unit_id=requester.org_unit_id,
                excluded_person_id=requester.person_id,
                due_in_seconds=86400,
                details={"Новий керівник": "Петренко"},
            ),
        )
        task_id, process_id = task.id, process.id

    mine = _app(requester.person_id, "views/my_tasks.py")
    assert "Завдань, що очікують вашого рішення, немає" in _texts(mine)  # four-eyes: not the requester

    at = _app(approver.person_id, "views/my_tasks.py")
    assert f"№ {task_id}. Погодити заміну керівника" in _texts(at)
    at.text_area(key=f"c{task_id}").input("Погоджено").run()
    at.button(key=f"demo{task_id}").click().run()
    assert not at.exception
    assert f"Рішення щодо завдання № {task_id} ухвалено" in _texts(at)
    with unit_of_work() as session:
        task = session.get(ApprovalTask, task_id)
        assert task is not None and task.state == TaskState.DECIDED and task.comment == "Погоджено"
        assert (
            session.scalars(select(SignedDecision).where(SignedDecision.task_id == task_id)).one().verified_ok
        )

    page = _app(requester.person_id, "views/process.py")
    page.number_input(key="process_number").set_value(process_id).run()
    text = _texts(page)
    assert "Погодити заміну керівника" in text
    assert "рішення ухвалено" in "\n".join(str(c.value) for c in page.caption) + text
    assert approver.full_name in "\n".join(str(c.value) for c in page.caption)


def test_mailbox_page_shows_received_messages(dashboard_world: DashboardWorld) -> None:
    mailbox = dashboard_world.settings.mailbox_dir
    mailbox.mkdir(parents=True, exist_ok=True)
    (mailbox / "000001.eml").write_bytes(
        "From: a@aikom.local\r\nTo: b@example.org\r\nSubject: =?utf-8?b?0J/QtdGA0LXQstGW0YDQutCw?=\r\n"
        "Message-ID: <x@aikom.local>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст\r\n".encode()
    )
    at = _app(page="views/mailbox.py")
    assert not at.exception
    assert any("Перевірка" in e.label for e in at.expander)


PAGES = [
    "views/signin.py",
    "views/my_tasks.py",
    "views/start_process.py",
    "views/process.py",
    "views/mailbox.py",
]


def test_every_page_renders_for_every_role(dashboard_world: DashboardWorld) -> None:
    for person in dashboard_world.persons.values():
        for page in PAGES:
            at = _app(person.person_id, page)
            assert not at.exception, (person.key, page, at.exception)
            assert at.title, (person.key, page)


def test_a_new_director_gets_a_demo_kep_and_the_first_sign_in_activates_the_card(
    dashboard_world: DashboardWorld,
) -> None:
    from aikom.models import Person, PersonState
    from aikom.services import directors
    from aikom.services.approvals import find_person

    with unit_of_work() as session:
        # The start-page test may have started this school's replacement already: one at a time.
        process = session.scalars(
            select(Process).where(Process.subject_org_unit_id == dashboard_world.school_id)
        ).first() or directors.start_replacement(
            session=session,
            actor=find_person(session=session, ref=str(dashboard_world.persons["hromada-admin-2"].person_id)),
            school_id=dashboard_world.school_id,
            new_director=directors.NewDirector(
                full_name="Петренко Ганна Іванівна",
                rnokpp="2345678902",
                email="hanna@example.org",
                order_no="7-к",
                order_date=date(2026, 11, 2),
            ),
        )
        new_id = directors.apply_replacement(session=session, process_id=process.id)  # the flow's step 3

    at = _app()
    label = next(o for o in at.selectbox(key="demo_pending").options if "Петренко Ганна" in o)
    at.selectbox(key="demo_pending").select(label)
    at.button(key="signin_pending").click().run()
    assert not at.exception
    assert "картку активовано" in _texts(at)
    assert at.session_state["person_id"] == new_id
    with unit_of_work() as session:
        assert session.get_one(Person, new_id).state == PersonState.ACTIVE
        step = session.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process.id, ApprovalTask.step_key == "first-sign-in"
            )
        ).one()
        assert step.state == TaskState.DECIDED and step.decided_by_id == new_id


def test_the_process_page_hides_a_process_from_an_outsider(dashboard_world: DashboardWorld) -> None:
    from aikom.models import OrgLevel, OrgUnit
    from tests import factories as f

    requester = dashboard_world.persons["hromada-admin-1"]
    with unit_of_work() as session:
        process = _replacement(session, dashboard_world, requester)
        hromada = session.get_one(OrgUnit, requester.org_unit_id)
        neighbour = f.org_unit(
            session, level=OrgLevel.HROMADA, parent=session.get_one(OrgUnit, hromada.parent_id)
        )
        outsider = f.person(session, f.account(session, neighbour), role=PersonRole.HROMADA_ADMIN)
        process_id, outsider_id = process.id, outsider.id

    at = _app(outsider_id, "views/process.py")
    at.number_input(key="process_number").set_value(process_id).run()
    assert not at.exception
    assert f"Процес №{process_id} поза вашою зоною доступу." in _texts(at)
    assert "Ліцей № 1" not in _texts(at)

    own = _app(requester.person_id, "views/process.py")
    own.number_input(key="process_number").set_value(process_id).run()
    assert "Ліцей № 1 імені Лесі Українки" in _texts(own)
