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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.models import (
    Base,
    IntakeOutcome,
    MessageDirection,
    MessageVisibility,
    Person,
    PersonState,
    SupportChannel,
    SupportIntake,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
)
from aikom.services import audit, outbox, support
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

    def addressed_to(self, address: str) -> bool:
        """Whether the message is addressed to `address` (To, Cc or Delivered-To)."""
        return address.lower() in self.recipients

    @property
    def thread_refs(self) -> list[str]:
        """The Message-IDs that may name its thread, most telling first (In-Reply-To, then References from
        the latest)."""
        return [i for i in [self.in_reply_to, *reversed(self.references)] if i]

    @property
    def tag(self) -> int | None:
        """The request number of the `[АІКОМ #N]` tag in the subject."""
        found = TAG.search(self.subject)
        return int(found.group(1)) if found else None


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


class _MemoPolicy(EmailPolicy):
    """`policy.default` whose parsed header values are remembered: a message asks for its Content-Type a
    dozen times while its parts are walked, and most messages carry the same few Content-Type values, so
    parsing each once is most of the cost of a message. Header objects are immutable, so sharing is safe."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        return _parsed_header(name, value)


@lru_cache(maxsize=8192)
def _parsed_header(name: str, value: str) -> Any:
    return policy.default.header_fetch_parse(name, value)


_POLICY = _MemoPolicy()


def parse(raw: bytes) -> ParsedMail:
    """Parse one raw message (stdlib `email`, `policy=default`)."""
    message = BytesParser(policy=_POLICY).parsebytes(raw)
    assert isinstance(message, MimeMessage)
    # The addresses, the Message-IDs, the subject: read from the headers as they came (an address or a
    # Message-ID is never an encoded word; the display names are not needed) — parsing them into header
    # objects is the costliest part of a message.
    raw_headers = _raw_headers(message)
    address = parseaddr(_first(raw_headers, "from"))[1].strip()
    sender = address.lower() if re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address) else None
    message_ids = _ids(_first(raw_headers, "message-id"))
    message_id = message_ids[0] if message_ids else None
    key = message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    recipients = _recipients(raw_headers)
    in_reply_to = _ids(_first(raw_headers, "in-reply-to"))
    return ParsedMail(
        message_key=key[:998],
        message_id=message_id[:998] if message_id else None,
        sender=sender,
        subject=" ".join(_decoded(_first(raw_headers, "subject")).split()),
        body=_body(message),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_ids(_first(raw_headers, "references")),
        recipients=recipients,
        auto_reason=auto_reply_reason(message, sender),
        attachments=_attachments(message),
    )


_RAW_HEADERS = frozenset(
    {"from", "to", "cc", "delivered-to", "subject", "message-id", "in-reply-to", "references"}
)


def _raw_headers(message: MimeMessage) -> dict[str, list[str]]:
    """The values of the headers the intake reads, as they came (unfolded), by lower-case name."""
    found: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        key = name.lower()
        if key in _RAW_HEADERS:
            text = str(value).replace("\r", "").replace("\n", "")
            # 8-bit bytes arrive surrogate-escaped: read them as UTF-8 (never stored as surrogates)
            found.setdefault(key, []).append(
                text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            )
    return found


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _decoded(value: str) -> str:
    """A header's text with its encoded words (RFC 2047) decoded."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError):  # an unknown charset or a broken word: as it came
        return value


def _recipients(headers: dict[str, list[str]]) -> list[str]:
    values = [v for name in ("to", "cc", "delivered-to") for v in headers.get(name, [])]
    return [a.lower() for _, a in getaddresses(values) if a]


def is_addressed_to(raw: bytes, address: str) -> bool:
    """Whether a message is addressed to `address` (To, Cc or Delivered-To)."""
    message = BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
    assert isinstance(message, MimeMessage)
    return address.lower() in _recipients(_raw_headers(message))


def clean_subject(subject: str) -> str:
    """A subject without the request tag and reply prefixes."""
    return _REPLY_PREFIX.sub("", TAG.sub("", subject)).strip() or "(без теми)"


# --- ingest ----------------------------------------------------------------------------------------------
#
# One path for one message and for many: `ingest` is `ingest_many` of one. A batch is written with a handful
# of statements whatever its size: the claim (one INSERT … ON CONFLICT DO NOTHING RETURNING), the senders'
# persons (one query), per wave the threads (two queries) and bulk inserts of requests, messages, files and
# acknowledgements, and the audit entries at the end (one lock, one insert). Every decision is taken message
# by message in arrival order on the rows as they stand, exactly as one message after another would be; a
# message whose thread may be a request or a message of the same batch waits for the next wave, so that it
# finds it as it would have.


