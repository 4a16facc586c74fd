"""Outbox delivery over SMTP: one reused connection, retries with backoff, never the same message twice.

Messages are claimed in batches with `FOR UPDATE SKIP LOCKED`, sent, and marked sent in the batch's one
transaction (a national rollout queues tens of thousands: one commit per message capped delivery at
~40/s), so two deliverers never send one row. Its Message-ID is derived from the outbox id, so a
receiver (and our SMTP sink) drops the duplicates a crash between "sent" and "marked" could cause — at
most one batch.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache

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
    """The stable Message-ID derived from an outbox row's id."""
    return f"<outbox-{outbox_id}@aikom.local>"


def sent_message_id(outbox_id: int, headers: dict[str, str] | None) -> str:
    """The Message-ID an outbox row is sent with: its own (a threaded reply's), else the derived one."""
    own = (headers or {}).get("Message-ID")
    if own and str(own).isascii():
        return " ".join(str(own).split())
    return message_id(outbox_id)


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


# Headers a row may carry besides its Message-ID (`sent_message_id`): threading, replies, auto-replies.
ROW_HEADERS = ("In-Reply-To", "References", "Reply-To", "Auto-Submitted")


@lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    """The From header of `sender` («АІКОМ <no-reply@…>»), its name encoded."""
    return formataddr(parseaddr(sender), charset="utf-8")


def _base64_lines(text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def message_bytes(row: EmailMessage, sender: str, secret: dict[str, str] | None = None) -> bytes:
    """The message as sent: text part plus HTML alternative, both base64 UTF-8, the Subject encoded so
    that no space is lost; `secret` fills the template's secret variable; the row's `headers` (threading)
    are applied.

    Written out directly: the `email` package's header objects cost ~3 ms a message, which capped a
    national rollout's delivery (14,000 base-key emails) well below the relay's speed.
    """
    rendered = render(row.template, {**row.variables, **(secret or {})})
    boundary = f"=_aikom_{row.id}_{secrets.token_hex(8)}"
    fields = {
        "Subject": encode_subject(rendered.subject),
        "From": _from_header(sender),
        "To": row.to_address,
        "Message-ID": sent_message_id(row.id, row.headers),
        "Date": formatdate(localtime=False),
        "X-Aikom-Template": row.template,
    }
    for header in ROW_HEADERS:
        value = (row.headers or {}).get(header)
        if value and str(value).isascii():
            fields[header] = " ".join(str(value).split())  # no header injection through a line break
    headers = [f"{header}: {value}" for header, value in fields.items()] + [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    parts = [(subtype, body) for subtype, body in (("plain", rendered.text), ("html", rendered.html))]
    lines = ["\r\n".join(headers), ""]
    for subtype, body in parts:
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
            _base64_lines(body),
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0

    @property
    def handled(self) -> int:
        """Messages this pass took up (sent, failed or put off)."""
        return self.sent + self.failed + self.deferred


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


BATCH = 50  # messages per transaction
LIMIT = 500  # messages per pass
CONNECTIONS = 4  # SMTP connections a pass sends over at once (the relay answers each in turn)


async def deliver_pending(
    settings: Settings,
    sessions: sessionmaker[Session],
    limit: int = LIMIT,
    batch: int = BATCH,
    connections: int = CONNECTIONS,
) -> DeliveryReport:
    """Send every due message (up to `limit`) over a few SMTP connections at once, `batch` per
    transaction; reschedule failures with backoff."""
    report = DeliveryReport()
    with sessions() as session:
        ids = _due(session, datetime.now(UTC), limit)
    if not ids:
        return report
    clients: list[aiosmtplib.SMTP] = []
    error: Exception | None = None
    for _ in range(max(1, min(connections, len(ids)))):
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host, port=settings.smtp_port, start_tls=settings.smtp_starttls, timeout=10
        )
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = exc
            break
        clients.append(smtp)
    if not clients:
        log.warning("SMTP server %s:%s unreachable: %s", settings.smtp_host, settings.smtp_port, error)
        with sessions.begin() as session:
            for outbox_id in ids:
                _record_failure(session, outbox_id, f"SMTP недоступний: {error}")
        report.deferred = len(ids)
        return report
    envelope_from = parseaddr(settings.mail_from)[1]

    async def send_share(smtp: aiosmtplib.SMTP, rows: list[EmailMessage], session: Session) -> None:
        for row in rows:
            await _send_one(smtp, row, settings, envelope_from, report, session)

    try:
        for start in range(0, len(ids), batch):
            with sessions.begin() as session:
                rows = session.scalars(
                    select(EmailMessage)
                    .where(
                        EmailMessage.id.in_(ids[start : start + batch]),
                        EmailMessage.state == EmailState.PENDING,
                    )
                    .order_by(EmailMessage.id)
                    .with_for_update(skip_locked=True)  # another deliverer has the others
                ).all()
                shares = [list(rows[i :: len(clients)]) for i in range(len(clients))]
                await asyncio.gather(
                    *(send_share(c, share, session) for c, share in zip(clients, shares, strict=True))
                )
    finally:
        for smtp in clients:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
    return report


async def _send_one(
    smtp: aiosmtplib.SMTP,
    row: EmailMessage,
    settings: Settings,
    envelope_from: str,
    report: DeliveryReport,
    session: Session,
) -> None:
    if SECRET_VARIABLES.get(row.template) and row.secret_ciphertext is None:
        # Its secret was erased (it never leaves the outbox twice): it cannot be sent.
        row.state = EmailState.FAILED
        row.last_error = "Секрет повідомлення стерто: його не буде надіслано повторно."
        report.failed += 1
        return
    if not row.to_address.isascii():  # a relay without SMTPUTF8 cannot take it; trying again will not help
        row.state = EmailState.FAILED
        row.last_error = (
            f"Адреса «{row.to_address}» містить нелатинські символи: її не прийме поштовий сервер."
        )
        erase_secret(row)
        report.failed += 1
        return
    try:
        if not smtp.is_connected:  # the server dropped us mid-batch: one reconnect per message
            await smtp.connect()
        data = message_bytes(row, settings.mail_from, message_secret(row, settings=settings))
        await smtp.sendmail(envelope_from, [row.to_address], data)
    except (aiosmtplib.SMTPException, OSError) as exc:
        _record_failure(session, row.id, str(exc), row)
        if row.state == EmailState.FAILED:
            report.failed += 1
        else:
            report.deferred += 1
        return
    row.state = EmailState.SENT
    row.sent_at = datetime.now(UTC)
    row.attempts += 1
    erase_secret(row)
    report.sent += 1


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
    settings: Settings, sessions: sessionmaker[Session], limit: int = LIMIT
) -> DeliveryReport:
    """Synchronous wrapper for CLI and tasks."""
    return asyncio.run(deliver_pending(settings, sessions, limit))
