"""«Служба підтримки» and «Мої звернення» as each role sees them (Streamlit AppTest)."""

from __future__ import annotations

from sqlalchemy import select

from aikom.core.actor import Actor
from aikom.db import unit_of_work
from aikom.models import EmailMessage, SupportMessage, SupportRequest, SupportRequestState, SupportRequestType
from aikom.services import support
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

DESK = "views/support.py"
MINE = "views/my_requests.py"
SCRIPT = "<script>alert('x')</script> **жирний** [клік](http://example.org)"


def _actor(world: DashboardWorld, key: str) -> Actor:
    person = world.persons[key]
    return Actor(person_id=person.person_id, label=person.full_name)


def _file(world: DashboardWorld, key: str, subject: str, body: str = "Текст") -> int:
    with unit_of_work() as session:
        return support.file_request(
            session=session,
            actor=_actor(world, key),
            type=SupportRequestType.QUESTION,
            subject=subject,
            body=body,
        ).id


def test_an_anonymous_visitor_is_sent_to_sign_in(dashboard_world: DashboardWorld) -> None:
    for page, title in ((DESK, "Служба підтримки"), (MINE, "Мої звернення")):
        at = _app(page=page)
        assert at.title[0].value == "Вхід до АІКОМ"
        assert f"щоб відкрити сторінку «{title}»" in _texts(at)


def test_the_desk_is_refused_to_an_ouo_admin_and_a_director(dashboard_world: DashboardWorld) -> None:
    request_id = _file(dashboard_world, "hromada-admin-1", "Чуже звернення")
    for key in ("hromada-admin-1", "director"):
        at = _app(dashboard_world.persons[key].person_id, DESK, request=str(request_id))
        assert "«Служба підтримки» — черга звернень для служби підтримки" in _texts(at), key
        assert "Чуже звернення" not in _texts(at), key
        assert [b.key for b in at.button] == ["signout"], key


def test_a_hromada_admin_files_a_request_and_sees_it_with_its_state(dashboard_world: DashboardWorld) -> None:
    person = dashboard_world.persons["hromada-admin-1"]
    at = _app(person.person_id, MINE)
    assert at.title[0].value == "Мої звернення"
    assert "Вкладення: до 5 МБ кожне" in _texts(at)
    at.button(key="mr_new_send").click().run()
    assert "Тема: поле не може бути порожнім" in _texts(at)
    at.text_input(key="mr_subject").input("Не бачу свого закладу")
    at.text_area(key="mr_body").input(SCRIPT)
    at.button(key="mr_new_send").click().run()
    assert not at.exception
    assert "Звернення надіслано до служби підтримки" in _texts(at)
    with unit_of_work() as session:
        request = session.scalars(
            select(SupportRequest)
            .where(SupportRequest.requester_person_id == person.person_id)
            .order_by(SupportRequest.id.desc())
        ).first()
        assert request is not None and request.subject == "Не бачу свого закладу"
        assert request.org_unit_id == person.org_unit_id and request.state == SupportRequestState.NEW
    assert f"#{request.id} · нове · Питання · Не бачу свого закладу" in _texts(at)


def test_the_support_agent_works_a_request_and_text_stays_text(dashboard_world: DashboardWorld) -> None:
    request_id = _file(dashboard_world, "hromada-admin-1", "Скрипт у тексті", SCRIPT)
    at = _app(dashboard_world.persons["support"].person_id, DESK)
    assert at.title[0].value == "Служба підтримки"
    assert f"#{request_id} · нове · Питання · Скрипт у тексті" in _texts(at)
    at.button(key=f"open-{request_id}").click().run()
    assert not at.exception
    assert SCRIPT in [t.value for t in at.text]  # shown with st.text: never HTML or Markdown
    assert not any("<script>" in m.value for m in at.markdown)

    at.text_area(key="sq_reply_text").input("Заклад додамо після перевірки ЄДРПОУ.")
    at.button(key="sq_reply_send").click().run()
    assert "Відповідь надіслано" in _texts(at)
    at.text_area(key="sq_note_text").input("Перевірити в ЄДЕБО")
    at.button(key="sq_note_send").click().run()
    at.button(key="sq_claim").click().run()
    at.radio(key="sq_decision").set_value(support.TriageDecision.ACCEPT)
    at.button(key="sq_triage_send").click().run()
    assert not at.exception
    with unit_of_work() as session:
        request = session.get_one(SupportRequest, request_id)
        assert request.state == SupportRequestState.IN_PROGRESS
        assert request.assignee_id == dashboard_world.persons["support"].person_id
        assert request.first_response_at is not None
        reply = session.scalars(
            select(SupportMessage).where(
                SupportMessage.request_id == request_id,
                SupportMessage.author_person_id == dashboard_world.persons["support"].person_id,
                SupportMessage.visibility == "public",
            )
        ).first()
        assert reply is not None and reply.outbox_id is not None
        assert session.get_one(EmailMessage, reply.outbox_id).to_address == request.requester_email

    # The requester sees the reply but never the internal note.
    mine = _app(dashboard_world.persons["hromada-admin-1"].person_id, MINE, request=str(request_id))
    assert "Заклад додамо після перевірки ЄДРПОУ." in _texts(mine)
    assert "Перевірити в ЄДЕБО" not in _texts(mine)
    assert "стан: у роботі" in _texts(mine)


def test_an_institute_admin_sees_the_queue_a_director_only_their_own(dashboard_world: DashboardWorld) -> None:
    other = _file(dashboard_world, "hromada-admin-1", "Звернення громади")
    own = _file(dashboard_world, "director", "Звернення директора")
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, DESK)
    assert f"#{other} · нове" in _texts(at) and f"#{own} · нове" in _texts(at)
    mine = _app(dashboard_world.persons["director"].person_id, MINE)
    assert "Звернення директора" in _texts(mine) and "Звернення громади" not in _texts(mine)
    # Someone else's request by its address: not found, nothing shown.
    peek = _app(dashboard_world.persons["director"].person_id, MINE, request=str(other))
    assert f"Звернення №{other} не знайдено" in _texts(peek)
    assert "Звернення громади" not in _texts(peek)
