"""The support desk: requests and their threads — open, reply, note, assign, triage, resolve, close
(what the desk and the requesters read is in `aikom.services.support_queue`; email in `support_mail`).

A request is a thread: the requester's messages (from the dashboard or by email), the desk's public
replies (sent through the outbox with `[АІКОМ #N]` in the subject and threading headers, so that the
answer to a reply lands in the same request) and internal notes (never shown to the requester). Every
change writes the audit log. Services here take keyword-only arguments and the session, and never commit.

Extension points: `PROCESS_FOR_TYPE` (a request type that starts a process, e.g. `new_school` →
`new-school`), the SLA (first response and resolution in working hours on the business calendar:
`created_at`, `first_response_at` and `resolved_at` are what it measures), and mail sources
(`aikom.mail.support_inbox`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.mail.templates import SupportReply
from aikom.models import (
    MessageDirection,
    MessageVisibility,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    SupportAttachment,
    SupportChannel,
    SupportMessage,
    SupportPriority,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
)
from aikom.services import audit, outbox
from aikom.services.org import is_within
from aikom.settings import Settings, get_settings

S = SupportRequestState
DESK_ROLES = frozenset({PersonRole.SUPPORT_AGENT, PersonRole.INSTITUTE_ADMIN})
OPEN_STATES = (S.NEW, S.ACCEPTED, S.INFO_REQUESTED, S.IN_PROGRESS)
FINISHED_STATES = (S.DONE, S.REJECTED, S.CLOSED)
MAX_BODY_CHARS = 100_000
SUBJECT_CHARS = 300
# A request type that starts a process (its registry type) — filled as those processes arrive.
PROCESS_FOR_TYPE: dict[SupportRequestType, str] = {SupportRequestType.NEW_SCHOOL: "new-school"}
PROCESS_FOR_TYPE[SupportRequestType.KEY_REGENERATION] = "key-regeneration"

TYPE_LABELS_UK: dict[SupportRequestType, str] = {
    SupportRequestType.QUESTION: "Питання",
    SupportRequestType.KEP_TROUBLE: "Проблема з КЕП",
    SupportRequestType.DATA_FIX: "Виправлення даних",
    SupportRequestType.NEW_SCHOOL: "Новий заклад освіти",
    SupportRequestType.KEY_REGENERATION: "Перевипуск ключа",
    SupportRequestType.OIS_ACCESS: "Доступ ОІС",
    SupportRequestType.OTHER: "Інше",
}
STATE_LABELS_UK: dict[SupportRequestState, str] = {
    S.NEW: "нове",
    S.ACCEPTED: "прийнято",
    S.INFO_REQUESTED: "очікує відповіді заявника",
    S.IN_PROGRESS: "у роботі",
    S.DONE: "виконано",
    S.REJECTED: "відхилено",
    S.CLOSED: "закрито",
}
PRIORITY_LABELS_UK: dict[SupportPriority, str] = {
    SupportPriority.LOW: "низький",
    SupportPriority.NORMAL: "звичайний",
    SupportPriority.HIGH: "високий",
    SupportPriority.URGENT: "терміновий",
}
# Canonical content type of each allowed file extension: what a download is served as.
CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "txt": "text/plain",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "p7s": "application/pkcs7-signature",
}
# What a file of each kind starts with: a file whose bytes are not what its name says is refused.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "jpg": (b"\xff\xd8\xff",),
    "xlsx": (b"PK\x03\x04",),
    "docx": (b"PK\x03\x04",),
    "p7s": (b"0", b"-----BEGIN"),
}


# --- refusals --------------------------------------------------------------------------------------------


class RequestNotFound(NotFound):
    """No such request (or not one the person may see)."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"Звернення №{request_id} не знайдено.", request_id=request_id)


class NotDeskStaff(RoleNotAllowed):
    """Only the support desk (support agents, institute admins) works requests."""

    def __init__(self) -> None:
        super().__init__(
            "Працювати зі зверненнями може лише служба підтримки або технічний адміністратор ІОА."
        )


