"""Each dashboard page as a person sees it (Streamlit AppTest), for each role that uses it."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from aikom import commands
from aikom.db import unit_of_work
from aikom.demo.persons import DemoPerson, demo_sign
from aikom.models import (
    Account,
    ApprovalTask,
    Decision,
    Person,
    PersonRole,
    Process,
    SignedDecision,
    TaskState,
)
from aikom.services import approvals
from aikom.services.approvals import ApprovalRequest, SignedPayload, create_task
from aikom.services.persons import person_view
from aikom.services.processes import create_process
from tests import factories as f
from tests.dashboard.conftest import APP, DashboardWorld

MAILBOX = "../demo/mailbox.py"
PAGES = [
    "views/signin.py",
    "views/my_tasks.py",
    "views/processes.py",
    "views/monitor.py",
    "views/process.py",
    "views/start_process.py",
    "views/absence.py",
    "views/deputies.py",
    "views/branches.py",
    "views/directory.py",
    "views/api_key.py",
    "views/ois_access.py",
    "views/support.py",
    "views/my_requests.py",
    "views/kep_check.py",
    "views/ois_staff.py",
    "views/ois_mine.py",
    "views/ois_register.py",
    MAILBOX,
]
LINK_NAME = "Петренко [клік](http://example.org/x) ![](http://example.org/pixel.png)"


def _app(person_id: int | None = None, page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if person_id is not None:
        at.session_state["person_id"] = person_id
    if not page:
        at.query_params.update(query)
    at.run()  # st.navigation registers the pages (with their url paths) on the first run
    if page:  # as if the address were typed: /tasks?task=7
        at.query_params.update(query)
        at.switch_page(page).run()
        # AppTest keeps requesting the page switched to; a browser stays where the app went (a page may
        # send the visitor on, e.g. to sign in): later runs continue from where this run finished.
        at._page_hash = ""
    assert not at.exception, at.exception
    return at


def _unescape(text: str) -> str:
    """Markdown as read: bold marks dropped, backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)\*\*", "", text))


def _texts(at: AppTest) -> str:
    """Everything the page shows as text, Markdown escapes undone."""
    parts: list[object] = []
    for kind in ("title", "subheader", "markdown", "caption", "text", "success", "error", "info", "warning"):
        parts += [e.value for e in getattr(at, kind)]
    parts += [e.label for e in at.expander]
    return _unescape("\n".join(str(p) for p in parts))


def _person(session: Session, demo: DemoPerson) -> Person:
    return session.get_one(Person, demo.person_id)


def _demo_task(
    session: Session,
    requester: Person,
    *,
    title: str = "Погодити демонстраційний запит",
    shown: list[list[str]] | None = None,
    due_in_seconds: int = 86400,
) -> tuple[int, int]:
    """A demo request of `requester` about their unit with its open step for another admin of the unit."""
    process = create_process(
        session=session,
        type="demo-approval",
        actor=f.actor(requester),
        subject_org_unit_id=requester.org_unit_id,
        title=f"Демонстраційний запит: {title}",
    )
    task = create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key="approve",
            title=title,
            allowed_roles=[requester.role],
            scope_org_unit_id=requester.org_unit_id,
            excluded_person_id=requester.id,
            due_in_seconds=due_in_seconds,
            details={"shown": shown or [["Організація", "громада"]]},
        ),
    )
    return process.id, task.id


def _tasks_for_approver(world: DashboardWorld, count: int, **kwargs: object) -> list[int]:
    """`count` open steps requested by hromada admin 1, for hromada admin 2."""
    with unit_of_work() as session:
        requester = _person(session, world.persons["hromada-admin-1"])
        return [_demo_task(session, requester, **kwargs)[1] for _ in range(count)]  # type: ignore[arg-type]


