"""Outbox → SMTP: messages reach a real SMTP server exactly once, in Ukrainian, HTML escaped."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.mail.templates import (
    ApprovalNotice,
    ApprovalRequested,
    MailCheck,
    PersonNotice,
    ProcessOutcome,
    render,
)
from aikom.models import EmailMessage, EmailState
from aikom.services.outbox import enqueue
from aikom.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Committing sessions on the test database; this test's outbox rows are removed afterwards."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as s:  # earlier tests' leftovers must not be delivered here
        s.execute(update(EmailMessage).values(state=EmailState.FAILED))
    yield factory


def _enqueue(sessions: sessionmaker[Session], to: str, name: str = "Оксана") -> int:
    with sessions.begin() as s:
        row = enqueue(
            session=s,
            template="mail_check",
            to_address=to,
            variables=MailCheck(recipient_name=name),
            idempotency_key=f"test-{uuid.uuid4()}",
        )
        return row.id


def test_message_is_delivered_once_with_text_and_html(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    port = _free_port()
    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        settings = Settings(smtp_port=port)
        outbox_id = _enqueue(sessions, "school@example.org", name="<b>Оксана</b>")
        report = deliver_pending_sync(settings, sessions)
        again = deliver_pending_sync(settings, sessions)
    finally:
        sink.stop()
    assert report.sent == 1
    assert again.sent == 0
    mailbox = read_mailbox(tmp_path / "mailbox")
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message.to == "school@example.org"
    assert message.subject == "АІКОМ: перевірка пошти"
    assert message.message_id == f"<outbox-{outbox_id}@aikom.local>"
    assert "доставлення працює" in message.text
    assert message.html is not None and "&lt;b&gt;Оксана&lt;/b&gt;" in message.html


def test_smtp_down_then_delivered_exactly_once(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    port = _free_port()
    settings = Settings(smtp_port=port)
    outbox_id = _enqueue(sessions, "rayon@example.org")

    down = deliver_pending_sync(settings, sessions)
    assert down.deferred == 1
    with sessions() as s:
        row = s.get(EmailMessage, outbox_id)
        assert row is not None
        assert row.state == EmailState.PENDING
        assert row.attempts == 1
        assert row.next_attempt_at is not None
        assert row.last_error and "SMTP недоступний" in row.last_error

    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        not_yet = deliver_pending_sync(settings, sessions)  # backoff: not due yet
        assert not_yet.sent == 0
        with sessions.begin() as s:
            s.execute(update(EmailMessage).where(EmailMessage.id == outbox_id).values(next_attempt_at=None))
        first = deliver_pending_sync(settings, sessions)
        second = deliver_pending_sync(settings, sessions)
    finally:
        sink.stop()
    assert (first.sent, second.sent) == (1, 0)
    assert [m.to for m in read_mailbox(tmp_path / "mailbox")] == ["rayon@example.org"]
    with sessions() as s:
        row = s.get(EmailMessage, outbox_id)
        assert row is not None and row.state == EmailState.SENT


def test_enqueue_is_idempotent_by_key(session: Session) -> None:
    variables = MailCheck(recipient_name="Петро")
    first = enqueue(
        session=session,
        template="mail_check",
        to_address="a@example.org",
        variables=variables,
        idempotency_key="same-key",
    )
    second = enqueue(
        session=session,
        template="mail_check",
        to_address="a@example.org",
        variables=variables,
        idempotency_key="same-key",
    )
    assert first.id == second.id


def test_sink_drops_a_repeated_message_id(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """A crash between 'sent' and 'marked sent' resends the same Message-ID; the receiver keeps one."""
    port = _free_port()
    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        settings = Settings(smtp_port=port)
        outbox_id = _enqueue(sessions, "twice@example.org")
        deliver_pending_sync(settings, sessions)
        with sessions.begin() as s:  # simulate the lost "sent" mark
            s.execute(
                update(EmailMessage)
                .where(EmailMessage.id == outbox_id)
                .values(state=EmailState.PENDING, sent_at=None)
            )
        deliver_pending_sync(settings, sessions)
    finally:
        sink.stop()
    assert len(read_mailbox(tmp_path / "mailbox")) == 1


def test_templates_render_in_ukrainian_with_optional_comment() -> None:
    rendered = render(
        "process_outcome",
        ProcessOutcome(
            recipient_name="Ірина",
            process_title="Заміна керівника",
            outcome="відхилено",
            comment="Неповні дані",
        ).model_dump(),
    )
    assert rendered.subject == "АІКОМ: «Заміна керівника» — відхилено"
    assert "Коментар: Неповні дані" in rendered.text
    assert "Неповні дані" in rendered.html


def test_a_task_email_names_the_requester_and_links_the_task() -> None:
    rendered = render(
        "approval_requested",
        ApprovalRequested(
            recipient_name="Петро",
            task_title="Погодити заміну керівника: Ліцей № 3",
            process_title="Заміна керівника закладу освіти: Ліцей № 3",
            requester="Поліщук Світлана Андріївна",
            due="05.12.2026 18:00 за київським часом",
            task_id=42,
            link="http://127.0.0.1:8501/tasks?task=42",
        ).model_dump(),
    )
    assert "ініціатор: Поліщук Світлана Андріївна" in rendered.text
    assert "до 05.12.2026 18:00 за київським часом" in rendered.text
    assert "http://127.0.0.1:8501/tasks?task=42" in rendered.text
    assert 'href="http://127.0.0.1:8501/tasks?task=42"' in rendered.html


def test_notices_and_outcome_facts_are_text_never_markup() -> None:
    notice = render(
        "approval_notice",
        ApprovalNotice(
            recipient_name="Олена",
            subject="нагадування: завдання чекає рішення",
            reason="Минула половина строку розгляду.",
            task_title="<b>Погодження</b>",
            process_title="Демонстраційний запит",
            due="05.12.2026 18:00 за київським часом",
            task_id=7,
        ).model_dump(),
    )
    assert notice.subject == "АІКОМ: нагадування: завдання чекає рішення — <b>Погодження</b>"  # plain text
    assert "Минула половина строку розгляду." in notice.text
    assert "&lt;b&gt;Погодження&lt;/b&gt;" in notice.html and "<b>Погодження</b>" not in notice.html
    person = render(
        "person_notice",
        PersonNotice(
            recipient_name="Андрій", subject="ваші повноваження припинено", lines=["[Увійти](http://evil.ua)"]
        ).model_dump(),
    )
    assert "[Увійти](http://evil.ua)" in person.text and "<a " not in person.html
    outcome = render(
        "process_outcome",
        ProcessOutcome(
            recipient_name="Ірина",
            process_title="Заміна керівника",
            outcome="завершено",
            facts=["Новий керівник: Нова Директорка", "Заступник Руденко: деактивовано новим керівником."],
        ).model_dump(),
    )
    assert "- Новий керівник: Нова Директорка" in outcome.text
    assert "Заступник Руденко: деактивовано новим керівником." in outcome.html


def test_an_address_with_cyrillic_letters_fails_alone_and_the_rest_is_delivered(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from aikom.core.validation import check_email

    # A register's «school@..» typed with a Cyrillic «с»: the relay would refuse it, so nothing takes it.
    with pytest.raises(ValueError, match="кирилиця"):
        check_email("\u0441chool@example.org")
    port = _free_port()
    sink = start_sink(tmp_path / "mailbox", port=port)
    try:
        bad = _enqueue(sessions, "\u0441chool@example.org")
        good = _enqueue(sessions, "school@example.org")
        report = deliver_pending_sync(Settings(smtp_port=port), sessions)
    finally:
        sink.stop()
    assert (report.sent, report.failed) == (1, 1)
    with sessions() as s:
        failed = s.get_one(EmailMessage, bad)
        assert failed.state == EmailState.FAILED and "нелатинські" in (failed.last_error or "")
        assert s.get_one(EmailMessage, good).state == EmailState.SENT
    assert [m.to for m in read_mailbox(tmp_path / "mailbox")] == ["school@example.org"]