class AssigneeNotDeskStaff(ValidationFailed):
    """A request is assigned to an active member of the desk only."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "assignee", f"Виконавець: «{name}» — не активний працівник служби підтримки чи адміністратор ІОА."
        )


class SubjectUnitOutOfScope(NotInScope):
    """A requester files about their own unit or one below it."""

    def __init__(self, unit_name: str) -> None:
        super().__init__(
            f"Організація: «{unit_name}» не належить до вашої зони відповідальності — оберіть свою "
            "організацію або підпорядковану їй.",
            unit=unit_name,
        )


class TransitionNotAllowed(DomainError):
    """The request's state does not allow this step."""

    code = "transition_not_allowed"

    def __init__(self, request: SupportRequest, step_uk: str) -> None:
        super().__init__(
            f"Звернення №{request.id} у стані «{STATE_LABELS_UK[request.state]}»: {step_uk} неможливо.",
            request_id=request.id,
            state=request.state.value,
        )


class AttachmentRefused(ValidationFailed):
    """An attachment over the size limit, of a refused type, or whose bytes are not what its name says."""

    def __init__(self, file_name: str, rule_uk: str) -> None:
        super().__init__("attachment", f"Вкладення «{file_name}»: {rule_uk}")
        self.file_name = file_name
        self.rule_uk = rule_uk


def _text(field: str, label: str, value: str, *, limit: int = MAX_BODY_CHARS) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if not value:
        raise ValidationFailed(field, f"{label}: поле не може бути порожнім.")
    if len(value) > limit:
        raise ValidationFailed(field, f"{label}: не більше {limit} символів (зараз {len(value)}).")
    return value


# --- attachments -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAttachment:
    """A file as it arrives (from a form or an email)."""

    file_name: str
    data: bytes


def attachment_limits_uk(settings: Settings | None = None) -> str:
    """The attachment rules as people read them («до 5 МБ; pdf, png …»)."""
    settings = settings or get_settings()
    megabytes = settings.support_attachment_max_bytes / 1_000_000
    size = f"{megabytes:g}".replace(".", ",")
    return f"до {size} МБ кожне; типи: {', '.join(settings.support_attachment_types)}"


def check_attachment(attachment: NewAttachment, *, settings: Settings | None = None) -> str:
    """The canonical content type of an acceptable file; AttachmentRefused names the rule it breaks."""
    settings = settings or get_settings()
    name = attachment.file_name
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = [t.lower() for t in settings.support_attachment_types]
    if extension not in allowed or extension not in CONTENT_TYPES:
        raise AttachmentRefused(name, f"тип файлу не дозволено (дозволено: {', '.join(allowed)}).")
    size = len(attachment.data)
    if size > settings.support_attachment_max_bytes:
        raise AttachmentRefused(
            name, f"розмір {size} байт перевищує межу {settings.support_attachment_max_bytes} байт."
        )
    if size == 0:
        raise AttachmentRefused(name, "файл порожній.")
    magic = _MAGIC.get(extension)
    if magic is not None and not attachment.data.startswith(magic):
        raise AttachmentRefused(name, f"вміст файлу не відповідає типу «{extension}».")
    if extension in ("txt", "csv") and b"\x00" in attachment.data:
        raise AttachmentRefused(name, "текстовий файл містить двійкові дані.")
    return CONTENT_TYPES[extension]


def _safe_file_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?').strip()
    return (name or "attachment")[-255:]


def _store_attachments(
    session: Session,
    settings: Settings,
    request: SupportRequest,
    message: SupportMessage,
    attachments: Sequence[NewAttachment],
    *,
    strict: bool,
) -> list[str]:
    """Store acceptable files; a refused one raises (`strict`: a form) or is dropped and its reason returned
    (an email: the desk is told in an internal note)."""
    accepted, refused = screen_attachments(attachments, settings, strict=strict)
    session.add_all(build_attachment(request.id, message.id, a) for a in accepted)
    session.flush()
    return refused