def _decide_out_of_band(world: DashboardWorld, task_id: int, who: DemoPerson) -> None:
    """Someone decides a task elsewhere (another tab, the CLI), signed with their demo key."""
    with unit_of_work() as session:
        document = approvals.decision_document(
            task=session.get_one(ApprovalTask, task_id),
            actor=_person(session, who),
            decision=Decision.APPROVE,
            comment=None,
        )
    commands.decide_task(
        task_id=task_id,
        actor=commands.actor_of(who.person_id),
        decision=Decision.APPROVE,
        comment=None,
        signed=SignedPayload(document=document, signature=demo_sign(world.settings, who.key, document)),
    )


def _colleague(world: DashboardWorld, name: str) -> int:
    """Another active admin of the demo hromada (one per name)."""
    with unit_of_work() as session:
        admin = _person(session, world.persons["hromada-admin-1"])
        existing = session.scalars(select(Person).where(Person.full_name == name)).first()
        if existing is not None:
            return existing.id
        account = session.scalars(select(Account).where(Account.org_unit_id == admin.org_unit_id)).one()
        return f.person(session, account, role=PersonRole.HROMADA_ADMIN, name=name).id


# --- navigation --------------------------------------------------------------------------------------


def test_the_start_address_leads_an_anonymous_visitor_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app()
    assert at.title[0].value == "Вхід до АІКОМ"


def test_each_role_sees_only_its_pages(dashboard_world: DashboardWorld) -> None:
    from aikom.dashboard.pages import menu_for

    expected = {
        None: ["Вхід", "Реєстрація оператора ОІС", "Перевірити КЕП", "Підключені ОІС"],
        "ioa-admin-1": [
            "Мої завдання",
            "Процеси",
            "Моніторинг",
            "Процес",
            "Почати процес",
            "Відсутність",
            "Філії",
            "Довідник",
            "Служба підтримки",
            "ОІС",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
            "Пошта (демо)",
        ],
        "support": [
            "Мої завдання",
            "Процеси",
            "Моніторинг",
            "Процес",
            "Довідник",
            "Служба підтримки",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
            "Пошта (демо)",
        ],
        "manager": [
            "Процеси",
            "Моніторинг",
            "Процес",
            "Довідник",
            "ОІС",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
            "Пошта (демо)",
        ],
        "oblast-admin": [
            "Мої завдання",
            "Процеси",
            "Моніторинг",
            "Процес",
            "Почати процес",
            "Відсутність",
            "Філії",
            "Довідник",
            "Ключ API",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
        ],
        "hromada-admin-1": [
            "Мої завдання",
            "Процеси",
            "Моніторинг",
            "Процес",
            "Почати процес",
            "Відсутність",
            "Філії",
            "Довідник",
            "Ключ API",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
        ],
        "director": [
            "Мої завдання",
            "Процеси",
            "Процес",
            "Почати процес",
            "Заступники",
            "Довідник",
            "Доступ ОІС",
            "Ключ API",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
        ],
        "deputy": ["Процес", "Довідник", "Мої звернення", "Перевірити КЕП", "Підключені ОІС"],
        "ois-operator": [
            "Процес",
            "Почати процес",
            "Моя ОІС",
            "Мої звернення",
            "Перевірити КЕП",
            "Підключені ОІС",
        ],
    }
    with unit_of_work() as session:
        for key, titles in expected.items():
            viewer = (
                person_view(session=session, person_id=dashboard_world.persons[key].person_id)
                if key
                else None
            )
            assert [p.title for p in menu_for(viewer)] == titles, key


def test_a_page_asks_an_anonymous_visitor_to_sign_in_and_returns_there(
    dashboard_world: DashboardWorld,
) -> None:
    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    at = _app(page="views/my_tasks.py", task=str(task_id))
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Мої завдання»" in _texts(at)

    approver = dashboard_world.persons["hromada-admin-2"]
    label = next(o for o in at.selectbox(key="demo_person").options if o.startswith(approver.full_name))
    at.selectbox(key="demo_person").select(label)
    at.button(key="signin_demo").click().run()
    assert not at.exception
    assert at.session_state["person_id"] == approver.person_id
    assert "Вхід виконано" in _texts(at)
    assert at.title[0].value == "Мої завдання"  # back where the email link pointed, that task open
    assert at.button(key=f"task{task_id}_demo")