class IngestOutcome(BaseModel):
    """What one message came to."""

    outcome: str  # opened | appended | auto_reply | rejected | duplicate
    request_id: int | None = None
    reason: str | None = None
    reopened: bool = False


DUPLICATE = IngestOutcome(outcome="duplicate", reason="повідомлення вже прийнято")


def aside_reason(mail: ParsedMail, settings: Settings) -> tuple[IntakeOutcome, str] | None:
    """Why a message opens nothing and is kept aside (None: it goes to a request)."""
    if mail.sender is None:
        return IntakeOutcome.REJECTED, "лист без коректної адреси відправника (From)"
    if mail.auto_reason is not None:
        return IntakeOutcome.AUTO_REPLY, mail.auto_reason
    if mail.sender == settings.support_address.lower():
        return IntakeOutcome.AUTO_REPLY, "лист від адреси самої служби підтримки"
    return None


def persons_for(session: Session, addresses: Iterable[str]) -> dict[str, Person]:
    """The person each address belongs to (lower-case addresses): an active one before a pending one, the
    oldest first; inactive people are never linked."""
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    email = func.lower(Person.email)
    found: dict[str, Person] = {}
    rows = session.execute(
        select(email, Person)
        .where(email.in_(wanted), Person.state != PersonState.INACTIVE)
        .order_by(case((Person.state == PersonState.ACTIVE, 0), else_=1), Person.id)
    ).tuples()
    for address, person in rows:
        found.setdefault(address, person)
    return found


# One INSERT for the whole batch whatever its size (arrays, not a parameter per value): the messages not
# taken before come back with their intake rows.
_CLAIM = text(
    "INSERT INTO support_intake (message_key, source, outcome, reason, raw, sender) "
    "SELECT t.message_key, :source, t.outcome, t.reason, t.raw, t.sender FROM unnest("
    "CAST(:keys AS varchar[]), CAST(:outcomes AS varchar[]), CAST(:reasons AS text[]), "
    "CAST(:raws AS bytea[]), CAST(:senders AS varchar[])"
    ") WITH ORDINALITY AS t(message_key, outcome, reason, raw, sender, n) ORDER BY t.n "
    "ON CONFLICT (message_key) DO NOTHING RETURNING message_key, id"
)


def _claim(
    session: Session, mails: Sequence[tuple[bytes, ParsedMail]], source: str, settings: Settings
) -> dict[str, int]:
    """Record the messages in the intake (what opens nothing with its outcome and raw bytes at once); the
    intake row of each message not taken before, by message key."""
    if not mails:
        return {}
    asides = [aside_reason(mail, settings) for _, mail in mails]
    claimed = session.execute(
        _CLAIM,
        {
            "source": source,
            "keys": [mail.message_key for _, mail in mails],
            # what goes to a request is `rejected` until it is placed (in the same transaction)
            "outcomes": [(a[0] if a else IntakeOutcome.REJECTED).value for a in asides],
            "reasons": [a[1] if a else None for a in asides],
            "raws": [raw if a else None for (raw, _), a in zip(mails, asides, strict=True)],
            "senders": [mail.sender[:320] if mail.sender else None for _, mail in mails],
        },
    ).tuples()
    return dict(claimed.all())


@dataclass
class _Placed:
    """One message on its way to a request: what it opens or where it goes, and what it writes."""

    index: int
    mail: ParsedMail
    intake_id: int
    actor: Actor | None = None  # who wrote it (the person of the sender's address, else the address)
    request: SupportRequest | None = None  # where it ends
    message: SupportMessage | None = None  # the requester's message
    files: list[support.AcceptedAttachment] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    opened: bool = False
    reopened: bool = False
    acknowledge: bool = False
    # audit entries, built once the ids are known: (action, request, state then, details)
    events: list[tuple[str, SupportRequest, SupportRequestState, dict[str, object]]] = field(
        default_factory=list
    )
    mismatch_of: SupportRequest | None = None
    reason: str | None = None


def ingest(
    *, session: Session, raw: bytes, source: str = "api", settings: Settings | None = None
) -> IngestOutcome:
    """Take one inbound message: append it to its request, open a new one, or keep it aside."""
    return ingest_many(session=session, raws=[raw], source=source, settings=settings)[0]


