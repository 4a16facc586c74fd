"""The support desk by email, end to end over the real SMTP sink: a message to the support address opens a
request, the desk's reply reaches the requester threaded, and the requester's answer lands in the same
request; an auto-reply opens nothing and is never answered."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from aikom.core.actor import Actor
from aikom.db import session_factory, unit_of_work
from aikom.mail import support_inbox
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import start_sink
from aikom.models import EmailMessage, PersonRole, SupportMessage, SupportRequest
from aikom.services import support
from aikom.settings import Settings
from tests import factories as f

SUPPORT = "support.aikom@iea.gov.ua"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Desk:
    settings: Settings
    url: str
    port: int
    mailbox: Path
    agent: Actor
    requester_email: str
    requester_id: int


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    port = _free_port()
    settings = Settings(database_url=database_url, data_dir=tmp_path, smtp_port=port)
    sink = start_sink(settings.mailbox_dir, port=port)
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(database_url) as session:
        units = f.cascade(session)
        agent = f.person(session, f.account(session, units["national"]), role=PersonRole.SUPPORT_AGENT)
        admin = f.person(
            session,
            f.account(session, units["hromada"]),
            role=PersonRole.HROMADA_ADMIN,
            email=f"osvita-{tag}@hromada.example.org",
        )
        desk = Desk(settings, database_url, port, settings.mailbox_dir, f.actor(agent), admin.email, admin.id)
    try:
        yield desk
    finally:
        sink.stop()


def _send(desk: Desk, sender: str, subject: str, body: str, **headers: str) -> str:
    """Send a message to the support address over SMTP, as a mail client would; its Message-ID."""
    message = MimeMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    message_id = make_msgid(domain="hromada.example.org")
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", desk.port) as smtp:
        smtp.send_message(message)
    return message_id


def _deliver(desk: Desk) -> None:
    while deliver_pending_sync(desk.settings, session_factory(desk.url)).sent:
        pass


def _received(desk: Desk, to: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(desk.mailbox.glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to in str(parsed.get("To", "")):
            found.append(parsed)  # type: ignore[arg-type]
    return found


def test_an_email_opens_a_request_the_desk_replies_and_the_answer_lands_in_it(desk: Desk) -> None:
    first_id = _send(
        desk,
        f"Відділ освіти <{desk.requester_email}>",
        "Не відкривається кабінет",
        "Після входу з КЕП — помилка.",
    )
    report = support_inbox.fetch(db_url=desk.url, settings=desk.settings)
    assert report.outcomes == {"opened": 1}
    (request_id,) = report.request_ids
    with unit_of_work(desk.url) as session:
        request = session.get_one(SupportRequest, request_id)
        assert request.requester_person_id == desk.requester_id and request.channel == "email"
        support.reply(
            session=session,
            actor=desk.agent,
            request_id=request_id,
            body="Оновіть, будь ласка, сертифікат і спробуйте ще раз.",
            settings=desk.settings,
        )
    _deliver(desk)

    ack, reply = _received(desk, desk.requester_email)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert str(reply["Subject"]) == f"[АІКОМ #{request_id}] Не відкривається кабінет"
    assert reply["In-Reply-To"] == first_id
    assert str(reply["Message-ID"]).startswith(f"<aikom-support-{request_id}-")
    assert reply["Reply-To"] == SUPPORT
    assert first_id in str(reply["References"])
    text = reply.get_body(preferencelist=("plain",))
    assert text is not None and "Оновіть, будь ласка, сертифікат" in text.get_content()

    # The requester answers the reply: it lands in the same request.
    answer_id = _send(
        desk,
        desk.requester_email,
        f"Re: {reply['Subject']}",
        "Дякуємо, тепер працює.",
        In_Reply_To=str(reply["Message-ID"]),
        References=f"{first_id} {reply['Message-ID']}",
    )
    report = support_inbox.fetch(db_url=desk.url, settings=desk.settings)
    assert report.outcomes == {"appended": 1} and report.request_ids == [request_id]
    with unit_of_work(desk.url) as session:
        thread = session.scalars(
            select(SupportMessage).where(SupportMessage.request_id == request_id).order_by(SupportMessage.id)
        ).all()
        assert [m.message_id for m in thread if m.direction == "in"] == [first_id, answer_id]
        assert thread[-1].body == "Дякуємо, тепер працює."
    # Each message is taken once: reading again finds nothing new.
    assert support_inbox.fetch(db_url=desk.url, settings=desk.settings).read == 0


def test_an_auto_reply_opens_nothing_and_gets_no_reply(desk: Desk) -> None:
    away = f"away-{uuid.uuid4().hex[:6]}@example.org"
    _send(desk, away, "Автовідповідь: я у відпустці", "Повернуся 10.12.", Auto_Submitted="auto-replied")
    _send(desk, "MAILER-DAEMON@mx.example.org", "Undelivered Mail Returned to Sender", f"To: {away}")
    report = support_inbox.fetch(db_url=desk.url, settings=desk.settings)
    assert report.outcomes == {"auto_reply": 2} and report.request_ids == []
    _deliver(desk)
    assert _received(desk, away) == []
    with unit_of_work(desk.url) as session:
        assert not session.scalars(select(EmailMessage).where(EmailMessage.to_address == away)).all()
        assert not session.scalars(select(SupportRequest).where(SupportRequest.requester_email == away)).all()


def test_the_reconciler_pass_reads_the_support_mail(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from aikom.services.reconcile import reconcile
    from aikom.settings import get_settings

    monkeypatch.setenv("AIKOM_DATA_DIR", str(desk.settings.data_dir))
    get_settings.cache_clear()
    try:
        _send(desk, desk.requester_email, "Питання про ключ API", "Де знайти ключ API?")
        with socket.socket() as sock:  # a Prefect server that is down: the database part still runs
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
        report = reconcile(db_url=desk.url, api_url=dead)
        assert report.support_mail == {"opened": 1}
        assert reconcile(db_url=desk.url, api_url=dead).support_mail == {}
    finally:
        get_settings.cache_clear()