def test_a_deputy_cannot_reach_the_work_queue(dashboard_world: DashboardWorld) -> None:
    _tasks_for_approver(dashboard_world, 1)
    at = _app(dashboard_world.persons["deputy"].person_id, "views/my_tasks.py")
    assert "«Мої завдання» — для тих, хто ухвалює рішення" in _texts(at)
    assert [b.key for b in at.button] == ["signout"]  # no task, no action
    assert "Погодити демонстраційний запит" not in _texts(at)


def test_every_page_renders_for_every_role(dashboard_world: DashboardWorld) -> None:
    from aikom.models import OrgLevel, OrgUnit

    with unit_of_work() as session:  # the demo has no ОІС operator (nor ОІС units yet): one for this test
        hromada = session.get_one(OrgUnit, dashboard_world.persons["hromada-admin-1"].org_unit_id)
        company = f.org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, name="ТОВ «Електронний журнал»")
        operator = f.person(session, f.account(session, company), role=PersonRole.OIS_OPERATOR)
        people = {"ois-operator": operator.id}
    for key in (
        "ioa-admin-1",
        "support",
        "manager",
        "oblast-admin",
        "rayon-admin",
        "hromada-admin-2",
        "director",
        "deputy",
    ):
        people[key] = dashboard_world.persons[key].person_id
    for key, person_id in people.items():
        for page in PAGES:
            at = _app(person_id, page)
            assert at.title, (key, page)
            assert "Traceback" not in _texts(at), (key, page)


def test_signing_out_returns_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["manager"].person_id)
    assert at.title[0].value == "Процеси"
    at.button(key="signout").click().run()
    assert not at.exception
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Ви вийшли з системи" in _texts(at)
    assert "person_id" not in at.session_state


# --- start a process ---------------------------------------------------------------------------------


def test_start_page_reports_every_bad_field_and_starts_a_replacement(dashboard_world: DashboardWorld) -> None:
    admin = dashboard_world.persons["hromada-admin-1"]
    at = _app(admin.person_id, "views/start_process.py")
    at.selectbox(key="process_type").select("Заміна керівника закладу освіти").run()
    assert "Ліцей № 1 імені Лесі Українки" in at.selectbox(key="school").value
    at.button[0].click().run()  # everything left empty
    message = _texts(at)
    for field in ("ПІБ", "РНОКПП", "Електронна пошта", "Номер наказу"):
        assert f"{field}: обов'язкове поле" in message, field
    with unit_of_work() as session:
        assert not session.scalars(select(Process).where(Process.type == "director-replacement")).all()

    at.text_input(key="full_name").input("Петренко Ганна Іванівна")
    at.text_input(key="rnokpp").input("2345678902")
    at.text_input(key="email").input("hanna@example.org")
    at.text_input(key="order_no").input("12-к")
    at.date_input(key="order_date").set_value(date(2026, 1, 10))
    at.button[0].click().run()
    assert not at.exception
    assert re.search(r"Процес №\d+ (розпочато|збережено)", _texts(at))
    with unit_of_work() as session:
        process = session.scalars(select(Process).where(Process.type == "director-replacement")).one()
        assert process.requester_person_id == admin.person_id
        assert process.parameters["new_director"]["email"] == "hanna@example.org"


def test_start_page_tells_an_oblast_admin_who_starts_a_replacement(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["oblast-admin"].person_id, "views/start_process.py")
    at.selectbox(key="process_type").select("Заміна керівника закладу освіти").run()
    text = _texts(at)
    assert "починає адміністратор органу управління освітою (ОУО), що керує закладом" in text