def ingest_many(
    *,
    session: Session,
    raws: Sequence[bytes],
    source: str = "api",
    settings: Settings | None = None,
    parsed: Sequence[ParsedMail] | None = None,
) -> list[IngestOutcome]:
    """Take many inbound messages in the caller's transaction, in order; what each came to, in order.

    `parsed`: the messages already parsed (by the caller that filtered them), one per raw message.
    Any failure raises and leaves the batch to the caller to roll back (a savepoint) and retry message by
    message; nothing is half-written."""
    settings = settings or get_settings()
    mails = list(parsed) if parsed is not None else [parse(raw) for raw in raws]
    outcomes: list[IngestOutcome] = [DUPLICATE] * len(mails)
    first: dict[str, int] = {}
    for index, mail in enumerate(mails):
        first.setdefault(mail.message_key, index)  # a second copy in the same batch is a duplicate too
    claimed = _claim(session, [(raws[i], mails[i]) for i in first.values()], source, settings)
    events: dict[int, list[audit.Event]] = {}  # by the message's place in the batch
    placing: list[_Placed] = []
    for key, index in first.items():
        intake_id = claimed.get(key)
        if intake_id is None:
            continue
        mail = mails[index]
        aside = aside_reason(mail, settings)
        if aside is not None:
            outcome, reason = aside
            events[index] = [
                audit.Event(
                    action=f"support.mail_{outcome.value}",
                    object_type="support_intake",
                    object_id=intake_id,
                    details={"reason": reason, "message_key": mail.message_key},
                    actor=Actor.system(f"{mail.sender or 'невідомий відправник'} (ел. пошта)"),
                )
            ]
            outcomes[index] = IngestOutcome(outcome=outcome.value, reason=reason)
        else:
            placing.append(_Placed(index=index, mail=mail, intake_id=intake_id))
    if placing:
        persons = persons_for(session, [p.mail.sender for p in placing if p.mail.sender])
        remaining = placing
        while remaining:
            wave = _next_wave(session, settings, remaining, persons)
            _write_wave(session, settings, wave, events)
            remaining = remaining[len(wave) :]
        session.execute(
            update(SupportIntake),
            [
                {
                    "id": p.intake_id,
                    "outcome": IntakeOutcome.OPENED if p.opened else IntakeOutcome.APPENDED,
                    "request_id": p.request.id if p.request else None,
                }
                for p in placing
            ],
        )
        for p in placing:
            assert p.request is not None
            outcomes[p.index] = IngestOutcome(
                outcome="opened" if p.opened else "appended",
                request_id=p.request.id,
                reason=p.reason,
                reopened=p.reopened,
            )
    # the audit entries in the order the messages came, as one message after another would write them
    audit.record_many(session=session, events=[e for i in sorted(events) for e in events[i]])
    return outcomes


def _next_wave(
    session: Session, settings: Settings, remaining: list[_Placed], persons: dict[str, Person]
) -> list[_Placed]:
    """Decide where the next messages go, in order. A message whose thread is a message of this very wave
    finds it there, as it would have found it in the database; a message that names a request number not
    yet known (perhaps a request of this wave), or that claims a request of this wave from another sender,
    starts the next wave (the number must be known first)."""
    refs = {ref for p in remaining for ref in p.mail.thread_refs}
    by_message: dict[str, int] = {}
    if refs:
        found = session.execute(
            select(SupportMessage.message_id, SupportMessage.request_id).where(
                SupportMessage.message_id.in_(sorted(refs))
            )
        ).tuples()
        by_message = {m: r for m, r in found if m}
    wanted = set(by_message.values()) | {p.mail.tag for p in remaining if p.mail.tag is not None}
    threads: dict[int, SupportRequest] = {}
    if wanted:
        threads = {
            r.id: r
            for r in session.scalars(
                select(SupportRequest).where(SupportRequest.id.in_(sorted(wanted))).with_for_update()
            )
        }
    wave: list[_Placed] = []
    in_wave: dict[str, _Placed] = {}  # the wave's messages by Message-ID
    for p in remaining:
        mail = p.mail
        thread: SupportRequest | None = None
        for ref in mail.thread_refs:
            if ref in by_message:
                thread = threads[by_message[ref]]
                break
            if ref in in_wave:
                thread = in_wave[ref].request
                break
        else:
            if mail.tag is not None:
                thread = threads.get(mail.tag)
                if thread is None and wave:
                    break  # perhaps a request of this wave: known once the wave is written
        if (
            wave
            and thread is not None
            and thread.id is None
            and not (
                mail.sender and support.is_requester(session, thread, person_id=None, address=mail.sender)
            )
        ):
            break  # the new request links to this wave's request: its number must be known first
        _decide(session, settings, p, persons, thread)
        if mail.message_id:
            in_wave[mail.message_id] = p
        wave.append(p)
    return wave


