"""The weekly monitor digest: last week's figures to every active manager, once a week, in Ukrainian."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from aikom.core.calendar import KYIV
from aikom.db import unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.models import (
    ApprovalTask,
    EmailMessage,
    EmailState,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.services import monitor_digest
from aikom.services.monitor_digest import digest_due, enqueue_due_digests, reported_week
from aikom.services.reconcile import reconcile
from aikom.settings import Settings
from tests import factories as f
from tests.monitoring import close_open_work, refresh_summaries

HROMADA_ADMIN = PersonRole.HROMADA_ADMIN

# Wednesday of ISO week 11 of 2026: the digest reports on Monday 2 – Sunday 8 March (week 10).
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=KYIV)
KEY = "monitor-digest-2026-W10-"


def _kyiv(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=KYIV)


@dataclass
class World:
    """An oblast with a manager, and people who must get no digest."""

    manager: int
    manager_email: str
    others: list[str]  # emails: a pending manager, an oblast admin, an institute admin
    overdue_process: int
    overdue_task: int
    oblast: int


def _finished(
    s: Session, subject: OrgUnit, state: ProcessState, created: datetime, finished: datetime
) -> None:
    s.add(Process(type="demo-approval", state=state, subject_org_unit_id=subject.id, created_at=created,
                  finished_at=finished))  # fmt: skip


@pytest.fixture
def world(database_url: str) -> Iterator[Callable[[], World]]:
    """Make worlds (committed); what they left open is cancelled afterwards."""
    made: list[World] = []

    def make() -> World:
        made.append(_world(database_url))
        return made[-1]

    yield make
    if made:
        close_open_work(database_url, [w.oblast for w in made])


def _world(database_url: str) -> World:
    """In week 10: 2 completed and 1 rejected started and finished, 1 expired (started the week before),
    one started and still waiting — its step due on Tuesday of week 11 (overdue at NOW)."""
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        oblast, school = units["oblast"], units["school"]
        manager = f.person(s, f.account(s, oblast), role=PersonRole.MANAGER, name="Коваленко Ірина Петрівна")
        others = [
            f.person(s, f.account(s, units["rayon"]), role=PersonRole.MANAGER, state=PersonState.PENDING),
            f.person(s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN),
            f.person(s, f.account(s, units["national"]), role=PersonRole.INSTITUTE_ADMIN),
        ]
        admin = others[1]
        _finished(s, school, ProcessState.COMPLETED, _kyiv(2), _kyiv(4))
        _finished(s, school, ProcessState.COMPLETED, _kyiv(3), _kyiv(5))
        _finished(s, school, ProcessState.REJECTED, _kyiv(3), _kyiv(5))
        _finished(s, school, ProcessState.EXPIRED, _kyiv(20, month=2), _kyiv(6))
        _finished(s, school, ProcessState.COMPLETED, _kyiv(10), _kyiv(10, 12))  # this week: not reported
        process, task = f.approval_task(
            s, requester=admin, subject=school, scope=units["hromada"], allowed_roles=[HROMADA_ADMIN]
        )  # fmt: skip
        process.state, process.created_at, process.title = ProcessState.WAITING, _kyiv(5), "Запит <№1>"
        task.created_at, task.due_at = _kyiv(5), _kyiv(10)
        s.flush()
        return World(
            manager=manager.id,
            manager_email=manager.email,
            others=[p.email for p in others],
            overdue_process=process.id,
            overdue_task=task.id,
            oblast=oblast.id,
        )


def _digests(database_url: str, *addresses: str) -> list[EmailMessage]:
    with unit_of_work(database_url) as s:
        return list(
            s.scalars(
                select(EmailMessage).where(
                    EmailMessage.template == "monitor_digest", EmailMessage.to_address.in_(addresses)
                )
            )
        )


@pytest.fixture
def dead_api_url() -> str:
    """An API URL nobody listens on (the digest needs no engine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def test_the_week_reported_and_when_it_may_go_out() -> None:
    monday = datetime(2026, 3, 9, 7, 59, tzinfo=KYIV)
    assert not digest_due(monday)
    assert digest_due(monday + timedelta(minutes=1))
    assert digest_due(datetime(2026, 3, 15, 23, 59, tzinfo=KYIV))  # Sunday: still this week's turn
    week = reported_week(monday)
    assert (week.start.isoformat(), week.end.isoformat(), week.label) == (
        "2026-03-02",
        "2026-03-08",
        "2026-W10",
    )
    assert reported_week(datetime(2026, 3, 15, 23, 59, tzinfo=KYIV)) == week
    # Across the new year: ISO week 53 of 2026.
    new_year = reported_week(datetime(2027, 1, 4, 9, 0, tzinfo=KYIV))
    assert (new_year.start.isoformat(), new_year.label) == ("2026-12-28", "2026-W53")
    assert new_year.key(7) == "monitor-digest-2026-W53-7"


def test_the_reconciler_enqueues_the_digest_once_a_week_and_only_to_active_managers(
    database_url: str, dead_api_url: str, world: Callable[[], World]
) -> None:
    w = world()

    early = reconcile(db_url=database_url, api_url=dead_api_url, now=_kyiv(9, 7))  # Monday 07:00
    reports = [reconcile(db_url=database_url, api_url=dead_api_url, now=NOW) for _ in range(2)]

    assert w.manager not in early.digests
    assert w.manager in reports[0].digests and w.manager not in reports[1].digests
    (sent,) = _digests(database_url, w.manager_email)
    assert sent.idempotency_key == f"{KEY}{w.manager}"
    assert _digests(database_url, *w.others) == []
    v: dict[str, Any] = sent.variables
    assert v["iso_week"] == "2026-W10" and v["week_label"] == "02.03.2026 – 08.03.2026"
    assert (v["started"], v["completed"], v["rejected"], v["expired"], v["backlog"]) == (4, 2, 1, 1, 1)
    # The same pass escalated the overdue step (hromada → rayon) before the digest was written.
    assert (v["overdue"], v["escalated"]) == (0, 1)
    (breach,) = v["breaches"]
    assert breach["escalation_level"] == 1 and breach["overdue"] is None
    assert breach["link"].endswith(f"/process?id={w.overdue_process}")


def test_a_manager_whose_figures_fail_is_skipped_and_tried_again(
    database_url: str,
    world: Callable[[], World],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = world()
    second = world()
    real = monitor_digest.monitor

    def broken_for_the_first(session: Session, viewer: Person, *args: Any, **kwargs: Any) -> Any:
        if viewer.id == w.manager:
            session.execute(text("SELECT 1 / 0"))  # a failing SQL statement: the savepoint must contain it
        return real(session, viewer, *args, **kwargs)

    monkeypatch.setattr(monitor_digest, "monitor", broken_for_the_first)
    with (
        caplog.at_level(logging.WARNING, logger="aikom.services.monitor_digest"),
        unit_of_work(database_url) as s,
    ):
        sent = enqueue_due_digests(session=s, now=NOW)
    assert w.manager not in sent and second.manager in sent
    assert any(f"person {w.manager} skipped" in r.getMessage() for r in caplog.records)
    assert _digests(database_url, w.manager_email) == []

    monkeypatch.setattr(monitor_digest, "monitor", real)
    with unit_of_work(database_url) as s:
        assert enqueue_due_digests(session=s, now=NOW) == [w.manager]  # only the one still owed


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Committing sessions; earlier tests' unsent mail is set aside so that it is not delivered here."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as s:
        s.execute(
            update(EmailMessage)
            .where(EmailMessage.state == EmailState.PENDING)
            .values(state=EmailState.FAILED)
        )
    yield factory


def test_the_digest_reaches_the_manager_in_ukrainian(
    database_url: str, world: Callable[[], World], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    w = world()
    refresh_summaries(database_url, NOW - timedelta(minutes=1))  # the reconciler's previous pass
    with sessions.begin() as s:
        assert w.manager in enqueue_due_digests(session=s, now=NOW)  # deadlines not run: still overdue

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        deliver_pending_sync(Settings(smtp_port=port), sessions)
    finally:
        sink.stop()

    (mail,) = [m for m in read_mailbox(tmp_path / "mailbox") if m.to == w.manager_email]
    assert mail.subject.startswith("АІКОМ: моніторинг процесів за тиждень 02.03.2026 – 08.03.2026")
    text = mail.text
    assert "Шановна(ий) Коваленко Ірина Петрівна!" in text
    for line in (
        "розпочато процесів: 4",
        "завершено: 2",
        "відхилено: 1",
        "строк минув без рішення: 1",
        "незавершених процесів на кінець тижня: 1",
        "прострочених кроків: 1",
        "кроків, переданих вище через прострочення: 0",
    ):
        assert line in text, line
    assert "Станом на 11.03.2026 09:59 за київським часом" in text  # when the summaries were made
    assert "строк минув 10.03.2026 10:00 за київським часом, прострочено на 24 год" in text
    assert f"/process?id={w.overdue_process}" in text
    assert mail.html is not None and "Запит &lt;№1&gt;" in mail.html  # escaped
    assert "/monitor" in mail.html


def test_a_failing_digest_never_breaks_the_reconciler_pass(
    database_url: str, dead_api_url: str, world: Callable[[], World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()

    def broken(session: Session, week: Any) -> list[Person]:
        session.execute(text("SELECT 1 / 0"))
        return []

    monkeypatch.setattr(monitor_digest, "managers_owing", broken)
    report = reconcile(db_url=database_url, api_url=dead_api_url, now=NOW)

    assert report.digests == [] and w.overdue_task in report.escalated
    with unit_of_work(database_url) as s:  # the pass's own work was committed all the same
        assert s.get_one(ApprovalTask, w.overdue_task).escalation_level == 1
