"""«Підключені ОІС» (public) and the staff's «ОІС» page (connected systems) per role, with AppTest:
an anonymous visitor reads the published list and nothing else about operators; an institute admin widens,
suspends, reinstates and disconnects with КЕП-signed (demo key) decisions; a manager only reads; others
are refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.models import (
    AuditEntry,
    EmailMessage,
    GrantState,
    Ois,
    OisGrant,
    OisPhase,
    OisState,
    OrgLevel,
    OrgUnit,
    Person,
)
from tests import factories as f
from tests import ois_factories as of
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PUBLIC = "views/ois_public.py"
STAFF = "views/ois_staff.py"
HIDDEN_EMAIL = "private.contact@operator.example.ua"
HIDDEN_NAME = "Непублічна Контактна Особа"
HIDDEN_PHONE = "+380939998877"


@dataclass
class Systems:
    connected: int
    connected_name: str
    suspended_name: str
    grant: int


def _systems(world: DashboardWorld, tag: str) -> Systems:
    """A connected ОІС (extended review passed by ioa-admin-2, one school's grant) and a suspended one."""
    with unit_of_work() as session:
        reviewer = session.get_one(Person, world.persons["ioa-admin-2"].person_id)
        connected = of.connected_ois(
            session, reviewer=reviewer, name=f"Щоденник «{tag}»", company=f"ТОВ «{tag}»",
            contact_email=HIDDEN_EMAIL, contact_name=HIDDEN_NAME, contact_phone=HIDDEN_PHONE,
        )  # fmt: skip
        of.review_of(session, connected, reviewer=reviewer)
        suspended = of.connected_ois(
            session, reviewer=reviewer, name=f"Зупинена «{tag}»", state=OisState.SUSPENDED
        )
        hromada = session.get_one(OrgUnit, world.persons["hromada-admin-1"].org_unit_id)
        school = f.org_unit(
            session, level=OrgLevel.SCHOOL, parent=hromada, name=f"Ліцей «{tag}»", edrpou=f.edrpou()
        )
        grant = of.grant(session, connected, school, of.api_key(session, f.account(session, school)))
        return Systems(connected.id, connected.system_name, suspended.system_name, grant.id)


def _everything(at: AppTest) -> str:
    """All the page shows, tables included."""
    tables = [frame.value.to_csv() for frame in at.dataframe]
    return _texts(at) + "\n" + "\n".join(tables)


def test_an_anonymous_visitor_reads_the_published_list_only(dashboard_world: DashboardWorld) -> None:
    systems = _systems(dashboard_world, "Відкритий")
    at = _app(page=PUBLIC)
    assert at.title[0].value == "Підключені ОІС"
    [table] = at.dataframe
    frame = table.value
    assert list(frame.columns) == [
        "Назва системи",
        "Компанія",
        "ЄДРПОУ",
        "Сайт",
        "Можливості",
        "Підключена з (за київським часом)",
    ]
    [mine] = frame[frame["Назва системи"] == systems.connected_name].to_dict("records")
    assert mine["Компанія"] == "ТОВ «Відкритий»" and mine["Можливості"] == "отримання даних"
    assert mine["Сайт"] == "https://journal.example.ua"
    shown = _everything(at)
    assert systems.suspended_name not in shown
    for leak in (HIDDEN_EMAIL, HIDDEN_NAME, HIDDEN_PHONE, "ois-"):
        assert leak not in shown


def test_an_institute_admin_widens_suspends_reinstates_and_disconnects(
    dashboard_world: DashboardWorld,
) -> None:
    systems = _systems(dashboard_world, "Адмінський")
    ois_id = systems.connected
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, STAFF)
    assert at.title[0].value == "ОІС"
    text = _everything(at)
    assert f"{systems.connected_name} — ТОВ «Адмінський» · підключена · отримання даних" in text
    assert HIDDEN_EMAIL in text and "чинних 1, відкликаних 0" in text and "Ліцей «Адмінський»" in text
    assert "Розширена перевірка: пройдена" in text

    # Widen from a future date: planned, the capability still «отримання даних».
    day = datetime.now(UTC).astimezone(KYIV).date() + timedelta(days=14)
    at.selectbox(key=f"ois_action{ois_id}").set_value("widen").run()
    at.date_input(key=f"ois_day{ois_id}").set_value(day).run()
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert not at.exception
    text = _everything(at)
    assert f"передавання даних дозволено з {day:%d.%m.%Y} 00:00" in text, text
    assert "запланована" in text
    assert f"{systems.connected_name} — ТОВ «Адмінський» · підключена · отримання даних" in text
    with unit_of_work() as session:
        [phase] = session.scalars(
            select(OisPhase).where(OisPhase.ois_id == ois_id, OisPhase.decision_id.is_not(None))
        )
        assert phase.effective_from.astimezone(KYIV).date() == day

    # The planned widening cancelled (a reason, a signed decision), then decided again.
    at.selectbox(key=f"ois_action{ois_id}").set_value("cancel_widening").run()
    assert f"Заплановану з {day:%d.%m.%Y} фазу" in _texts(at) and "Вкажіть причину" in _texts(at)
    at.text_area(key=f"ois_reason{ois_id}").input("Помилкова дата").run()
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert not at.exception
    assert f"заплановане з {day:%d.%m.%Y} розширення скасовано" in _texts(at)
    assert "запланована" not in _everything(at)
    assert "cancel_widening" not in at.selectbox(key=f"ois_action{ois_id}").options
    at.selectbox(key=f"ois_action{ois_id}").set_value("widen").run()
    at.date_input(key=f"ois_day{ois_id}").set_value(day).run()
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert f"передавання даних дозволено з {day:%d.%m.%Y} 00:00" in _everything(at)

    # Suspend: a reason is needed before the document is offered.
    at.selectbox(key=f"ois_action{ois_id}").set_value("suspend").run()
    assert "Вкажіть причину" in _texts(at)
    at.text_area(key=f"ois_reason{ois_id}").input("Перевірка інциденту безпеки").run()
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert not at.exception
    assert "зупинено; доступи закладів не діють" in _texts(at)
    with unit_of_work() as session:
        ois = session.get_one(Ois, ois_id)
        assert ois.state == OisState.SUSPENDED and ois.state_reason == "Перевірка інциденту безпеки"

    at.selectbox(key=f"ois_action{ois_id}").set_value("reinstate").run()
    at.text_area(key=f"ois_reason{ois_id}").input("Інцидент закрито").run()
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert "відновлено; доступи закладів знову діють" in _texts(at)

    at.selectbox(key=f"ois_action{ois_id}").set_value("disconnect").run()
    at.text_area(key=f"ois_reason{ois_id}").input("Договір розірвано").run()
    assert "Відключення остаточне: чинні доступи закладів (1) буде відкликано" in _texts(at)
    at.button(key=f"ois_sign{ois_id}_demo").click().run()
    assert not at.exception
    assert "відключено; відкликано доступів закладів: 1" in _texts(at)
    with unit_of_work() as session:
        assert session.get_one(Ois, ois_id).state == OisState.DISCONNECTED
        grant = session.get_one(OisGrant, systems.grant)
        assert (
            grant.state == GrantState.REVOKED and grant.revoke_reason == "ОІС відключено: Договір розірвано"
        )
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "ois", AuditEntry.object_id == str(ois_id))
            .order_by(AuditEntry.id)
        ).all()
        assert actions == [
            "ois.phase_added",
            "ois.phase_cancelled",
            "ois.phase_added",
            "ois.suspended",
            "ois.reinstated",
            "ois.disconnected",
        ]
        told = session.scalars(
            select(EmailMessage)
            .where(EmailMessage.idempotency_key.like(f"ois-{ois_id}-%"))
            .order_by(EmailMessage.id)
        ).all()
        assert [m.to_address for m in told] == [HIDDEN_EMAIL] * 6
        assert [m.variables["subject"] for m in told] == [
            "дозволено передавання даних",
            "скасовано заплановане передавання даних",
            "дозволено передавання даних",
            "роботу зупинено",
            "роботу відновлено",
            "підключення припинено",
        ]

    # The disconnected one is under «Відключені», with no decision offered any more.
    def listed() -> str:
        return "\n".join(str(e.label) for e in at.expander)

    assert systems.connected_name not in listed()
    at.get("button_group")[0].set_value("disconnected").run()
    assert f"{systems.connected_name} — ТОВ «Адмінський» · відключена · немає доступу" in listed()
    assert not [s for s in at.selectbox if s.key == f"ois_action{ois_id}"]