def _decide(
    session: Session,
    settings: Settings,
    placed: _Placed,
    persons: dict[str, Person],
    thread: SupportRequest | None,
) -> None:
    """Where one message goes: appended to its thread (the thread's requester wrote it), a new request linked
    to a thread finished too long ago, a new request flagged `sender_mismatch` (someone else claims the
    thread), or a new request."""
    mail = placed.mail
    assert mail.sender is not None
    person = persons.get(mail.sender)
    placed.actor = Actor(
        person_id=person.id if person else None,
        label=f"{person.full_name if person else mail.sender} (ел. пошта)",
    )
    body = mail.body or "(лист без тексту)"
    placed.files, placed.refused = support.screen_attachments(mail.attachments, settings, strict=False)
    if thread is not None and support.is_requester(session, thread, person_id=None, address=mail.sender):
        if not support.reopen_expired(thread, settings):
            before, placed.reopened = support.after_requester_message(thread)
            placed.request = thread
            placed.message = support.build_message(
                thread.id,
                direction=MessageDirection.IN,
                visibility=MessageVisibility.PUBLIC,
                body=body,
                author_person_id=person.id if person else None,
                author_email=mail.sender,
                message_id=mail.message_id,
                in_reply_to=mail.in_reply_to,
            )
            placed.events.append(
                (
                    "reopened" if placed.reopened else "requester_message",
                    thread,
                    thread.state,
                    {"previous_state": before.value},
                )
            )
            if placed.refused:
                dropped: dict[str, object] = {"refused": placed.refused}
                placed.events.append(("attachment_dropped", thread, thread.state, dropped))
            return
        _open(  # the thread finished too long ago: a new request continues it
            placed,
            body,
            support.build_request(
                type=thread.type,
                subject=thread.subject,
                body=body,
                channel=thread.channel,
                requester_person_id=thread.requester_person_id,
                requester_email=thread.requester_email,
                org_unit_id=thread.org_unit_id,
                linked_request_id=thread.id,
            ),
            acknowledge=True,
        )
        return
    _open(
        placed,
        body,
        support.build_request(
            type=SupportRequestType.QUESTION,
            subject=clean_subject(mail.subject),
            body=body,
            channel=SupportChannel.EMAIL,
            requester_person_id=person.id if person else None,
            requester_email=mail.sender,
            org_unit_id=person.org_unit_id if person else None,
            linked_request_id=thread.id if thread is not None else None,
            flag=SENDER_MISMATCH if thread is not None else None,
        ),
        acknowledge=thread is None,  # no backscatter to an address that claimed someone else's thread
    )
    if thread is not None:
        placed.mismatch_of = thread
        placed.reason = SENDER_MISMATCH


def _open(placed: _Placed, body: str, request: SupportRequest, *, acknowledge: bool) -> None:
    """A new request with the message as its first (what `support.open_request` writes, for a batch)."""
    placed.request, placed.opened, placed.acknowledge = request, True, acknowledge
    placed.message = support.build_message(
        0,  # its request's number once it has one
        direction=MessageDirection.IN,
        visibility=MessageVisibility.PUBLIC,
        body=body,
        author_person_id=request.requester_person_id,
        author_email=request.requester_email,
        message_id=placed.mail.message_id,
        in_reply_to=placed.mail.in_reply_to,
    )
    placed.events.append(
        (
            "opened",
            request,
            request.state,
            {
                "type": request.type.value,
                "channel": request.channel.value,
                "linked_request_id": request.linked_request_id,
                "flag": request.flag,
            },
        )
    )
    if placed.refused:
        placed.events.append(("attachment_dropped", request, request.state, {"refused": placed.refused}))


def _mismatch_notes(sender: str, thread: SupportRequest, request: SupportRequest) -> list[SupportMessage]:
    """The internal notes on both requests when someone who is not the requester writes into a thread."""
    return [
        support.build_message(
            target.id, direction=MessageDirection.OUT, visibility=MessageVisibility.INTERNAL, body=text
        )
        for target, text in (
            (
                request,
                f"Лист надійшов як відповідь у звернення №{thread.id}, але відправник {sender} — не заявник "
                "того звернення. Його не додано до звернення; перевірте, хто пише.",
            ),
            (
                thread,
                f"Лист від {sender}, що не є заявником, надійшов як відповідь у це звернення; його не "
                f"додано, а зареєстровано окремо як звернення №{request.id}.",
            ),
        )
    ]


