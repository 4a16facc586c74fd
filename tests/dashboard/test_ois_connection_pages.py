"""«Реєстрація оператора ОІС», «Моя ОІС» and the staff's «ОІС» (tab «Заявки та перевірки») per role
(Streamlit AppTest, demo КЕП): the operator registers and applies, an institute admin reviews (a failed
item, then a pass with the conclusion), the reviewer may not approve the agreement and another admin does;
nobody else sees anything of it."""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from aikom.db import unit_of_work
from aikom.demo.persons import demo_sign
from aikom.models import (
    ApprovalTask,
    Decision,
    Ois,
    OisCapability,
    OisReview,
    OisState,
    PersonRole,
    Process,
    ReviewRound,
    TaskState,
)
from aikom.processes.ois_connection import OisConnectionParams, SelfAssessmentItem
from aikom.services import approvals
from aikom.services import ois_connection as oc
from aikom.services.approvals import ApprovalRequest
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

MINE, STAFF, REGISTER = "views/ois_mine.py", "views/ois_staff.py", "views/ois_register.py"


def _application(world: DashboardWorld, system: str) -> tuple[int, int]:
    """The demo operator applies (the agreement signed with its demo КЕП): (ois id, process id)."""
    operator = world.persons["ois-operator"]
    content = f"Договір про приєднання: {system}".encode()
    params = OisConnectionParams(
        system_name=system,
        site="https://demo.ejournal.example.org",
        contact_name="Марченко Віктор",
        contact_email="connect@demo-ejournal.example.org",
        agreement_file_name="договір.pdf",
        agreement_base64=base64.b64encode(content).decode(),
        agreement_signature_base64=base64.b64encode(
            demo_sign(world.settings, operator.key, content)
        ).decode(),
        self_assessment=[SelfAssessmentItem(code=c.code, met=True) for c in oc.checklist()],
    )
    with unit_of_work() as session:
        from aikom.core.actor import Actor

        process = oc.start_application(
            session=session, actor=Actor(person_id=operator.person_id, label="оператор"), params=params
        )
        return int(process.parameters["ois_id"]), process.id


def _step(
    process_id: int,
    step_key: str,
    excluded: int | None,
    role: PersonRole = PersonRole.INSTITUTE_ADMIN,
    scope: int | None = None,
) -> int:
    """What the flow opens at a human step (the engine is down in dashboard tests)."""
    with unit_of_work() as session:
        return approvals.create_task(
            session=session,
            request=ApprovalRequest(
                process_id=process_id,
                step_key=step_key,
                title=step_key,
                allowed_roles=[role],
                scope_org_unit_id=scope,
                excluded_person_id=excluded,
                due_business_days=5,
                decisions=[Decision.CONFIRM, Decision.REJECT]
                if role == PersonRole.OIS_OPERATOR
                else [Decision.APPROVE, Decision.REJECT],
            ),
        ).id


def _review_on_page(at: AppTest, ois_id: int, failed: dict[str, str] | None = None) -> AppTest:
    for code, note in (failed or {}).items():
        at.checkbox(key=f"rv{ois_id}connection_{code}_ok").uncheck()
        at.text_input(key=f"rv{ois_id}connection_{code}_note").input(note)
    at.run()
    at.button(key=f"rv{ois_id}connection_demo").click().run()
    assert not at.exception, at.exception
    return at


def _frames(at: AppTest) -> str:
    return "\n".join(df.value.to_string() for df in at.dataframe)


def _downloads(at: AppTest) -> list[str]:
    return [str(e.proto.label) for e in at.get("download_button")]


def test_anonymous_visitors_register_but_see_no_operator_page(dashboard_world: DashboardWorld) -> None:
    for page in (MINE, STAFF):
        at = _app(page=page)
        assert at.title[0].value == "Вхід до АІКОМ"
    at = _app(page=REGISTER)
    assert at.title[0].value == "Реєстрація оператора ОІС"
    assert "КЕП працівника вашої компанії" in _texts(at)


