"""`aikom monitor`: an oblast manager's figures on a small seeded oblast, the period and scope refused in
Ukrainian, and the readable summary."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.models import OrgLevel, OrgUnit, PersonRole, PersonState, Process, ProcessState
from aikom.services.monitor import DEFAULT_DAYS
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.monitoring import close_open_work, refresh_summaries

HROMADA_ADMIN = PersonRole.HROMADA_ADMIN


@dataclass
class Oblast:
    """An oblast manager's world: October 2026 in one oblast, and a neighbouring oblast."""

    manager: int
    rayon: int
    rayon_katottg: str
    other_oblast: int
    overdue_task: int
    escalated_task: int
    oblasts: list[int]


def _kyiv(day: int, hour: int = 10, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=KYIV)


def _finished(s: Session, subject: OrgUnit, state: ProcessState, created: datetime) -> None:
    """A demo process that ran for two days and ended in `state`."""
    s.add(
        Process(
            type="demo-approval",
            title=f"Тестовий процес ({state.value})",
            state=state,
            subject_org_unit_id=subject.id,
            created_at=created,
            finished_at=created + timedelta(hours=48),
        )
    )
    s.flush()


def _oblast() -> Oblast:
    """Finished in October: 2 completed, 1 rejected, 1 expired (and 1 completed in September); open now:
    one process started in October whose step is overdue, one started today whose step was escalated;
    one open process in the neighbouring oblast."""
    with unit_of_work(None) as s:
        units = f.cascade(s, with_edrpou=True)
        katottg = "UA99" + "".join(random.choices("0123456789", k=15))  # no real code starts so
        units["rayon"].katottg = katottg
        other = f.org_unit(s, level=OrgLevel.OBLAST, parent=units["national"])
        other_hromada = f.org_unit(s, level=OrgLevel.HROMADA, parent=other, oblast_id=other.id)
        manager = f.person(s, f.account(s, units["oblast"]), role=PersonRole.MANAGER)
        admin = f.person(s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
        stranger = f.person(s, f.account(s, other_hromada), role=PersonRole.HROMADA_ADMIN)
        school = units["school"]
        for state, day in [
            (ProcessState.COMPLETED, 1),
            (ProcessState.COMPLETED, 12),
            (ProcessState.REJECTED, 14),
            (ProcessState.EXPIRED, 20),
        ]:
            _finished(s, school, state, _kyiv(day))
        _finished(s, school, ProcessState.COMPLETED, _kyiv(10, month=9))
        now = datetime.now(UTC)
        overdue_process, overdue = f.approval_task(
            s, requester=admin, subject=school, scope=units["hromada"], allowed_roles=[HROMADA_ADMIN]
        )  # fmt: skip
        overdue_process.state, overdue_process.created_at = ProcessState.WAITING, _kyiv(25)
        overdue.due_at = now - timedelta(hours=2)
        escalated_process, escalated = f.approval_task(
            s, requester=admin, subject=school, scope=units["hromada"], allowed_roles=[HROMADA_ADMIN]
        )  # fmt: skip
        escalated_process.state = ProcessState.WAITING
        escalated.escalation_level, escalated.due_at = 1, now + timedelta(days=3)
        elsewhere, _ = f.approval_task(
            s, requester=stranger, subject=other_hromada, scope=other_hromada,
            allowed_roles=[PersonRole.HROMADA_ADMIN],
        )  # fmt: skip
        elsewhere.state = ProcessState.WAITING
        s.flush()
        return Oblast(
            manager=manager.id,
            rayon=units["rayon"].id,
            rayon_katottg=katottg,
            other_oblast=other.id,
            overdue_task=overdue.id,
            escalated_task=escalated.id,
            oblasts=[units["oblast"].id, other.id],
        )


@pytest.fixture
def oblast(aikom: Aikom) -> Iterator[Oblast]:
    """The seeded oblast (committed), in the monitor's summaries as a reconciler pass would leave them;
    what it left open is cancelled afterwards."""
    world = _oblast()
    refresh_summaries(None, datetime.now(UTC))
    yield world
    close_open_work(None, world.oblasts)


def test_json_holds_the_oblast_figures(aikom: Aikom, oblast: Oblast) -> None:
    w = oblast

    code, m = aikom(
        "monitor", "--as", str(w.manager), "--from", "01.10.2026", "--to", "2026-10-31", "--by", "week"
    )

    assert code == 0, m
    assert (m["scope"]["level"], m["scope"]["start"], m["scope"]["end"]) == (
        "oblast",
        "2026-10-01",
        "2026-10-31",
    )
    counts = {(c["state"], c["open"]): c["count"] for c in m["counts"]}
    assert counts == {
        ("completed", False): 2,
        ("rejected", False): 1,
        ("expired", False): 1,
        ("waiting", True): 2,  # the neighbouring oblast's process is not counted
    }
    assert [(s["open"], s["overdue"], s["escalated"]) for s in m["steps"]] == [(2, 1, 1)]
    assert (m["breaches"]["overdue"], m["breaches"]["escalated"]) == (1, 1)
    # The worst breaches: the escalated step first, then the overdue one.
    assert [b["task_id"] for b in m["breaches"]["worst"]] == [w.escalated_task, w.overdue_task]
    assert {o["task_id"] for o in m["oldest"]} == {w.overdue_task, w.escalated_task}
    trends = m["trends"]
    assert trends[0]["bucket"] == "2026-09-28"  # weeks start on Monday
    assert sum(t["started"] for t in trends) == 5  # four finished and the one still open
    assert (sum(t["completed"] for t in trends), sum(t["rejected"] for t in trends)) == (2, 1)
    assert trends[-1]["backlog"] == 1  # at the end of October only the overdue one was open
    whole = [d for d in m["durations"] if d["step"] is None]
    assert [(d["count"], d["p50_hours"]) for d in whole] == [(4, 48.0)]
    assert [a["name"] for a in m["areas"]] and all(a["level"] == "rayon" for a in m["areas"])


def test_a_unit_is_named_by_katottg_and_the_period_has_a_default(aikom: Aikom, oblast: Oblast) -> None:
    w = oblast

    code, m = aikom("monitor", "--as", str(w.manager), "--unit", w.rayon_katottg, "--type", "demo-approval")

    assert code == 0, m
    assert (m["scope"]["unit_id"], m["scope"]["process_type"]) == (w.rayon, "demo-approval")
    start, end = (datetime.fromisoformat(m["scope"][k]).date() for k in ("start", "end"))
    assert (end - start).days == DEFAULT_DAYS - 1
    assert m["breaches"]["overdue"] == 1


def test_a_bad_period_or_granularity_is_refused_in_ukrainian(aikom: Aikom, oblast: Oblast) -> None:
    w = oblast

    code, refused = aikom("monitor", "--as", str(w.manager), "--from", "31.10.2026", "--to", "01.10.2026")
    assert code == 1 and refused["error"] == "validation_failed"
    assert "кінець не може бути раніше за початок" in refused["message"]

    code, refused = aikom("monitor", "--as", str(w.manager), "--from", "31/10/2026")
    assert code == 1 and "Початок періоду" in refused["message"] and "ДД.ММ.РРРР" in refused["message"]

    code, refused = aikom("monitor", "--as", str(w.manager), "--from", "01.01.2020", "--to", "01.10.2026")
    assert code == 1 and "5 років" in refused["message"]

    code, refused = aikom("monitor", "--as", str(w.manager), "--by", "month")
    assert code == 1 and "за тижнями" in refused["message"]

    code, refused = aikom("monitor", "--as", str(w.manager), "--type", "no-such-process")
    assert code == 1 and "Тип процесу" in refused["message"]


def test_another_oblast_or_a_role_without_the_monitor_is_refused(aikom: Aikom, oblast: Oblast) -> None:
    w = oblast

    code, refused = aikom("monitor", "--as", str(w.manager), "--unit", f"id:{w.other_oblast}")
    assert code == 1 and refused["error"] == "not_in_scope"
    assert "поза вашою зоною відповідальності" in refused["message"]

    code, refused = aikom("monitor", "--as", str(w.manager), "--unit", "UA99999999999999999")
    assert code == 1 and "не знайдено" in refused["message"]

    with unit_of_work(None) as s:
        director = f.person(
            s, f.account(s, f.org_unit(s, level=OrgLevel.SCHOOL, parent=s.get_one(OrgUnit, w.rayon))),
            role=PersonRole.DIRECTOR, state=PersonState.ACTIVE,
        )  # fmt: skip
        director_id = director.id
    code, refused = aikom("monitor", "--as", str(director_id))
    assert code == 1 and refused["error"] == "role_not_allowed"

    code, refused = aikom("monitor")
    assert code == 1 and "--as" in refused["message"]


def test_without_json_a_short_ukrainian_summary(aikom: Aikom, oblast: Oblast) -> None:
    from aikom.cli.main import app

    w = oblast

    runner = CliRunner()

    shown = runner.invoke(
        app, ["monitor", "--as", str(w.manager), "--from", "2026-10-01", "--to", "2026-10-31"]
    )
    assert shown.exit_code == 0, shown.output
    assert "Моніторинг:" in shown.stdout and "за київським часом" in shown.stdout
    assert "Завершені за період: 4 (завершено — 2, відхилено — 1, строк минув — 1)" in shown.stdout
    assert "прострочено: 1, передано вище: 1" in shown.stdout

    refused = runner.invoke(app, ["monitor", "--as", str(w.manager), "--unit", f"id:{w.other_oblast}"])
    assert refused.exit_code == 1
    assert "Помилка:" in refused.stderr and "Traceback" not in refused.output
