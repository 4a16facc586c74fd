"""Email intake of the support desk: one inbound message (raw bytes) into a request's thread.

Rules (each decided here, once):
- every message is taken once, by its Message-ID (`support_intake`; a message without one by the SHA-256
  of its bytes): a second delivery changes nothing;
- auto-replies and bounces (Auto-Submitted other than "no", an empty Return-Path, MAILER-DAEMON,
  multipart/report, X-Autoreply/X-Autorespond, Precedence bulk/junk/list/auto_reply) and mail from the
  desk's own address open nothing and are never answered (no loops); they are kept raw in the intake;
- a message without a usable sender is refused and kept raw (nothing lost);
- the thread is found by In-Reply-To/References (the desk's Message-IDs), else by the `[АІКОМ #N]` tag
  in the subject; a message to a thread from an address that is not the thread's requester is NOT
  appended to it (a forged or mistaken sender must not read or steer someone else's request): it opens
  a new request flagged `sender_mismatch`, linked to the claimed one, with internal notes on both;
- a sender whose address is a person's email is linked to that person;
- HTML-only bodies are converted to plain text (tags stripped, scripts and styles dropped); nothing is
  stored as HTML;
- attachments over the limits are dropped, and the desk is told in an internal note.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html import unescape
from html.parser import HTMLParser

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.models import (
    IntakeOutcome,
    MessageDirection,
    MessageVisibility,
    Person,
    PersonState,
    SupportChannel,
    SupportIntake,
    SupportMessage,
    SupportRequest,
    SupportRequestType,
)
from aikom.services import audit, support
from aikom.settings import Settings, get_settings

TAG = re.compile(r"\[\s*(?:АІКОМ|AIKOM)\s*#\s*(\d{1,9})\s*\]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|відп|вiдп|пересл)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
SENDER_MISMATCH = "sender_mismatch"


# --- parsing ---------------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Text of an HTML body: block elements become line breaks; scripts, styles and heads are dropped."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    )
    SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (never kept as HTML)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = unescape("".join(extractor.parts))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class ParsedMail:
    """What the intake needs from one message."""

    message_key: str
    message_id: str | None
    sender: str | None
    subject: str
    body: str
    in_reply_to: str | None
    references: list[str]
    recipients: list[str]
    auto_reason: str | None
    attachments: list[support.NewAttachment] = field(default_factory=list)


def auto_reply_reason(message: MimeMessage, sender: str | None) -> str | None:
    """Why a message is an auto-reply or a bounce (None: a person wrote it)."""
    auto_submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if message.get("Return-Path") is not None and str(message.get("Return-Path")).strip() in ("<>", ""):
        return "порожній Return-Path (повідомлення про недоставлення)"
    local = (sender or "").split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster"):
        return f"відправник {local.upper()}"
    if message.get_content_type() == "multipart/report":
        return "multipart/report (звіт про доставлення)"
    for name in ("X-Autoreply", "X-Autorespond"):
        if message.get(name) is not None:
            return f"заголовок {name}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    return None


def _body(message: MimeMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: decode what can be decoded
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    text = str(content)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def _attachments(message: MimeMessage) -> list[support.NewAttachment]:
    files = []
    for part in message.iter_attachments():
        if not isinstance(part, MimeMessage) or part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        files.append(support.NewAttachment(part.get_filename() or "attachment", data))
    return files


def _ids(value: object) -> list[str]:
    return _MESSAGE_ID.findall(str(value or ""))


def parse(raw: bytes) -> ParsedMail:
    """Parse one raw message (stdlib `email`, `policy=default`)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, MimeMessage)
    try:
        from_header = str(message.get("From", ""))
    except (ValueError, TypeError):
        from_header = ""
    address = parseaddr(from_header)[1].strip()
    sender = address.lower() if re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address) else None
    message_ids = _ids(message.get("Message-ID"))
    message_id = message_ids[0] if message_ids else None
    key = message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    recipients = [
        a.lower()
        for _, a in getaddresses(
            [str(v) for name in ("To", "Cc", "Delivered-To") for v in message.get_all(name, [])]
        )
        if a
    ]
    in_reply_to = _ids(message.get("In-Reply-To"))
    return ParsedMail(
        message_key=key[:998],
        message_id=message_id[:998] if message_id else None,
        sender=sender,
        subject=" ".join(str(message.get("Subject", "")).split()),
        body=_body(message),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_ids(message.get("References")),
        recipients=recipients,
        auto_reason=auto_reply_reason(message, sender),
        attachments=_attachments(message),
    )


def is_addressed_to(raw: bytes, address: str) -> bool:
    """Whether a message is addressed to `address` (To, Cc or Delivered-To)."""
    message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    values = [str(v) for name in ("To", "Cc", "Delivered-To") for v in message.get_all(name, [])]
    return address.lower() in {a.lower() for _, a in getaddresses(values)}


def clean_subject(subject: str) -> str:
    """A subject without the request tag and reply prefixes."""
    return _REPLY_PREFIX.sub("", TAG.sub("", subject)).strip() or "(без теми)"


# --- ingest ----------------------------------------------------------------------------------------------


class IngestOutcome(BaseModel):
    """What one message came to."""

    outcome: str  # opened | appended | auto_reply | rejected | duplicate
    request_id: int | None = None
    reason: str | None = None
    reopened: bool = False