@dataclass(frozen=True)
class AcceptedAttachment:
    """A file that passed the limits: its safe name and canonical content type."""

    file_name: str
    content_type: str
    data: bytes


def screen_attachments(
    attachments: Sequence[NewAttachment], settings: Settings, *, strict: bool
) -> tuple[list[AcceptedAttachment], list[str]]:
    """The acceptable files, and the reasons of the refused ones (`strict`: the first refusal raises)."""
    accepted: list[AcceptedAttachment] = []
    refused: list[str] = []
    limit = settings.support_attachments_per_message
    for index, attachment in enumerate(attachments):
        name = _safe_file_name(attachment.file_name)
        try:
            if index >= limit:
                raise AttachmentRefused(name, f"не більше {limit} вкладень в одному повідомленні.")
            content_type = check_attachment(NewAttachment(name, attachment.data), settings=settings)
        except AttachmentRefused as error:
            if strict:
                raise
            refused.append(error.message_uk)
            continue
        accepted.append(AcceptedAttachment(name, content_type, attachment.data))
    return accepted, refused


def build_attachment(request_id: int, message_id: int, file: AcceptedAttachment) -> SupportAttachment:
    """The row of an accepted file (not added to the session)."""
    return SupportAttachment(
        request_id=request_id,
        message_id=message_id,
        file_name=file.file_name,
        content_type=file.content_type,
        size_bytes=len(file.data),
        sha256=hashlib.sha256(file.data).hexdigest(),
        content=file.data,
    )


# --- who acts --------------------------------------------------------------------------------------------


def acting_person(session: Session, actor: Actor) -> Person:
    """The person who acts; NotFound when the card is gone."""
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None:
        raise NotFound("Особу, що діє, не знайдено.")
    return person


def desk_person(*, session: Session, actor: Actor) -> Person:
    """The acting member of the desk; NotDeskStaff for anyone else."""
    person = acting_person(session, actor)
    if person.role not in DESK_ROLES or person.state != PersonState.ACTIVE:
        raise NotDeskStaff()
    return person


def is_desk(person: Person) -> bool:
    """Whether `person` works the desk's queue."""
    return person.role in DESK_ROLES and person.state == PersonState.ACTIVE


def get_request(session: Session, request_id: int, *, lock: bool = False) -> SupportRequest:
    """The request (locked for an update when asked), or RequestNotFound."""
    query = select(SupportRequest).where(SupportRequest.id == request_id)
    request = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if request is None:
        raise RequestNotFound(request_id)
    return request


def audit_event(action: str, request_id: int, state: SupportRequestState, **details: object) -> audit.Event:
    """The audit entry of a step on a request (`support.<action>`, with the request's state after it)."""
    return audit.Event(
        action=f"support.{action}",
        object_type="support_request",
        object_id=request_id,
        details={"state": state.value, **details},
    )


def _audit(session: Session, actor: Actor, action: str, request: SupportRequest, **details: object) -> None:
    event = audit_event(action, request.id, request.state, **details)
    audit.record(
        session=session,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        actor=actor,
    )


def _touch(request: SupportRequest) -> datetime:
    now = datetime.now(UTC)
    request.updated_at = now
    return now


# --- threading -------------------------------------------------------------------------------------------


def support_domain(settings: Settings) -> str:
    """The domain of the support address (the desk's Message-IDs use it)."""
    return settings.support_address.rsplit("@", 1)[-1].strip(">") or "aikom.local"


def reply_message_id(request_id: int, message_id: int, settings: Settings) -> str:
    """The Message-ID of a desk message: stable, names the request."""
    return f"<aikom-support-{request_id}-{message_id}@{support_domain(settings)}>"


def _thread_ids(session: Session, request_id: int) -> list[str]:
    return [
        m
        for m in session.scalars(
            select(SupportMessage.message_id)
            .where(SupportMessage.request_id == request_id, SupportMessage.message_id.is_not(None))
            .order_by(SupportMessage.id)
        )
        if m
    ]