def test_a_company_registers_with_a_demo_kep_and_applies(dashboard_world: DashboardWorld) -> None:
    at = _app(page=REGISTER)
    at.text_input(key="ois_reg_company").input("ТОВ «Новий Щоденник»")
    at.text_input(key="ois_reg_email").input("sofia@novyi-shchodennyk.example.org").run()
    at.button(key="ois_reg_demo").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Моя ОІС", _texts(at)
    assert "Оператора ОІС зареєстровано" in _texts(at)

    # The new operator applies with a demo agreement signed by the demo КЕП.
    system = f"Новий Щоденник {uuid.uuid4().hex[:6]}"
    at.text_input(key="ap_system").input(system)
    at.text_input(key="ap_site").input("https://novyi-shchodennyk.example.org")
    at.text_input(key="ap_contact").input("Гнатюк Софія")
    at.text_input(key="ap_email").input("connect@novyi-shchodennyk.example.org")
    at.checkbox(key="ap_demo").check().run()
    at.button(key="ap_submit").click().run()
    assert not at.exception, at.exception
    assert "Заявку подано" in _texts(at)
    assert f"«{system}» — на розгляді" in _texts(at)
    with unit_of_work() as session:
        ois = session.scalars(select(Ois).where(Ois.system_name == system)).one()
        assert (ois.state, ois.submission_count, ois.company_name) == (
            OisState.IN_REVIEW,
            1,
            "ТОВ «Новий Щоденник»",
        )


def test_an_application_without_a_signature_is_refused_on_the_page(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["ois-operator"].person_id, MINE)
    system = f"Без підпису {uuid.uuid4().hex[:6]}"
    at.text_input(key="ap_system").input(system)
    at.text_input(key="ap_site").input("https://x.example.org")
    at.text_input(key="ap_contact").input("Марченко Віктор")
    at.text_input(key="ap_email").input("x@example.org").run()
    at.button(key="ap_submit").click().run()
    assert not at.exception, at.exception
    assert "Договір про приєднання: додайте файл договору, підписаного КЕП вашої компанії." in _texts(at)
    at.text_input(key="ap_system").input("").run()
    at.checkbox(key="ap_demo").check().run()
    at.button(key="ap_submit").click().run()
    assert "Назва ОІС: обов'язкове поле." in _texts(at)
    with unit_of_work() as session:
        assert session.scalars(select(Ois).where(Ois.system_name == system)).first() is None


def test_nobody_else_sees_the_applications(dashboard_world: DashboardWorld) -> None:
    system = f"Е-Журнал {uuid.uuid4().hex[:6]}"
    _application(dashboard_world, system)
    for key in ("director", "deputy", "oblast-admin", "hromada-admin-1", "support", "ois-operator"):
        at = _app(dashboard_world.persons[key].person_id, STAFF)
        assert "«ОІС» — для технічних адміністраторів ІОА" in _texts(at), key
        assert system not in _texts(at), key
    for key in ("director", "deputy", "ioa-admin-1", "manager", "support"):
        at = _app(dashboard_world.persons[key].person_id, MINE)
        assert "«Моя ОІС» — для оператора ОІС" in _texts(at), key
        assert system not in _texts(at), key
    # The manager reads the applications and decides nothing; the operator sees its own on «Моя ОІС».
    at = _app(dashboard_world.persons["manager"].person_id, STAFF)
    assert system in _texts(at)
    assert not [b for b in at.button if str(b.key).startswith(("rv", "ag"))]
    at = _app(dashboard_world.persons["ois-operator"].person_id, MINE)
    assert f"«{system}» — на розгляді" in _texts(at)