def test_a_director_may_start_only_a_deputy_or_a_branch(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["director"].person_id, "views/start_process.py")
    assert set(at.selectbox(key="process_type").options) == {
        "Призначення заступника (відповідальної особи)",
        "Створення філії",
        "Надання доступу ОІС",
        "Відкликання доступу ОІС",
        "Перегенерація ключа API",
    }


def test_a_deputy_is_told_who_starts_processes(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["deputy"].person_id, "views/start_process.py")
    text = _texts(at)
    assert "заступник не може створити заступника" in text


# --- the work queue ----------------------------------------------------------------------------------


def test_queue_shows_who_asked_the_details_and_kyiv_time(dashboard_world: DashboardWorld) -> None:
    (task_id,) = _tasks_for_approver(
        dashboard_world,
        1,
        shown=[["Заклад освіти", "Ліцей № 1"], ["Наказ про призначення", "№ 12-к від 01.11.2026"]],
    )
    requester = dashboard_world.persons["hromada-admin-1"]
    mine = _app(requester.person_id, "views/my_tasks.py")
    assert f"№ {task_id}." not in _texts(mine)  # four-eyes: not the requester's to decide

    at = _app(dashboard_world.persons["hromada-admin-2"].person_id, "views/my_tasks.py")
    text = _texts(at)
    assert f"№ {task_id}. Погодити демонстраційний запит" in text
    assert f"Запит від: {requester.full_name}" in text
    assert "Заклад освіти: Ліцей № 1" in text and "Наказ про призначення: № 12-к від 01.11.2026" in text
    assert "за київським часом" in text
    assert "due_seconds" not in text and "shown" not in text


def test_claim_release_and_assign_from_the_page(dashboard_world: DashboardWorld) -> None:
    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    colleague_id = _colleague(dashboard_world, "Гнатюк Олена Петрівна")
    approver = dashboard_world.persons["hromada-admin-2"]
    at = _app(approver.person_id, "views/my_tasks.py")

    at.button(key=f"claim{task_id}").click().run()
    assert f"Завдання №{task_id} взято в роботу" in _texts(at)
    with unit_of_work() as session:
        assert session.get_one(ApprovalTask, task_id).claimed_by_id == approver.person_id

    at.button(key=f"release{task_id}").click().run()
    assert f"Завдання №{task_id} повернуто до спільної черги" in _texts(at)
    with unit_of_work() as session:
        assert session.get_one(ApprovalTask, task_id).claimed_by_id is None

    at.button(key=f"open{task_id}").click().run()
    assignee = at.selectbox(key=f"assignee{task_id}")
    assert "Гнатюк Олена Петрівна" in assignee.options
    assignee.set_value(colleague_id).run()
    at.button(key=f"assign{task_id}").click().run()
    assert not at.exception
    assert f"Завдання №{task_id} призначено колезі" in _texts(at)
    with unit_of_work() as session:
        assert session.get_one(ApprovalTask, task_id).claimed_by_id == colleague_id
    assert "У роботі: Гнатюк Олена Петрівна" in _texts(at)


def test_one_task_decided_with_a_signed_decision(dashboard_world: DashboardWorld) -> None:
    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    at = _app(dashboard_world.persons["hromada-admin-2"].person_id, "views/my_tasks.py")
    at.button(key=f"open{task_id}").click().run()
    at.text_area(key=f"c{task_id}").input("Погоджено").run()
    at.button(key=f"task{task_id}_demo").click().run()
    assert not at.exception
    assert f"Рішення щодо завдання №{task_id} ухвалено й підписано" in _texts(at)
    with unit_of_work() as session:
        task = session.get_one(ApprovalTask, task_id)
        assert task.state == TaskState.DECIDED and task.comment == "Погоджено"
        assert (
            session.scalars(select(SignedDecision).where(SignedDecision.task_id == task_id)).one().verified_ok
        )


def _pick_and_sign_batch(at: AppTest, task_ids: list[int]) -> None:
    for task_id in task_ids:
        at.checkbox(key=f"pick{task_id}").check().run()
    assert f"Пакетне рішення: {len(task_ids)} завд." in _texts(at)
    at.button(key="batch_demo").click().run()
    assert not at.exception