def requester_address(session: Session, request: SupportRequest) -> str | None:
    """Where the requester's replies go."""
    if request.requester_email:
        return request.requester_email
    if request.requester_person_id is not None:
        person = session.get(Person, request.requester_person_id)
        return person.email if person else None
    return None


def _send_public(
    session: Session,
    settings: Settings,
    request: SupportRequest,
    message: SupportMessage,
    *,
    kind: str = "reply",
) -> None:
    """Put a public desk message into the outbox, threaded: `[АІКОМ #N]`, Message-ID, In-Reply-To."""
    to_address = requester_address(session, request)
    message.message_id = reply_message_id(request.id, message.id, settings)
    if not to_address or to_address.lower() == settings.support_address.lower():
        session.flush()
        return  # never mail the desk itself (a loop)
    earlier = [m for m in _thread_ids(session, request.id) if m != message.message_id]
    inbound = session.scalars(
        select(SupportMessage.message_id)
        .where(
            SupportMessage.request_id == request.id,
            SupportMessage.direction == MessageDirection.IN,
            SupportMessage.message_id.is_not(None),
        )
        .order_by(SupportMessage.id.desc())
        .limit(1)
    ).first()
    mail = public_mail(
        settings, request, message, to_address=to_address, earlier=earlier, inbound=inbound, kind=kind
    )
    row = outbox.enqueue(
        session=session,
        template=PUBLIC_TEMPLATE,
        to_address=mail.to_address,
        variables=mail.variables,
        idempotency_key=mail.idempotency_key,
        settings=settings,
    )
    row.headers = mail.headers
    message.in_reply_to = (mail.headers or {}).get("In-Reply-To")
    message.outbox_id = row.id
    session.flush()


PUBLIC_TEMPLATE = "support_reply"


def public_mail(
    settings: Settings,
    request: SupportRequest,
    message: SupportMessage,
    *,
    to_address: str,
    earlier: Sequence[str],
    inbound: str | None,
    kind: str = "reply",
) -> outbox.Outgoing:
    """The email of a public desk message (its `message_id` set): threaded on the thread's `earlier`
    Message-IDs and its latest inbound one; an acknowledgement is marked as an automatic reply."""
    assert message.message_id is not None
    in_reply_to = inbound or (earlier[-1] if earlier else None)
    headers = {"Message-ID": message.message_id, "Reply-To": settings.support_address}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    if earlier:
        headers["References"] = " ".join(earlier[-10:])
    if kind == "ack":
        headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: their auto-responders must not answer
    return outbox.Outgoing(
        to_address=to_address,
        variables=SupportReply(
            request_id=request.id,
            subject=request.subject,
            body=message.body,
            kind=kind,
            state_label=STATE_LABELS_UK[request.state],
            link=f"{settings.public_url.rstrip('/')}/my-requests" if request.requester_person_id else None,
        ),
        idempotency_key=f"support-message:{message.id}",
        headers=headers,
    )


