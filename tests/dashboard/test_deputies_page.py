"""«Заступники» as a director, a deputy and an anonymous visitor see it (Streamlit AppTest)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from aikom.db import unit_of_work
from aikom.models import EmailMessage, OrgLevel, OrgUnit, Person, PersonRole, PersonState
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PAGE = "views/deputies.py"


@dataclass
class School:
    director: int
    active: int
    pending: int
    former: int


def _school(world: DashboardWorld, name: str) -> School:
    """A school of the demo hromada of its own, its director and three deputies (one of each state)."""
    with unit_of_work() as session:
        hromada = session.get_one(OrgUnit, world.persons["hromada-admin-1"].org_unit_id)
        school = f.org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, name=name)
        account = f.account(session, school)
        director = f.person(session, account, role=PersonRole.DIRECTOR, name="Мельник Ірина Олегівна")

        def deputy(full_name: str, state: PersonState) -> int:
            person = f.person(
                session, account, role=PersonRole.DEPUTY, state=state, name=full_name, appointed_by=director
            )
            person.title = "Заступник директора з навчальної роботи"
            return person.id

        return School(
            director=director.id,
            former=deputy("Бойко Тарас Ігорович", PersonState.INACTIVE),
            pending=deputy("Ткаченко Олена Василівна", PersonState.PENDING),
            active=deputy("Гончаренко Дмитро Сергійович", PersonState.ACTIVE),
        )


def test_a_director_sees_the_deputies_and_deactivates_an_active_one(dashboard_world: DashboardWorld) -> None:
    school = _school(dashboard_world, "Гімназія № 5")
    at = _app(school.director, PAGE)
    assert at.title[0].value == "Заступники"
    text = _texts(at)
    assert "Усього: 3, активних: 1." in text
    assert "Гончаренко Дмитро Сергійович — активний" in text
    assert "Ткаченко Олена Василівна — очікує першого входу з КЕП" in text
    assert "Бойко Тарас Ігорович — деактивований" in text
    assert "Посада: Заступник директора з навчальної роботи" in text
    assert "Призначив: Мельник Ірина Олегівна" in text
    # Only the active deputy can be deactivated; a new one is appointed through «Почати процес».
    assert [b.key for b in at.button if str(b.key).startswith("deactivate")] == [f"deactivate{school.active}"]
    assert any("Почати процес" in str(link.label) for link in at.get("page_link"))

    at.button(key=f"deactivate{school.active}").click().run()
    assert "Деактивувати заступника «Гончаренко Дмитро Сергійович»?" in _texts(at)
    at.button(key=f"cancel{school.active}").click().run()  # changed their mind: nothing happened
    with unit_of_work() as session:
        assert session.get_one(Person, school.active).state == PersonState.ACTIVE

    at.button(key=f"deactivate{school.active}").click().run()
    at.button(key=f"confirm{school.active}").click().run()
    assert not at.exception
    text = _texts(at)
    assert "Заступника «Гончаренко Дмитро Сергійович» деактивовано" in text
    assert "Гончаренко Дмитро Сергійович — деактивований" in text
    assert "Усього: 3, активних: 0." in text
    assert not [b for b in at.button if str(b.key).startswith("deactivate")]
    with unit_of_work() as session:
        assert session.get_one(Person, school.active).state == PersonState.INACTIVE
        told = session.scalar(
            select(func.count()).where(EmailMessage.idempotency_key == f"deputy-{school.active}-deactivated")
        )
        assert told == 1


def test_a_refusal_is_a_message_not_a_traceback(dashboard_world: DashboardWorld) -> None:
    school = _school(dashboard_world, "Гімназія № 6")
    at = _app(school.director, PAGE)
    at.button(key=f"deactivate{school.active}").click().run()
    with unit_of_work() as session:  # the director's own card ended meanwhile (say, they were replaced)
        session.get_one(Person, school.director).state = PersonState.INACTIVE
    at.button(key=f"confirm{school.active}").click().run()
    assert not at.exception
    text = _texts(at)
    assert "Ваша картка не активна" in text
    assert "Traceback" not in text and "Гончаренко Дмитро Сергійович" not in text
    with unit_of_work() as session:
        assert session.get_one(Person, school.active).state == PersonState.ACTIVE


def test_a_deputy_cannot_manage_deputies(dashboard_world: DashboardWorld) -> None:
    at = _app(dashboard_world.persons["deputy"].person_id, PAGE)
    refusal = "«Заступники» — для керівника закладу освіти; заступник не може керувати заступниками."
    assert refusal in _texts(at)
    assert [b.key for b in at.button] == ["signout"]
    assert "Руденко Андрій Васильович —" not in _texts(at)


def test_an_anonymous_visitor_is_asked_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(page=PAGE)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Заступники»" in _texts(at)
