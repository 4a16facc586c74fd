"""`aikom absence set|end|list`: an admin away — the unit above gets the tasks «за відсутності» and loses
them again when the admin is back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.models import Absence, EmailMessage, PersonRole
from tests import factories as f
from tests.cli.conftest import Aikom


def _setup() -> tuple[int, int, int, int]:
    """(the hromada's only admin, the rayon admin above, the school's director, an open hromada task)."""
    with unit_of_work(None) as s:
        units = f.cascade(s, with_edrpou=True)
        admin = f.person(s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
        rayon = f.account(s, units["rayon"])
        rayon_admin = f.person(s, rayon, role=PersonRole.RAYON_ADMIN)
        requester = f.person(s, rayon, role=PersonRole.RAYON_ADMIN)
        director = f.person(s, f.account(s, units["school"]), role=PersonRole.DIRECTOR)
        _, task = f.approval_task(
            s, requester=requester, subject=units["school"], scope=units["hromada"],
            allowed_roles=[PersonRole.HROMADA_ADMIN], due_business_days=5,
        )  # fmt: skip
        return admin.id, rayon_admin.id, director.id, task.id


def _day(offset: int) -> str:
    return (datetime.now(UTC).astimezone(KYIV).date() + timedelta(days=offset)).isoformat()


def _queue(aikom: Aikom, person: int) -> dict[int, dict[str, object]]:
    code, page = aikom("tasks", "list", "--as", str(person))
    assert code == 0
    return {row["task_id"]: row for row in page["rows"]}


def test_absence_set_hands_tasks_above_and_end_takes_them_back(aikom: Aikom) -> None:
    admin, rayon_admin, _, task = _setup()
    assert task not in _queue(aikom, rayon_admin)

    code, recorded = aikom(
        "absence", "set", "--as", str(admin), "--from", _day(0), "--to", _day(3), "--note", "Відпустка"
    )

    assert code == 0, recorded
    assert (recorded["starts_on"], recorded["ends_on"], recorded["note"]) == (_day(0), _day(3), "Відпустка")
    offered = _queue(aikom, rayon_admin)[task]
    assert offered["absence_of"] is not None
    with unit_of_work(None) as s:
        told = s.scalars(
            select(EmailMessage.template).where(
                EmailMessage.idempotency_key.like(f"approval-task-{task}-absence-{admin}-person-%")
            )
        ).all()
    assert told == ["approval_notice"]
    code, listed = aikom("absence", "list", "--as", str(admin))
    assert code == 0 and [(a["id"], a["active"]) for a in listed] == [(recorded["id"], True)]

    code, ended = aikom("absence", "end", str(recorded["id"]), "--as", str(admin))

    assert code == 0 and ended["ended_at"] is not None
    assert task not in _queue(aikom, rayon_admin)
    assert task in _queue(aikom, admin)
    code, again = aikom("absence", "end", str(recorded["id"]), "--as", str(admin))
    assert code == 1 and again["error"] == "not_found"


def test_a_past_period_a_bad_date_and_a_director_are_refused(aikom: Aikom) -> None:
    admin, _, director, _ = _setup()

    code, refused = aikom("absence", "set", "--as", str(admin), "--from", _day(-10), "--to", _day(-3))
    assert code == 1 and refused["error"] == "validation_failed"
    assert refused["message"].startswith("Кінець відсутності: період уже минув")
    code, refused = aikom("absence", "set", "--as", str(admin), "--from", "завтра", "--to", _day(3))
    assert code == 1
    assert refused["message"].startswith("Початок відсутності: «завтра» — потрібна дата у форматі РРРР-ММ-ДД")
    code, refused = aikom("absence", "set", "--as", str(director), "--from", _day(0), "--to", _day(1))
    assert code == 1 and refused["error"] == "role_not_allowed"
    assert "керівник закладу не передає своїх повноважень" in refused["message"]
    with unit_of_work(None) as s:
        assert s.scalars(select(Absence).where(Absence.person_id.in_([admin, director]))).all() == []
