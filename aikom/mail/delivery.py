"""Outbox delivery over SMTP: one reused connection, retries with backoff, never the same message twice.

Each message is claimed with `FOR UPDATE SKIP LOCKED`, sent, and marked sent in its own transaction, so
two deliverers never send one row. Its Message-ID is derived from the outbox id, so a receiver (and our
SMTP sink) can drop the one duplicate a crash between "sent" and "marked" could cause.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr

import aiosmtplib
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from aikom.mail.templates import SECRET_VARIABLES, render
from aikom.models import EmailMessage, EmailState
from aikom.services.outbox import erase_secret, message_secret
from aikom.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def message_id(outbox_id: int) -> str:
    """The stable Message-ID of an outbox row."""
    return f"<outbox-{outbox_id}@aikom.local>"


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt: 5 s, 10 s, 20 s … capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def encode_subject(subject: str, chunk_bytes: int = 39) -> str:
    """The Subject as RFC 2047 encoded-words, folded, whose boundaries never fall on a space.

    Readers drop the whitespace between two encoded-words, and Python's own folding puts a word's space
    right there («Руденко Андрій» arrived as «РуденкоАндрій»): here every space travels inside an
    encoded-word, at the end of the word before it.
    """
    chunks: list[bytes] = []
    current = b""
    for word in re.split(r"(?<= )", " ".join(subject.split())):
        data = word.encode("utf-8")
        if current and len(current) + len(data) > chunk_bytes:
            chunks.append(current)
            current = b""
        while len(data) > chunk_bytes:  # one very long word: cut it between characters
            cut = chunk_bytes
            while cut > 0 and (data[cut] & 0xC0) == 0x80:
                cut -= 1
            chunks.append(data[:cut])
            data = data[cut:]
        current += data
    if current:
        chunks.append(current)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=" for chunk in chunks)


# Headers an outbox row may set (a support reply's threading, its Reply-To, an auto-reply's mark).
ROW_HEADERS = ("Message-ID", "In-Reply-To", "References", "Reply-To", "Auto-Submitted")


def build_mime(row: EmailMessage, sender: str, secret: dict[str, str] | None = None) -> MimeMessage:
    """The MIME message of an outbox row: text part plus HTML alternative (its Subject is added by
    `message_bytes`, encoded so that no space is lost); `secret` fills the template's secret variable;
    the row's `headers` (threading) are applied, a Message-ID among them replacing the derived one."""
    rendered = render(row.template, {**row.variables, **(secret or {})})
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = row.to_address
    mime["Message-ID"] = message_id(row.id)
    mime["Date"] = formatdate(localtime=False)
    mime["X-Aikom-Template"] = row.template
    for name in ROW_HEADERS:
        value = (row.headers or {}).get(name)
        if value:
            del mime[name]
            mime[name] = " ".join(str(value).split())  # no header injection through a line break
    mime.set_content(rendered.text)
    mime.add_alternative(rendered.html, subtype="html")
    return mime


def message_bytes(row: EmailMessage, sender: str, secret: dict[str, str] | None = None) -> bytes:
    """The message as sent: the MIME message with its Subject header first."""
    subject = render(row.template, row.variables).subject
    body = build_mime(row, sender, secret).as_bytes(policy=SMTP)
    return b"Subject: " + encode_subject(subject).encode("ascii") + b"\r\n" + body


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(EmailMessage.id)
            .where(
                EmailMessage.state == EmailState.PENDING,
                or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now),
            )
            .order_by(EmailMessage.id)
            .limit(limit)
        )
    )


async def deliver_pending(
    settings: Settings, sessions: sessionmaker[Session], limit: int = 100
) -> DeliveryReport:
    """Send every due message over one SMTP connection; reschedule failures with backoff."""
    report = DeliveryReport()
    with sessions() as session:
        ids = _due(session, datetime.now(UTC), limit)
    if not ids:
        return report
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=settings.smtp_port, start_tls=settings.smtp_starttls, timeout=10
    )
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("SMTP server %s:%s unreachable: %s", settings.smtp_host, settings.smtp_port, exc)
        with sessions.begin() as session:
            for outbox_id in ids:
                _record_failure(session, outbox_id, f"SMTP недоступний: {exc}")
        report.deferred = len(ids)
        return report
    try:
        for outbox_id in ids:
            with sessions.begin() as session:
                row = session.scalars(
                    select(EmailMessage)
                    .where(EmailMessage.id == outbox_id, EmailMessage.state == EmailState.PENDING)
                    .with_for_update(skip_locked=True)
                ).one_or_none()
                if row is None:  # another deliverer has it, or it was sent meanwhile
                    continue
                if SECRET_VARIABLES.get(row.template) and row.secret_ciphertext is None:
                    # Its secret was erased (it never leaves the outbox twice): it cannot be sent.
                    row.state = EmailState.FAILED
                    row.last_error = "Секрет повідомлення стерто: його не буде надіслано повторно."
                    report.failed += 1
                    continue
                try:
                    envelope_from = parseaddr(settings.mail_from)[1]
                    data = message_bytes(row, settings.mail_from, message_secret(row, settings=settings))
                    await smtp.sendmail(envelope_from, [row.to_address], data)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    _record_failure(session, outbox_id, str(exc), row)
                    if row.state == EmailState.FAILED:
                        report.failed += 1
                    else:
                        report.deferred += 1
                    continue
                row.state = EmailState.SENT
                row.sent_at = datetime.now(UTC)
                row.attempts += 1
                erase_secret(row)
                report.sent += 1
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
    return report


def _record_failure(session: Session, outbox_id: int, error: str, row: EmailMessage | None = None) -> None:
    row = row or session.get(EmailMessage, outbox_id)
    if row is None or row.state != EmailState.PENDING:
        return
    row.attempts += 1
    row.last_error = error[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.state = EmailState.FAILED
        erase_secret(row)
    else:
        row.next_attempt_at = datetime.now(UTC) + backoff(row.attempts)


def deliver_pending_sync(
    settings: Settings, sessions: sessionmaker[Session], limit: int = 100
) -> DeliveryReport:
    """Synchronous wrapper for CLI and tasks."""
    return asyncio.run(deliver_pending(settings, sessions, limit))
