"""The support desk's mail intake in batches, over the real SMTP sink: one message the intake cannot take
does not spoil its batch — the others are taken, it is kept aside raw, and the cursor moves past them all."""

from __future__ import annotations

import smtplib
import socket
import uuid
from collections.abc import Iterator
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.mail import support_inbox
from aikom.mail.sink import start_sink
from aikom.models import IntakeOutcome, SupportIntake, SupportMessage, SupportRequest
from aikom.settings import Settings

SUPPORT = "support.aikom@iea.gov.ua"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    port = _free_port()
    settings = Settings(database_url=database_url, data_dir=tmp_path, smtp_port=port, support_address=SUPPORT)
    sink = start_sink(settings.mailbox_dir, port=port)
    try:
        yield settings
    finally:
        sink.stop()


def _send(
    settings: Settings, sender: str, subject: str, *, to: str = SUPPORT, message_id: str | None = None
) -> str:
    message = MimeMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="school.example.org")
    message.set_content("Доброго дня! Прошу допомогти.")
    with smtplib.SMTP("127.0.0.1", settings.smtp_port) as smtp:
        smtp.send_message(message)
    return str(message["Message-ID"])


def test_one_bad_message_does_not_spoil_the_batch(inbox: Settings, database_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    _send(inbox, f"first-{tag}@school.example.org", "Перше звернення")
    report = support_inbox.fetch(db_url=database_url, settings=inbox)
    assert report.outcomes == {"opened": 1}
    with unit_of_work(database_url) as session:
        # The desk's acknowledgement: a message that claims its Message-ID cannot be stored (they are unique).
        ack_id = session.scalars(
            select(SupportMessage.message_id).where(
                SupportMessage.request_id == report.request_ids[0], SupportMessage.direction == "out"
            )
        ).one()
    assert ack_id

    senders = [f"school{i}-{tag}@school.example.org" for i in range(5)]
    _send(inbox, senders[0], "Друге звернення")
    _send(inbox, senders[1], "Третє звернення")
    _send(inbox, f"forger-{tag}@school.example.org", "Лист із чужим Message-ID", message_id=ack_id)
    _send(inbox, senders[2], "Четверте звернення")
    _send(inbox, f"someone-{tag}@school.example.org", "Не для служби", to="other@iea.gov.ua")
    _send(inbox, senders[3], "П'яте звернення")

    report = support_inbox.fetch(db_url=database_url, settings=inbox)
    assert report.read == 5  # the message to another address is not the desk's
    assert report.outcomes == {"opened": 4} and len(report.failed) == 1
    with unit_of_work(database_url) as session:
        opened = session.scalars(
            select(SupportRequest.requester_email).where(SupportRequest.id.in_(report.request_ids))
        ).all()
        assert sorted(opened) == sorted(senders[:4])
        kept = session.scalars(
            select(SupportIntake).where(
                SupportIntake.source == "sink", SupportIntake.message_key.like("failed:%")
            )
        ).all()
        aside = [k for k in kept if k.raw and ack_id.encode() in k.raw]
        assert len(aside) == 1 and aside[0].outcome == IntakeOutcome.REJECTED
        assert "не вдалося обробити" in (aside[0].reason or "")
        assert not session.scalars(
            select(SupportRequest).where(SupportRequest.requester_email == f"forger-{tag}@school.example.org")
        ).all()
    # The cursor moved past the whole batch: nothing is read twice.
    assert support_inbox.fetch(db_url=database_url, settings=inbox).read == 0


def test_a_file_the_folder_listing_missed_is_still_read_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing taken while the sink renames files in may miss one (directory entries come in hash order,
    not in the order they were made); the cursor must not pass it."""
    folder = tmp_path / "mailbox"
    folder.mkdir()
    for n in range(1, 7):
        (folder / f"{n:06d}.eml").write_bytes(f"message {n}".encode())
    listed = ["000001.eml", "000002.eml", "000006.eml", "000004.eml", "index.txt"]  # 3 and 5 missed
    monkeypatch.setattr(support_inbox.os, "listdir", lambda _: listed)
    box = support_inbox.SinkMailbox(folder)
    read = [(m.position, m.raw) for m in box.read_after("000001.eml")]
    assert read == [(f"{n:06d}.eml", f"message {n}".encode()) for n in range(2, 7)]
