"""`aikom deputies list|deactivate` as a director uses them, and the refusals a deputy or another school's
director gets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from aikom.cli.main import app
from aikom.db import unit_of_work
from aikom.models import EmailMessage, OrgLevel, Person, PersonRole, PersonState
from tests import factories as f
from tests.cli.conftest import Aikom


@dataclass
class School:
    director: int
    director_email: str
    active: int
    pending: int
    stranger: int


@pytest.fixture
def school(database_url: str) -> Iterator[School]:
    """A committed school with its director, an active and a pending deputy, and a neighbour's director."""
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        account = f.account(s, units["school"])
        director = f.person(s, account, role=PersonRole.DIRECTOR, name="Мельник Ірина Олегівна")
        active = f.person(
            s, account, role=PersonRole.DEPUTY, name="Гончаренко Дмитро Сергійович", appointed_by=director
        )
        active.title = "Заступник з навчальної роботи"
        pending = f.person(
            s,
            account,
            role=PersonRole.DEPUTY,
            state=PersonState.PENDING,
            name="Ткаченко Олена Василівна",
            appointed_by=director,
        )
        neighbour = f.org_unit(s, level=OrgLevel.SCHOOL, parent=units["hromada"])
        stranger = f.person(s, f.account(s, neighbour), role=PersonRole.DIRECTOR)
        made = School(
            director=director.id,
            director_email=director.email,
            active=active.id,
            pending=pending.id,
            stranger=stranger.id,
        )
    yield made
    ids = [made.director, made.active, made.pending, made.stranger]
    with unit_of_work(database_url) as s:
        s.execute(update(Person).where(Person.id.in_(ids)).values(state=PersonState.INACTIVE))


def test_a_director_lists_the_deputies_and_deactivates_an_active_one(
    aikom: Aikom, school: School, database_url: str
) -> None:
    code, listed = aikom("deputies", "list", "--as", school.director_email)
    assert code == 0, listed
    rows = {row["person_id"]: row for row in listed["deputies"]}
    assert list(rows) == [school.pending, school.active]  # newest first
    assert rows[school.active]["state"] == "active" and rows[school.active]["state_uk"] == "активний"
    assert rows[school.active]["position"] == "Заступник з навчальної роботи"
    assert rows[school.pending]["state_uk"] == "очікує першого входу з КЕП"
    assert {row["appointed_by"] for row in rows.values()} == {"Мельник Ірина Олегівна"}
    assert all("rnokpp" not in row for row in rows.values())

    code, done = aikom("deputies", "deactivate", str(school.active), "--as", str(school.director))
    assert code == 0, done
    assert done["state"] == "inactive"
    assert done["message"].startswith("Заступника «Гончаренко Дмитро Сергійович»")
    assert "деактивовано" in done["message"]
    with unit_of_work(database_url) as s:
        assert s.get_one(Person, school.active).state == PersonState.INACTIVE
        told = s.scalar(
            select(func.count()).where(EmailMessage.idempotency_key == f"deputy-{school.active}-deactivated")
        )
        assert told == 1

    code, again = aikom("deputies", "deactivate", str(school.active), "--as", str(school.director))
    assert (code, again["error"]) == (1, "deputy_not_deactivatable")
    assert "уже деактивовано" in again["message"]
    code, pending = aikom("deputies", "deactivate", str(school.pending), "--as", str(school.director))
    assert (code, pending["error"]) == (1, "deputy_not_deactivatable")
    assert "ще очікує першого входу з КЕП" in pending["message"]


def test_a_deputy_and_another_schools_director_are_refused(aikom: Aikom, school: School) -> None:
    code, listed = aikom("deputies", "list", "--as", str(school.active))
    assert (code, listed["error"]) == (1, "deputies_for_directors_only")
    assert "заступник не може керувати заступниками" in listed["message"]

    code, refused = aikom("deputies", "deactivate", str(school.active), "--as", str(school.active))
    assert (code, refused["error"]) == (1, "role_not_allowed")
    code, elsewhere = aikom("deputies", "deactivate", str(school.active), "--as", str(school.stranger))
    assert (code, elsewhere["error"]) == (1, "not_in_scope")
    code, unknown = aikom("deputies", "list", "--as", "nobody@example.org")
    assert (code, unknown["error"]) == (1, "not_found")

    code, theirs = aikom("deputies", "list", "--as", str(school.stranger))
    assert code == 0 and theirs["deputies"] == []  # the neighbour's own school has none


def test_without_json_a_refusal_is_one_ukrainian_line(aikom: Aikom, school: School) -> None:
    # (`aikom` set the environment up; this call reads the human output, not the JSON.)
    result = CliRunner().invoke(app, ["deputies", "list", "--as", str(school.active)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Помилка: Заступники: керувати заступниками")
    assert "Traceback" not in result.output

    result = CliRunner().invoke(app, ["deputies", "list", "--as", str(school.director)])
    assert result.exit_code == 0
    assert result.stdout.startswith("Заступників: 2 (активних: 1)")
    assert "Гончаренко Дмитро Сергійович (Заступник з навчальної роботи) — активний" in result.stdout