def test_review_returned_then_passed_with_a_conclusion_and_four_eyes_on_the_agreement(
    dashboard_world: DashboardWorld,
) -> None:
    persons = dashboard_world.persons
    operator, reviewer, approver = (
        persons[k].person_id for k in ("ois-operator", "ioa-admin-1", "ioa-admin-2")
    )
    system = f"Щоденник {uuid.uuid4().hex[:6]}"
    ois_id, process_id = _application(dashboard_world, system)
    _step(process_id, "review-1", operator)

    # 1. An institute admin fails TR-02 with a note: RETURNED; the operator reads the note.
    at = _review_on_page(_app(reviewer, STAFF), ois_id, {"TR-02": "Шифруйте ключі API закладів"})
    assert "Перевірку не пройдено" in _texts(at)
    at = _app(operator, MINE)
    assert f"«{system}» — повернуто на доопрацювання" in _texts(at)
    assert "Шифруйте ключі API закладів" in _frames(at)

    # 2. The operator fixes the site and resubmits on «Моя ОІС», signed with its demo КЕП.
    company = dashboard_world.persons["ois-operator"].org_unit_id
    _step(process_id, "resubmit-1", None, PersonRole.OIS_OPERATOR, company)
    at = _app(operator, MINE)
    at.text_input(key=f"rs{ois_id}_site").input("https://fixed.ejournal.example.org")
    at.text_area(key=f"rs{ois_id}_comment").input("Ключі API тепер шифруються").run()
    at.button(key=f"rs{ois_id}_demo").click().run()
    assert not at.exception, at.exception
    assert "Заявку подано повторно (подання 2)" in _texts(at)
    with unit_of_work() as session:
        ois = session.get_one(Ois, ois_id)
        assert (ois.state, ois.submission_count, ois.site) == (
            OisState.IN_REVIEW,
            2,
            "https://fixed.ejournal.example.org",
        )
    _step(process_id, "review-2", operator)

    # 3. The second review passes: the conclusion is issued; both the operator and the staff can download it.
    at = _review_on_page(_app(reviewer, STAFF), ois_id)
    assert "висновок № ВЗ-" in _texts(at)
    with unit_of_work() as session:
        outcomes = session.scalars(
            select(OisReview.outcome).where(OisReview.ois_id == ois_id).order_by(OisReview.id)
        )
        assert [o.value for o in outcomes] == ["failed", "passed"]
    assert any(label.startswith("Висновок № ВЗ-") for label in _downloads(_app(operator, MINE)))
    assert any(label.startswith("Висновок № ВЗ-") for label in _downloads(_app(approver, STAFF)))

    # 4. The reviewer may not approve the agreement; the other admin does, signed.
    agreement_task = _step(process_id, "agreement", reviewer)
    at = _app(reviewer, STAFF)
    assert "Ви перевіряли відповідність цієї ОІС" in _texts(at)
    assert not [b for b in at.button if b.key == f"ag{ois_id}_demo"]
    at = _app(approver, STAFF)
    at.button(key=f"ag{ois_id}_demo").click().run()
    assert not at.exception, at.exception
    assert "Договір погоджено" in _texts(at)
    with unit_of_work() as session:
        task = session.get_one(ApprovalTask, agreement_task)
        assert (task.state, task.decision, task.decided_by_id) == (
            TaskState.DECIDED,
            Decision.APPROVE,
            approver,
        )
        assert session.get_one(Process, process_id).type == "ois-connection"


def test_the_extended_review_of_a_connected_ois_on_the_page(dashboard_world: DashboardWorld) -> None:
    system = f"Розширена {uuid.uuid4().hex[:6]}"
    ois_id, _ = _application(dashboard_world, system)
    with unit_of_work() as session:
        ois = session.get_one(Ois, ois_id)
        ois.state, ois.capability = OisState.CONNECTED, OisCapability.RECEIVE
    at = _app(dashboard_world.persons["ioa-admin-2"].person_id, STAFF)
    at.radio(key="ois_filter").set_value("connected").run()
    at.checkbox(key=f"rv{ois_id}extended_TX-01_ok").uncheck()
    at.text_input(key=f"rv{ois_id}extended_TX-01_note").input("Немає журналу передавання").run()
    at.button(key=f"rv{ois_id}extended_demo").click().run()
    assert not at.exception, at.exception
    assert "Розширену перевірку не пройдено" in _texts(at)
    with unit_of_work() as session:
        review = session.scalars(select(OisReview).where(OisReview.ois_id == ois_id)).one()
        assert (review.round, review.outcome.value) == (ReviewRound.EXTENDED, "failed")
        assert session.get_one(Ois, ois_id).state == OisState.CONNECTED


def test_the_work_queue_links_the_review_to_the_ois_page_and_offers_no_decision(
    dashboard_world: DashboardWorld,
) -> None:
    operator, reviewer = (dashboard_world.persons[k].person_id for k in ("ois-operator", "ioa-admin-1"))
    system = f"Черга {uuid.uuid4().hex[:6]}"
    _, process_id = _application(dashboard_world, system)
    task_id = _step(process_id, "review-1", operator)

    at = _app(reviewer, "views/my_tasks.py")
    assert f"№ {task_id}. review-1" in _texts(at)
    links = [str(e.proto.label) for e in at.get("page_link")]
    assert "Розглянути на сторінці «ОІС»" in links, links
    assert "Це завдання розглядають на сторінці «ОІС» (або командою `aikom ois review" in _texts(at)
    keys = {str(b.key) for b in at.button} | {str(c.key) for c in at.checkbox}
    assert f"open{task_id}" not in keys and f"pick{task_id}" not in keys and f"claim{task_id}" in keys
    # Followed from an old email (/tasks?task=N), still no decision panel.
    at = _app(reviewer, "views/my_tasks.py", task=str(task_id))
    assert not [b for b in at.button if str(b.key).startswith(f"task{task_id}")]
    assert not [r for r in at.radio if r.key == f"d{task_id}"]
    with unit_of_work() as session:
        assert session.get_one(ApprovalTask, task_id).state == TaskState.OPEN
