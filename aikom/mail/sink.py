"""A local SMTP sink (aiosmtpd) that keeps every received message in a mailbox folder.

It stands in for the real relay in demo mode and tests; the dashboard and `aikom mail list` read its
mailbox. A message whose Message-ID was already received is dropped (receiver-side idempotency).
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import asdict, dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass(frozen=True)
class MailboxMessage:
    """A received message as shown to people."""

    file: str
    message_id: str
    to: str
    subject: str
    date: str
    text: str
    html: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


class MailboxHandler:
    """aiosmtpd handler: store each message as `<n>.eml` in the mailbox folder.

    The Message-IDs received are kept in memory and appended to `index.txt`; a message whose id was
    received before is dropped and recorded in `duplicates.log` (a sender sent it twice).
    """

    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        self.mailbox.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        index = self.mailbox / "index.txt"
        self._seen = set(index.read_text().split()) if index.exists() else set()
        self._count = len(list(self.mailbox.glob("*.eml")))

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        """Store the message unless its Message-ID was seen already."""
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        # The headers only, with the plain policy: parsing whole messages capped the sink near 100 a second.
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        msg_id = str(headers.get("Message-ID", "")).strip()
        with self._lock:
            if msg_id and msg_id in self._seen:
                with (self.mailbox / "duplicates.log").open("a") as duplicates:
                    duplicates.write(msg_id + "\n")
                return "250 OK (duplicate dropped)"
            self._count += 1
            # Written whole, then renamed: a reader of the folder never sees half a message.
            partial = self.mailbox / f"{self._count:06d}.eml.partial"
            partial.write_bytes(data)
            partial.replace(self.mailbox / f"{self._count:06d}.eml")
            if msg_id:
                self._seen.add(msg_id)
                with (self.mailbox / "index.txt").open("a") as index:
                    index.write(msg_id + "\n")
        return "250 OK"


def duplicates_dropped(mailbox: Path) -> list[str]:
    """Message-IDs the sink received more than once (each repeat once)."""
    path = mailbox / "duplicates.log"
    return path.read_text().split() if path.exists() else []


def start_sink(mailbox: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the sink in a background thread; the caller stops it with `.stop()`."""
    controller = Controller(MailboxHandler(mailbox), hostname=host, port=port)
    controller.start()
    return controller


def read_mailbox(mailbox: Path) -> list[MailboxMessage]:
    """Every message in the mailbox, oldest first."""
    messages = []
    for path in sorted(mailbox.glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        messages.append(
            MailboxMessage(
                file=path.name,
                message_id=str(parsed.get("Message-ID", "")),
                to=str(parsed.get("To", "")),
                subject=str(parsed.get("Subject", "")),
                date=str(parsed.get("Date", "")),
                text=text_part.get_content() if text_part is not None else "",
                html=html_part.get_content() if html_part is not None else None,
            )
        )
    return messages