def _add_message(
    session: Session,
    request: SupportRequest,
    *,
    direction: MessageDirection,
    visibility: MessageVisibility,
    body: str,
    author_person_id: int | None = None,
    author_email: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> SupportMessage:
    message = build_message(
        request.id,
        direction=direction,
        visibility=visibility,
        body=body,
        author_person_id=author_person_id,
        author_email=author_email,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )
    session.add(message)
    session.flush()
    return message


def build_message(
    request_id: int,
    *,
    direction: MessageDirection,
    visibility: MessageVisibility,
    body: str,
    author_person_id: int | None = None,
    author_email: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> SupportMessage:
    """A message of a request's thread (not added to the session)."""
    return SupportMessage(
        request_id=request_id,
        direction=direction,
        visibility=visibility,
        body=body[:MAX_BODY_CHARS],
        author_person_id=author_person_id,
        author_email=author_email,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )


def build_ack(settings: Settings, request: SupportRequest) -> SupportMessage:
    """The acknowledgement of a new request («зареєстровано під номером N»), not added to the session."""
    return build_message(
        request.id,
        direction=MessageDirection.OUT,
        visibility=MessageVisibility.PUBLIC,
        body=f"Звернення зареєстровано під номером {request.id}.",
        author_email=settings.support_address,
    )


def _acknowledge(session: Session, settings: Settings, request: SupportRequest) -> None:
    ack = build_ack(settings, request)
    session.add(ack)
    session.flush()
    _send_public(session, settings, request, ack, kind="ack")


# --- opening and the requester's messages ----------------------------------------------------------------


def open_request(
    *,
    session: Session,
    actor: Actor,
    type: SupportRequestType,
    subject: str,
    body: str,
    channel: SupportChannel,
    requester_person_id: int | None = None,
    requester_email: str | None = None,
    org_unit_id: int | None = None,
    attachments: Sequence[NewAttachment] = (),
    strict_attachments: bool = True,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    linked_request_id: int | None = None,
    flag: str | None = None,
    acknowledge: bool = True,
    settings: Settings | None = None,
) -> SupportRequest:
    """Open a request with its first message (and files); acknowledge it to the requester; audit it."""
    settings = settings or get_settings()
    request = build_request(
        type=type,
        subject=subject,
        body=body,
        channel=channel,
        requester_person_id=requester_person_id,
        requester_email=requester_email,
        org_unit_id=org_unit_id,
        linked_request_id=linked_request_id,
        flag=flag,
    )
    session.add(request)
    session.flush()
    first = _add_message(
        session,
        request,
        direction=MessageDirection.IN,
        visibility=MessageVisibility.PUBLIC,
        body=body,
        author_person_id=requester_person_id,
        author_email=requester_email,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )
    refused = _store_attachments(session, settings, request, first, attachments, strict=strict_attachments)
    _audit(
        session,
        actor,
        "opened",
        request,
        type=type.value,
        channel=channel.value,
        linked_request_id=linked_request_id,
        flag=flag,
    )
    if refused:
        _dropped_note(session, actor, request, refused)
    if acknowledge:
        _acknowledge(session, settings, request)
    return request


def build_request(
    *,
    type: SupportRequestType,
    subject: str,
    body: str,
    channel: SupportChannel,
    requester_person_id: int | None = None,
    requester_email: str | None = None,
    org_unit_id: int | None = None,
    linked_request_id: int | None = None,
    flag: str | None = None,
) -> SupportRequest:
    """A new request (state new, normal priority), not added to the session."""
    return SupportRequest(
        type=type,
        state=S.NEW,
        priority=SupportPriority.NORMAL,
        channel=channel,
        requester_person_id=requester_person_id,
        requester_email=requester_email,
        org_unit_id=org_unit_id,
        subject=" ".join((subject or "").split())[:SUBJECT_CHARS] or "(без теми)",
        body=body[:MAX_BODY_CHARS],
        payload={},
        linked_request_id=linked_request_id,
        flag=flag,
    )


def build_dropped_note(request: SupportRequest, refused: list[str]) -> SupportMessage:
    """The internal note that tells the desk which attachments were dropped (not added to the session)."""
    body = "Вкладення відкинуто під час прийому листа:\n" + "\n".join(f"- {r}" for r in refused)
    return build_message(
        request.id, direction=MessageDirection.OUT, visibility=MessageVisibility.INTERNAL, body=body
    )


def _dropped_note(session: Session, actor: Actor, request: SupportRequest, refused: list[str]) -> None:
    session.add(build_dropped_note(request, refused))
    session.flush()
    _audit(session, actor, "attachment_dropped", request, refused=refused)


def file_request(
    *,
    session: Session,
    actor: Actor,
    type: SupportRequestType,
    subject: str,
    body: str,
    org_unit_id: int | None = None,
    attachments: Sequence[NewAttachment] = (),
    settings: Settings | None = None,
) -> SupportRequest:
    """A signed-in person files a request from the dashboard (the desk may file it on their behalf)."""
    settings = settings or get_settings()
    subject = _text("subject", "Тема", subject, limit=SUBJECT_CHARS)
    body = _text("body", "Текст звернення", body)
    requester_id = actor.requester_id
    requester = session.get(Person, requester_id) if requester_id is not None else None
    if requester is None:
        raise NotFound("Заявника не знайдено.")
    if actor.on_behalf_of_id is not None:
        desk_person(session=session, actor=Actor(person_id=actor.person_id, label=actor.label))
    unit_id = org_unit_id if org_unit_id is not None else requester.org_unit_id
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(f"Організацію №{unit_id} не знайдено.")
    if unit.id != requester.org_unit_id and not is_within(session, unit.id, requester.org_unit_id):
        raise SubjectUnitOutOfScope(unit.name)
    for attachment in attachments:  # refused before anything is written
        check_attachment(attachment, settings=settings)
    request = open_request(
        session=session,
        actor=actor,
        type=type,
        subject=subject,
        body=body,
        channel=SupportChannel.DASHBOARD,
        requester_person_id=requester.id,
        requester_email=requester.email,
        org_unit_id=unit.id,
        attachments=attachments,
        settings=settings,
    )
    if actor.on_behalf_of_id is not None:  # the thread says who filed it «від імені» the requester
        request.payload = {**request.payload, "filed_by": {"id": actor.person_id, "label": actor.label}}
        session.flush()
    return request


def is_requester(
    session: Session, request: SupportRequest, *, person_id: int | None, address: str | None
) -> bool:
    """Whether a person or an address is this request's requester (a reply from anyone else is not theirs)."""
    if person_id is not None and request.requester_person_id == person_id:
        return True
    if address:
        known = {a.lower() for a in (request.requester_email, requester_address(session, request)) if a}
        return address.lower() in known
    return False


@dataclass(frozen=True)
class InboundResult:
    """Where a requester's message went: its request (perhaps a new one, linked to the old)."""

    request: SupportRequest
    message: SupportMessage
    reopened: bool = False
    opened_new: bool = False


def add_requester_message(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    body: str,
    author_person_id: int | None,
    author_email: str | None,
    attachments: Sequence[NewAttachment] = (),
    strict_attachments: bool = True,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    settings: Settings | None = None,
) -> InboundResult:
    """Append the requester's message: an answer to a request for information returns the request to where it
    was; a message to a finished request reopens it within `support_reopen_days`, else opens a new request
    linked to the old one. The caller has checked that the author is the requester."""
    settings = settings or get_settings()
    request = get_request(session, request_id, lock=True)
    if reopen_expired(request, settings):
        new = open_request(
            session=session,
            actor=actor,
            type=request.type,
            subject=request.subject,
            body=body,
            channel=request.channel,
            requester_person_id=request.requester_person_id,
            requester_email=request.requester_email,
            org_unit_id=request.org_unit_id,
            attachments=attachments,
            strict_attachments=strict_attachments,
            message_id=message_id,
            in_reply_to=in_reply_to,
            linked_request_id=request.id,
            settings=settings,
        )
        first = session.scalars(
            select(SupportMessage).where(SupportMessage.request_id == new.id).order_by(SupportMessage.id)
        ).first()
        assert first is not None
        return InboundResult(request=new, message=first, opened_new=True)
    message = _add_message(
        session,
        request,
        direction=MessageDirection.IN,
        visibility=MessageVisibility.PUBLIC,
        body=body,
        author_person_id=author_person_id,
        author_email=author_email,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )
    refused = _store_attachments(session, settings, request, message, attachments, strict=strict_attachments)
    before, reopened = after_requester_message(request)
    _audit(
        session,
        actor,
        "reopened" if reopened else "requester_message",
        request,
        message_id=message.id,
        previous_state=before.value,
    )
    if refused:
        _dropped_note(session, actor, request, refused)
    return InboundResult(request=request, message=message, reopened=reopened)


def reopen_expired(request: SupportRequest, settings: Settings) -> bool:
    """Whether the request finished longer than `support_reopen_days` ago: a requester's message then opens a
    new request linked to it instead of reopening it."""
    if request.state not in FINISHED_STATES:
        return False
    finished_at = request.closed_at or request.resolved_at or request.updated_at or request.created_at
    return datetime.now(UTC) - finished_at > timedelta(days=settings.support_reopen_days)


def after_requester_message(request: SupportRequest) -> tuple[SupportRequestState, bool]:
    """Move the request on the requester's message: a finished one reopens (to the desk's work if it had an
    assignee and was not rejected, else to triage), an answer to a request for information returns it to
    where it was. The state before, and whether it reopened."""
    before = request.state
    reopened = False
    if request.state in FINISHED_STATES:
        request.state = S.NEW if request.state == S.REJECTED or request.assignee_id is None else S.IN_PROGRESS
        request.resolved_at = None
        request.closed_at = None
        reopened = True
    elif request.state == S.INFO_REQUESTED:
        request.state = S(request.payload.get("resume_state", S.NEW.value))
    _touch(request)
    return before, reopened


def requester_reply(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    body: str,
    attachments: Sequence[NewAttachment] = (),
    settings: Settings | None = None,
) -> InboundResult:
    """The requester answers in the dashboard («Мої звернення»)."""
    body = _text("body", "Текст повідомлення", body)
    person = acting_person(session, actor)
    request = get_request(session, request_id)
    if not is_requester(session, request, person_id=person.id, address=None):
        raise RequestNotFound(request_id)
    for attachment in attachments:
        check_attachment(attachment, settings=settings)
    return add_requester_message(
        session=session,
        actor=actor,
        request_id=request_id,
        body=body,
        author_person_id=person.id,
        author_email=None,
        attachments=attachments,
        settings=settings,
    )


# --- the desk's steps ------------------------------------------------------------------------------------


def reply(
    *, session: Session, actor: Actor, request_id: int, body: str, settings: Settings | None = None
) -> SupportMessage:
    """A public reply to the requester, by email through the outbox; the first one is the first response."""
    settings = settings or get_settings()
    person = desk_person(session=session, actor=actor)
    body = _text("body", "Текст відповіді", body)
    request = get_request(session, request_id, lock=True)
    if request.state == S.CLOSED:
        raise TransitionNotAllowed(request, "відповісти на закрите звернення")
    return _public_message(session, settings, actor, person, request, body, "replied")


def _public_message(
    session: Session,
    settings: Settings,
    actor: Actor,
    person: Person,
    request: SupportRequest,
    body: str,
    action: str,
    **details: object,
) -> SupportMessage:
    message = _add_message(
        session,
        request,
        direction=MessageDirection.OUT,
        visibility=MessageVisibility.PUBLIC,
        body=body,
        author_person_id=person.id,
    )
    now = _touch(request)
    if request.first_response_at is None:
        request.first_response_at = now
    _send_public(session, settings, request, message)
    _audit(session, actor, action, request, message_id=message.id, **details)
    return message


def add_note(*, session: Session, actor: Actor, request_id: int, body: str) -> SupportMessage:
    """An internal note: the desk sees it, the requester never does."""
    person = desk_person(session=session, actor=actor)
    body = _text("body", "Текст нотатки", body)
    request = get_request(session, request_id, lock=True)
    message = _add_message(
        session,
        request,
        direction=MessageDirection.OUT,
        visibility=MessageVisibility.INTERNAL,
        body=body,
        author_person_id=person.id,
    )
    _touch(request)
    _audit(session, actor, "noted", request, message_id=message.id)
    return message


def assign(*, session: Session, actor: Actor, request_id: int, assignee_id: int | None) -> SupportRequest:
    """Give the request to a member of the desk (None: nobody); an accepted one goes in progress."""
    desk_person(session=session, actor=actor)
    request = get_request(session, request_id, lock=True)
    if request.state in FINISHED_STATES:
        raise TransitionNotAllowed(request, "призначити виконавця")
    if assignee_id is not None:
        assignee = session.get(Person, assignee_id)
        if assignee is None or not is_desk(assignee):
            raise AssigneeNotDeskStaff(assignee.full_name if assignee else f"№{assignee_id}")
    previous = request.assignee_id
    request.assignee_id = assignee_id
    if assignee_id is not None and request.state == S.ACCEPTED:
        request.state = S.IN_PROGRESS
    _touch(request)
    _audit(session, actor, "assigned", request, assignee_id=assignee_id, previous_assignee_id=previous)
    return request


def claim(*, session: Session, actor: Actor, request_id: int) -> SupportRequest:
    """Take the request into one's own work."""
    return assign(session=session, actor=actor, request_id=request_id, assignee_id=actor.person_id)


class TriageDecision(StrEnum):
    """The desk's first look at a request."""

    ACCEPT = "accept"
    REJECT = "reject"
    ASK_INFO = "ask_info"


TRIAGE_LABELS_UK = {
    TriageDecision.ACCEPT: "Прийняти",
    TriageDecision.REJECT: "Відхилити",
    TriageDecision.ASK_INFO: "Запитати додаткову інформацію",
}


def triage(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    decision: TriageDecision,
    comment: str | None,
    type: SupportRequestType | None = None,
    priority: SupportPriority | None = None,
    settings: Settings | None = None,
) -> SupportRequest:
    """Accept, reject or ask the requester for more (a comment is required for the last two and is sent to
    the requester; an acceptance's comment is sent when given); the type and priority may be corrected."""
    settings = settings or get_settings()
    person = desk_person(session=session, actor=actor)
    request = get_request(session, request_id, lock=True)
    comment = (comment or "").strip()
    if decision != TriageDecision.ACCEPT:
        comment = _text("comment", "Коментар", comment)
    allowed = {
        TriageDecision.ACCEPT: (S.NEW, S.INFO_REQUESTED),
        TriageDecision.REJECT: (S.NEW, S.INFO_REQUESTED, S.ACCEPTED, S.IN_PROGRESS),
        TriageDecision.ASK_INFO: (S.NEW, S.ACCEPTED, S.IN_PROGRESS),
    }[decision]
    if request.state not in allowed:
        raise TransitionNotAllowed(request, TRIAGE_LABELS_UK[decision].lower())
    before = request.state
    if type is not None:
        request.type = type
    if priority is not None:
        request.priority = priority
    now = _touch(request)
    if decision == TriageDecision.ACCEPT:
        request.state = S.IN_PROGRESS if request.assignee_id is not None else S.ACCEPTED
    elif decision == TriageDecision.REJECT:
        request.state = S.REJECTED
        request.resolved_at = now
    else:
        request.payload = {**request.payload, "resume_state": before.value}
        request.state = S.INFO_REQUESTED
    request.triage_comment = comment or None
    details = {"decision": decision.value, "previous_state": before.value, "type": request.type.value}
    if comment:
        _public_message(session, settings, actor, person, request, comment, "triaged", **details)
    else:
        _audit(session, actor, "triaged", request, **details)
    return request


def resolve(
    *, session: Session, actor: Actor, request_id: int, comment: str, settings: Settings | None = None
) -> SupportRequest:
    """Done: the comment (what was done) is sent to the requester."""
    settings = settings or get_settings()
    person = desk_person(session=session, actor=actor)
    comment = _text("comment", "Що зроблено", comment)
    request = get_request(session, request_id, lock=True)
    if request.state not in (S.ACCEPTED, S.IN_PROGRESS, S.INFO_REQUESTED):
        raise TransitionNotAllowed(request, "позначити виконаним")
    request.state = S.DONE
    request.resolved_at = _touch(request)
    _public_message(session, settings, actor, person, request, comment, "resolved")
    return request


def close(*, session: Session, actor: Actor, request_id: int) -> SupportRequest:
    """Close a done or rejected request (the requester may still reopen it within the reopen window)."""
    desk_person(session=session, actor=actor)
    request = get_request(session, request_id, lock=True)
    if request.state not in (S.DONE, S.REJECTED):
        raise TransitionNotAllowed(request, "закрити")
    request.closed_at = _touch(request)
    request.state = S.CLOSED
    _audit(session, actor, "closed", request)
    return request