_NEW_IDS = text(
    "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('support_request', 'id')) "
    "FROM generate_series(1, :requests)), "
    "ARRAY(SELECT nextval(pg_get_serial_sequence('support_message', 'id')) "
    "FROM generate_series(1, :messages))"
)


def _insert(session: Session, rows: Sequence[Base]) -> None:
    """Insert built rows of one table in one statement (their ids given, or left to the database)."""
    if not rows:
        return
    table = rows[0].__table__
    assert isinstance(table, Table)
    columns = [
        c
        for c in table.columns
        if c.server_default is None and not (c.primary_key and getattr(rows[0], c.key) is None)
    ]
    values = [{c.key: getattr(row, c.key) for c in columns} for row in rows]
    for c in columns:
        if c.default is not None and any(v[c.key] is None for v in values):
            raise ValueError(f"{table.name}.{c.key} must be set on a built row")  # a programming error
    session.execute(insert(table), values)


def _write_wave(
    session: Session, settings: Settings, wave: list[_Placed], events: dict[int, list[audit.Event]]
) -> None:
    """Write what the wave decided, in bulk: the new requests (numbered in arrival order), the messages and
    notes, the files, the acknowledgements with their emails; the state changes of the threads go with
    them. Its audit entries join `events` (by the message's place in the batch)."""
    opened = [p.request for p in wave if p.opened and p.request is not None]
    count = sum(1 + bool(p.refused) + p.acknowledge + (2 if p.mismatch_of is not None else 0) for p in wave)
    request_ids, message_ids = session.execute(_NEW_IDS, {"requests": len(opened), "messages": count}).one()
    for request, number in zip(opened, sorted(request_ids), strict=True):
        request.id = number  # the numbers in arrival order
    next_id = iter(sorted(message_ids)).__next__
    messages: list[SupportMessage] = []
    acks: list[tuple[_Placed, SupportMessage]] = []
    for p in wave:
        assert p.request is not None and p.message is not None
        p.message.request_id = p.request.id
        thread_messages = [p.message]
        if p.refused:
            thread_messages.append(support.build_dropped_note(p.request, p.refused))
        if p.acknowledge:
            ack = support.build_ack(settings, p.request)
            thread_messages.append(ack)
            acks.append((p, ack))
        if p.mismatch_of is not None:
            assert p.mail.sender is not None
            thread_messages += _mismatch_notes(p.mail.sender, p.mismatch_of, p.request)
        for message in thread_messages:
            message.id = next_id()
        messages += thread_messages
    mails: list[tuple[SupportMessage, outbox.Outgoing]] = []
    for p, ack in acks:
        assert p.request is not None and p.message is not None
        ack.message_id = support.reply_message_id(p.request.id, ack.id, settings)
        to_address = support.requester_address(session, p.request)
        if not to_address or to_address.lower() == settings.support_address.lower():
            continue  # never mail the desk itself (a loop)
        first = p.message.message_id
        mail = support.public_mail(
            settings,
            p.request,
            ack,
            to_address=to_address,
            earlier=[first] if first else [],
            inbound=first,
            kind="ack",
        )
        mails.append((ack, mail))
    outbox_ids = outbox.enqueue_many(
        session=session, template=support.PUBLIC_TEMPLATE, messages=[m for _, m in mails], settings=settings
    )
    for ack, mail in mails:
        ack.in_reply_to = (mail.headers or {}).get("In-Reply-To")
        ack.outbox_id = outbox_ids[mail.idempotency_key]
    session.flush()  # the threads' new states
    _insert(session, opened)
    _insert(session, messages)
    _insert(
        session,
        [
            support.build_attachment(p.request.id, p.message.id, file)
            for p in wave
            if p.request is not None and p.message is not None
            for file in p.files
        ],
    )
    for p in wave:
        assert p.request is not None and p.message is not None
        for action, request, state, details in p.events:
            if action in ("reopened", "requester_message"):
                details = {"message_id": p.message.id, **details}
            event = support.audit_event(action, request.id, state, **details)
            events.setdefault(p.index, []).append(replace(event, actor=p.actor))
        if p.mismatch_of is not None:
            events.setdefault(p.index, []).append(
                audit.Event(
                    action="support.sender_mismatch",
                    object_type="support_request",
                    object_id=p.mismatch_of.id,
                    details={"sender": p.mail.sender, "new_request_id": p.request.id},
                    actor=p.actor,
                )
            )