def test_a_bulk_decision_decides_two_tasks_under_one_signature(dashboard_world: DashboardWorld) -> None:
    first, second = _tasks_for_approver(dashboard_world, 2)
    at = _app(dashboard_world.persons["hromada-admin-2"].person_id, "views/my_tasks.py")
    _pick_and_sign_batch(at, [first, second])
    assert "Пакетне рішення: ухвалено 2, не ухвалено 0" in _texts(at)
    with unit_of_work() as session:
        for task_id in (first, second):
            assert session.get_one(ApprovalTask, task_id).state == TaskState.DECIDED
        signed = session.scalars(
            select(SignedDecision).where(SignedDecision.task_id.in_([first, second]))
        ).all()
        assert len(signed) == 2 and signed[0].document == signed[1].document  # one batch document
        assert all(s.verified_ok for s in signed)


def test_a_bulk_decision_reports_a_task_decided_meanwhile(dashboard_world: DashboardWorld) -> None:
    first, second = _tasks_for_approver(dashboard_world, 2)
    approver = dashboard_world.persons["hromada-admin-2"]
    at = _app(approver.person_id, "views/my_tasks.py")
    for task_id in (first, second):
        at.checkbox(key=f"pick{task_id}").check().run()
    _decide_out_of_band(dashboard_world, first, approver)  # e.g. in another tab
    at.button(key="batch_demo").click().run()
    assert not at.exception
    text = _texts(at)
    assert "Пакетне рішення: ухвалено 1, не ухвалено 1" in text
    assert f"Завдання №{first}: Завдання №{first} уже розглянуто" in text
    assert f"Завдання №{second}: Рішення ухвалено" in text
    with unit_of_work() as session:
        assert session.get_one(ApprovalTask, second).state == TaskState.DECIDED


def test_a_name_with_markdown_is_shown_literally(dashboard_world: DashboardWorld) -> None:
    requester_id = _colleague(dashboard_world, LINK_NAME)
    with unit_of_work() as session:
        _process_id, task_id = _demo_task(session, session.get_one(Person, requester_id), title=LINK_NAME)
    at = _app(dashboard_world.persons["hromada-admin-2"].person_id, "views/my_tasks.py")
    assert f"Запит від: {LINK_NAME}" in _texts(at)
    rendered = [str(e.value) for kind in ("markdown", "subheader", "caption") for e in getattr(at, kind)]
    assert any("клік" in value for value in rendered)
    for value in rendered:  # as Markdown, every bracket is escaped: no link, no image
        assert "[клік](" not in value and "![](" not in value, value
    assert task_id


# --- processes -----------------------------------------------------------------------------------------


def test_processes_list_filters_by_type_requester_and_state(dashboard_world: DashboardWorld) -> None:
    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    with unit_of_work() as session:
        process_id = session.get_one(ApprovalTask, task_id).process_id
    requester = dashboard_world.persons["hromada-admin-1"]
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, "views/processes.py")
    assert process_id in at.dataframe[0].value["№"].tolist()
    assert any("за київським часом" in column for column in at.dataframe[0].value.columns)

    at.selectbox(key="p_type").select("director-replacement").run()
    assert process_id not in (at.dataframe[0].value["№"].tolist() if at.dataframe else [])
    at.selectbox(key="p_type").select("demo-approval").run()
    at.number_input(key="p_requester").set_value(requester.person_id).run()
    rows = at.dataframe[0].value
    assert process_id in rows["№"].tolist() and set(rows["Ініціатор"]) == {requester.full_name}
    at.multiselect(key="p_states").select("completed").run()
    assert process_id not in (at.dataframe[0].value["№"].tolist() if at.dataframe else [])

    at.multiselect(key="p_states").unselect("completed").run()
    at.selectbox(key="p_open_id").set_value(process_id).run()
    at.button(key="p_open").click().run()
    assert at.title[0].value == "Процес"
    assert f"№ {process_id}. Демонстраційний запит" in _texts(at)