def _person_for(session: Session, address: str) -> Person | None:
    return session.scalars(
        select(Person)
        .where(func.lower(Person.email) == address, Person.state != PersonState.INACTIVE)
        .order_by(case((Person.state == PersonState.ACTIVE, 0), else_=1), Person.id)
        .limit(1)
    ).first()


def _thread(session: Session, mail: ParsedMail) -> SupportRequest | None:
    ids = [i for i in [mail.in_reply_to, *reversed(mail.references)] if i]
    if ids:
        request_id = session.scalars(
            select(SupportMessage.request_id).where(SupportMessage.message_id.in_(ids)).limit(1)
        ).first()
        if request_id is not None:
            return session.get(SupportRequest, request_id)
    tag = TAG.search(mail.subject)
    return session.get(SupportRequest, int(tag.group(1))) if tag else None


def _claim(session: Session, mail: ParsedMail, source: str) -> int | None:
    """Record the message in the intake; None when it was taken before."""
    return session.scalars(
        insert(SupportIntake)
        .values(
            message_key=mail.message_key,
            source=source,
            outcome=IntakeOutcome.REJECTED.value,
            sender=mail.sender[:320] if mail.sender else None,
        )
        .on_conflict_do_nothing(index_elements=[SupportIntake.message_key])
        .returning(SupportIntake.id)
    ).first()


def ingest(
    *, session: Session, raw: bytes, source: str = "api", settings: Settings | None = None
) -> IngestOutcome:
    """Take one inbound message: append it to its request, open a new one, or keep it aside."""
    settings = settings or get_settings()
    mail = parse(raw)
    intake_id = _claim(session, mail, source)
    if intake_id is None:
        return IngestOutcome(outcome="duplicate", reason="повідомлення вже прийнято")
    intake = session.get_one(SupportIntake, intake_id)
    mail_actor = Actor.system(f"{mail.sender or 'невідомий відправник'} (ел. пошта)")

    def aside(outcome: IntakeOutcome, reason: str) -> IngestOutcome:
        intake.outcome, intake.reason, intake.raw = outcome, reason, raw
        audit.record(
            session=session,
            action=f"support.mail_{outcome.value}",
            object_type="support_intake",
            object_id=intake.id,
            details={"reason": reason, "message_key": mail.message_key},
            actor=mail_actor,
        )
        return IngestOutcome(outcome=outcome.value, reason=reason)

    if mail.sender is None:
        return aside(IntakeOutcome.REJECTED, "лист без коректної адреси відправника (From)")
    if mail.auto_reason is not None:
        return aside(IntakeOutcome.AUTO_REPLY, mail.auto_reason)
    if mail.sender == settings.support_address.lower():
        return aside(IntakeOutcome.AUTO_REPLY, "лист від адреси самої служби підтримки")

    person = _person_for(session, mail.sender)
    actor = Actor(
        person_id=person.id if person else None,
        label=f"{person.full_name if person else mail.sender} (ел. пошта)",
    )
    body = mail.body or "(лист без тексту)"
    thread = _thread(session, mail)
    common = {
        "body": body,
        "attachments": mail.attachments,
        "strict_attachments": False,
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "settings": settings,
    }
    if thread is not None and support.is_requester(session, thread, person_id=None, address=mail.sender):
        result = support.add_requester_message(
            session=session,
            actor=actor,
            request_id=thread.id,
            author_person_id=person.id if person else None,
            author_email=mail.sender,
            **common,  # type: ignore[arg-type]
        )
        intake.outcome = IntakeOutcome.OPENED if result.opened_new else IntakeOutcome.APPENDED
        intake.request_id = result.request.id
        return IngestOutcome(
            outcome=intake.outcome.value, request_id=result.request.id, reopened=result.reopened
        )
    request = support.open_request(
        session=session,
        actor=actor,
        type=SupportRequestType.QUESTION,
        subject=clean_subject(mail.subject),
        channel=SupportChannel.EMAIL,
        requester_person_id=person.id if person else None,
        requester_email=mail.sender,
        org_unit_id=person.org_unit_id if person else None,
        linked_request_id=thread.id if thread is not None else None,
        flag=SENDER_MISMATCH if thread is not None else None,
        acknowledge=thread is None,  # no backscatter to an address that claimed someone else's thread
        **common,  # type: ignore[arg-type]
    )
    intake.outcome, intake.request_id = IntakeOutcome.OPENED, request.id
    if thread is None:
        return IngestOutcome(outcome="opened", request_id=request.id)
    _mismatch_notes(session, actor, thread, request, mail.sender)
    return IngestOutcome(outcome="opened", request_id=request.id, reason=SENDER_MISMATCH)


def _mismatch_notes(
    session: Session, actor: Actor, thread: SupportRequest, request: SupportRequest, sender: str
) -> None:
    for target, text in (
        (
            request,
            f"Лист надійшов як відповідь у звернення №{thread.id}, але відправник {sender} — не заявник того "
            "звернення. Його не додано до звернення; перевірте, хто пише.",
        ),
        (
            thread,
            f"Лист від {sender}, що не є заявником, надійшов як відповідь у це звернення; його не додано, "
            f"а зареєстровано окремо як звернення №{request.id}.",
        ),
    ):
        session.add(
            SupportMessage(
                request_id=target.id,
                direction=MessageDirection.OUT,
                visibility=MessageVisibility.INTERNAL,
                body=text,
            )
        )
    session.flush()
    audit.record(
        session=session,
        action="support.sender_mismatch",
        object_type="support_request",
        object_id=thread.id,
        details={"sender": sender, "new_request_id": request.id},
        actor=actor,
    )