def test_a_refused_decision_is_a_message_and_changes_nothing(dashboard_world: DashboardWorld) -> None:
    systems = _systems(dashboard_world, "Четверте око")
    # ioa-admin-2 passed the extended review: the widening is for another admin (four-eyes).
    at = _app(dashboard_world.persons["ioa-admin-2"].person_id, STAFF)
    at.selectbox(key=f"ois_action{systems.connected}").set_value("widen").run()
    at.button(key=f"ois_sign{systems.connected}_demo").click().run()
    assert not at.exception
    text = _texts(at)
    assert "інший адміністратор ІОА, ніж той, хто провів розширену перевірку" in text
    assert "Traceback" not in text
    with unit_of_work() as session:
        phases = session.scalars(select(OisPhase).where(OisPhase.ois_id == systems.connected)).all()
        assert len(phases) == 1


def test_a_manager_reads_without_deciding(dashboard_world: DashboardWorld) -> None:
    systems = _systems(dashboard_world, "Для аналітика")
    at = _app(dashboard_world.persons["manager"].person_id, STAFF)
    text = _everything(at)
    assert "Перегляд: рішення щодо ОІС ухвалює технічний адміністратор ІОА." in text
    assert systems.connected_name in text and HIDDEN_EMAIL in text
    assert not [s for s in at.selectbox if str(s.key).startswith("ois_action")]


def test_other_roles_and_anonymous_visitors_are_refused_the_staff_page(
    dashboard_world: DashboardWorld,
) -> None:
    systems = _systems(dashboard_world, "Закритий")
    for key in ("support", "director", "hromada-admin-1", "deputy"):
        at = _app(dashboard_world.persons[key].person_id, STAFF)
        text = _everything(at)
        assert "«ОІС» — для технічних адміністраторів ІОА (рішення) та керівників і аналітиків" in text, key
        assert systems.connected_name not in text and HIDDEN_EMAIL not in text, key
    at = _app(page=STAFF)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «ОІС»" in _texts(at)