def test_a_manager_sees_only_the_processes_of_the_scope(dashboard_world: DashboardWorld) -> None:
    with unit_of_work() as session:  # a process in another oblast, and a hromada admin of our oblast
        national = session.get_one(Person, dashboard_world.persons["ioa-admin-1"].person_id).org_unit_id
        from aikom.models import OrgLevel, OrgUnit

        elsewhere = f.org_unit(session, level=OrgLevel.OBLAST, parent=session.get_one(OrgUnit, national))
        outsider = f.person(session, f.account(session, elsewhere), role=PersonRole.OBLAST_ADMIN)
        far = create_process(
            session=session, type="demo-approval", actor=f.actor(outsider), subject_org_unit_id=elsewhere.id
        )
        far_id = far.id
    everyone = _app(dashboard_world.persons["manager"].person_id, "views/processes.py")
    assert far_id in everyone.dataframe[0].value["№"].tolist()
    local = _app(dashboard_world.persons["hromada-admin-2"].person_id, "views/processes.py")
    assert far_id not in (local.dataframe[0].value["№"].tolist() if local.dataframe else [])


def test_the_process_page_shows_steps_beside_the_history(dashboard_world: DashboardWorld) -> None:
    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    approver = dashboard_world.persons["hromada-admin-2"]
    _decide_out_of_band(dashboard_world, task_id, approver)
    with unit_of_work() as session:
        process_id = session.get_one(ApprovalTask, task_id).process_id
    at = _app(dashboard_world.persons["hromada-admin-1"].person_id, "views/process.py", id=str(process_id))
    text = _texts(at)
    assert f"№ {process_id}. Демонстраційний запит: Погодити демонстраційний запит" in text
    assert "рішення: погоджено · хто: " + approver.full_name in text
    history = at.dataframe[0].value
    assert list(history.columns) == ["Час (за київським часом)", "Хто", "Подія"]
    assert approver.full_name in history["Хто"].tolist()
    assert any("погоджено" in event for event in history["Подія"])
    assert "approve" not in " ".join(history["Подія"])


def test_the_process_page_hides_a_process_from_an_outsider(dashboard_world: DashboardWorld) -> None:
    from aikom.models import OrgLevel, OrgUnit

    (task_id,) = _tasks_for_approver(dashboard_world, 1)
    with unit_of_work() as session:
        process_id = session.get_one(ApprovalTask, task_id).process_id
        hromada = session.get_one(OrgUnit, dashboard_world.persons["hromada-admin-1"].org_unit_id)
        neighbour = f.org_unit(
            session, level=OrgLevel.HROMADA, parent=session.get_one(OrgUnit, hromada.parent_id)
        )
        outsider_id = f.person(session, f.account(session, neighbour), role=PersonRole.HROMADA_ADMIN).id
    at = _app(outsider_id, "views/process.py", id=str(process_id))
    assert f"Процес №{process_id} поза вашою зоною доступу." in _texts(at)
    assert "Демонстраційний запит" not in _texts(at)


# --- absence -------------------------------------------------------------------------------------------


def test_an_admin_marks_an_absence_and_ends_it(dashboard_world: DashboardWorld) -> None:
    admin = dashboard_world.persons["hromada-admin-2"]
    at = _app(admin.person_id, "views/absence.py")
    today = date.today()
    at.date_input(key="absence_period").set_value((today, today + timedelta(days=3)))
    at.text_input(key="absence_note").input("Відпустка")
    at.button[0].click().run()
    assert not at.exception
    assert "позначено" in _texts(at)
    assert "триває. Примітка: Відпустка" in _texts(at)
    (end,) = [b for b in at.button if str(b.key).startswith("end")]
    end.click().run()
    assert "Відсутність завершено" in _texts(at)
    assert "завершено" in _texts(at)

    above = _app(dashboard_world.persons["rayon-admin"].person_id, "views/absence.py")
    assert admin.full_name in above.dataframe[0].value["Особа"].tolist()  # the subtree's absences


# --- demo mailbox --------------------------------------------------------------------------------------


def _write_message(world: DashboardWorld) -> str:
    key = "aikb_" + "a" * 16 + "_" + "b2" * 26 + "_" + "c" * 7
    mailbox = world.settings.mailbox_dir
    mailbox.mkdir(parents=True, exist_ok=True)
    (mailbox / "000001.eml").write_bytes(
        "From: a@aikom.local\r\nTo: b@example.org\r\nSubject: =?utf-8?b?0J/QtdGA0LXQstGW0YDQutCw?=\r\n"
        "Message-ID: <x@aikom.local>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Базовий ключ доступу: {key}\r\n".encode()
    )
    return key


def test_the_demo_mailbox_is_for_institute_staff_with_keys_masked(dashboard_world: DashboardWorld) -> None:
    key = _write_message(dashboard_world)
    at = _app(dashboard_world.persons["manager"].person_id, MAILBOX)
    assert any("Перевірка" in e.label for e in at.expander)
    shown = _texts(at)
    assert "Базовий ключ доступу: aikb_" in shown and key not in shown and "b2b2b2" not in shown

    director = _app(dashboard_world.persons["director"].person_id, MAILBOX)
    assert "Демонстраційна поштова скринька — лише для працівників ІОА" in _texts(director)
    assert not director.expander


def test_without_demo_mode_there_is_no_mailbox(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aikom.dashboard.pages import registered_pages
    from aikom.settings import get_settings

    monkeypatch.setenv("AIKOM_DEMO_MODE", "false")
    get_settings.cache_clear()
    try:
        assert "mailbox" not in [p.url_path for p in registered_pages()]
        at = _app(dashboard_world.persons["manager"].person_id)
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(MAILBOX)
    finally:
        monkeypatch.delenv("AIKOM_DEMO_MODE")
        get_settings.cache_clear()


# --- sign-in -------------------------------------------------------------------------------------------


def test_a_new_director_gets_a_demo_kep_and_the_first_sign_in_activates_the_card(
    dashboard_world: DashboardWorld,
) -> None:
    from aikom.models import PersonState
    from aikom.processes.director_replacement import DirectorReplacementParams
    from aikom.services import directors

    with unit_of_work() as session:
        # The start-page test may have started this school's replacement already: one at a time.
        process = session.scalars(
            select(Process).where(
                Process.subject_org_unit_id == dashboard_world.school_id,
                Process.type == "director-replacement",
            )
        ).first() or directors.start_replacement(
            session=session,
            actor=f.actor(_person(session, dashboard_world.persons["hromada-admin-2"])),
            params=DirectorReplacementParams.model_validate(
                {
                    "school": str(dashboard_world.school_id),
                    "new_director": {
                        "full_name": "Петренко Ганна Іванівна",
                        "rnokpp": "2345678902",
                        "email": "hanna@example.org",
                        "order_no": "7-к",
                        "order_date": "2026-01-02",
                    },
                }
            ),
        )
        new_id = directors.apply_replacement(session=session, process_id=process.id)  # the flow's step 3
        process_id = process.id

    at = _app(page="views/signin.py")
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
                ApprovalTask.process_id == process_id, ApprovalTask.step_key == "first-sign-in"
            )
        ).one()
        assert step.state == TaskState.DECIDED and step.decided_by_id == new_id

    page = _app(new_id, "views/process.py", id=str(process_id))
    assert "виконано першим входом із КЕП" in _texts(page)
    assert "Рішення: Підтвердити" not in _texts(page)


def test_uploaders_state_the_real_limit_in_ukrainian(dashboard_world: DashboardWorld) -> None:
    at = _app(page="views/signin.py")
    assert "не більше 1 МБ" in _texts(at)
