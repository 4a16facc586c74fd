"""What the support desk and the requesters read: the desk's queue with its filters and counts, one's own
requests, a request's thread (the requester sees its public part only), a file to download."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import NotFound
from aikom.models import (
    AuditEntry,
    MessageDirection,
    MessageVisibility,
    OrgUnit,
    Person,
    PersonState,
    SupportAttachment,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
)
from aikom.services.support import (
    DESK_ROLES,
    OPEN_STATES,
    PRIORITY_LABELS_UK,
    STATE_LABELS_UK,
    TYPE_LABELS_UK,
    RequestNotFound,
    acting_person,
    desk_person,
    get_request,
    is_desk,
)
from aikom.services.support_processes import RequestProcess, may_start, request_process, spec_for
from aikom.services.support_sla import SlaView, overdue_condition, sla_view

S = SupportRequestState


class QueueFilters(BaseModel):
    """The desk queue's filters (default: every open request)."""

    states: list[SupportRequestState] = list(OPEN_STATES)
    type: SupportRequestType | None = None
    oblast_id: int | None = None
    assignee_id: int | None = None
    mine: bool = False
    unassigned: bool = False
    # Only open requests whose first response or resolution is past its SLA target (working hours).
    overdue: bool = False


class RequestRow(BaseModel):
    """A request as a list shows it."""

    id: int
    type: str
    type_label: str
    state: str
    state_label: str
    priority: str
    subject: str
    requester: str
    org_unit: str | None
    assignee: str | None
    channel: str
    flag: str | None
    linked_request_id: int | None
    created_at: datetime
    updated_at: datetime | None
    sla: SlaView | None = None


class QueuePage(BaseModel):
    """One page of the queue with its counts."""

    total: int
    new: int
    unassigned: int
    mine: int
    rows: list[RequestRow]


_PRIORITY_RANK = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=SupportRequest.priority, else_=2)


def _filtered(
    query: Select[tuple[SupportRequest]], filters: QueueFilters, me: int, now: datetime
) -> Select[tuple[SupportRequest]]:
    if filters.states:
        query = query.where(SupportRequest.state.in_(filters.states))
    if filters.type is not None:
        query = query.where(SupportRequest.type == filters.type)
    if filters.oblast_id is not None:
        unit_ids = select(OrgUnit.id).where(
            or_(OrgUnit.oblast_id == filters.oblast_id, OrgUnit.id == filters.oblast_id)
        )
        query = query.where(SupportRequest.org_unit_id.in_(unit_ids))
    if filters.assignee_id is not None:
        query = query.where(SupportRequest.assignee_id == filters.assignee_id)
    if filters.mine:
        query = query.where(SupportRequest.assignee_id == me)
    if filters.unassigned:
        query = query.where(SupportRequest.assignee_id.is_(None))
    if filters.overdue:
        query = query.where(overdue_condition(now=now))
    return query


def _rows(
    session: Session, requests: Sequence[SupportRequest], *, now: datetime | None = None
) -> list[RequestRow]:
    now = now or datetime.now(UTC)
    person_ids = {r.requester_person_id for r in requests} | {r.assignee_id for r in requests}
    unit_ids = {r.org_unit_id for r in requests}
    names: dict[int | None, str] = dict(
        session.execute(
            select(Person.id, Person.full_name).where(
                Person.id.in_(sorted(i for i in person_ids if i is not None))
            )
        )
        .tuples()
        .all()
    )
    units: dict[int | None, str] = dict(
        session.execute(
            select(OrgUnit.id, OrgUnit.name).where(
                OrgUnit.id.in_(sorted(i for i in unit_ids if i is not None))
            )
        )
        .tuples()
        .all()
    )
    return [
        RequestRow(
            id=r.id,
            type=r.type.value,
            type_label=TYPE_LABELS_UK[r.type],
            state=r.state.value,
            state_label=STATE_LABELS_UK[r.state],
            priority=r.priority.value,
            subject=r.subject,
            requester=names.get(r.requester_person_id, "") or r.requester_email or "—",
            org_unit=units.get(r.org_unit_id),
            assignee=names.get(r.assignee_id),
            channel=r.channel.value,
            flag=r.flag,
            linked_request_id=r.linked_request_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            sla=sla_view(r, now=now),
        )
        for r in requests
    ]


def queue_page(
    *, session: Session, actor: Actor, filters: QueueFilters | None = None, offset: int = 0, limit: int = 50
) -> QueuePage:
    """The desk's queue: most urgent first, then oldest; with counts of the filtered set."""
    me = desk_person(session=session, actor=actor).id
    filters = filters or QueueFilters()
    now = datetime.now(UTC)
    base = _filtered(select(SupportRequest), filters, me, now).subquery()
    counts = session.execute(
        select(
            func.count(),
            func.count().filter(base.c.state == S.NEW.value),
            func.count().filter(base.c.assignee_id.is_(None)),
            func.count().filter(base.c.assignee_id == me),
        ).select_from(base)
    ).one()
    requests = session.scalars(
        _filtered(select(SupportRequest), filters, me, now)
        .order_by(_PRIORITY_RANK, SupportRequest.created_at, SupportRequest.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return QueuePage(
        total=counts[0],
        new=counts[1],
        unassigned=counts[2],
        mine=counts[3],
        rows=_rows(session, requests, now=now),
    )


def my_requests(*, session: Session, actor: Actor, limit: int = 200) -> list[RequestRow]:
    """The person's own requests, newest first."""
    person = acting_person(session, actor)
    requests = session.scalars(
        select(SupportRequest)
        .where(SupportRequest.requester_person_id == person.id)
        .order_by(SupportRequest.id.desc())
        .limit(limit)
    ).all()
    return _rows(session, requests)


class AttachmentView(BaseModel):
    """A file of a message (its bytes are fetched apart)."""

    id: int
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str


class MessageView(BaseModel):
    """A message of a thread, as plain text."""

    id: int
    direction: str
    visibility: str
    author: str
    body: str
    created_at: datetime
    message_id: str | None
    attachments: list[AttachmentView]


class HistoryLine(BaseModel):
    """An audit entry about a request, as the desk reads it («… від імені …»)."""

    at: datetime
    actor: str
    action: str
    action_uk: str


HISTORY_LABELS_UK = {
    "support.opened": "звернення подано",
    "support.requester_message": "повідомлення заявника",
    "support.reopened": "звернення відкрито знову",
    "support.replied": "відповідь заявнику",
    "support.noted": "внутрішня нотатка",
    "support.assigned": "виконавця змінено",
    "support.triaged": "розгляд",
    "support.resolved": "виконано",
    "support.closed": "закрито",
    "support.attachment_dropped": "вкладення відкинуто",
    "support.process_started": "запущено процес",
    "support.sender_mismatch": "лист від іншого відправника (відкрито окреме звернення)",
}


class RequestDetail(BaseModel):
    """A request with its thread (the requester's view holds public messages only), who filed it for the
    requester (the desk «від імені» them), the process started from it, and (for the desk) its history."""

    request: RequestRow
    priority_label: str
    triage_comment: str | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    messages: list[MessageView]
    desk_view: bool
    filed_by: str | None = None
    process: RequestProcess | None = None
    # The desk may start the request's process now (its type maps to one, no live process attached).
    process_to_start: str | None = None
    history: list[HistoryLine] = []


def _history(session: Session, request_id: int) -> list[HistoryLine]:
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "support_request", AuditEntry.object_id == str(request_id))
        .order_by(AuditEntry.id)
        .limit(500)
    ).all()
    lines = []
    for entry in entries:
        label = HISTORY_LABELS_UK.get(entry.action, entry.action)
        if entry.details.get("process_id") and entry.action == "support.process_started":
            label += f" №{entry.details['process_id']}"
        if entry.details.get("on_behalf_of_label"):
            label += f" (від імені {entry.details['on_behalf_of_label']})"
        lines.append(HistoryLine(at=entry.at, actor=entry.actor_label, action=entry.action, action_uk=label))
    return lines


def _visible(session: Session, actor: Actor, request_id: int) -> tuple[SupportRequest, bool]:
    person = acting_person(session, actor)
    request = get_request(session, request_id)
    if is_desk(person):
        return request, True
    if request.requester_person_id == person.id:
        return request, False
    raise RequestNotFound(request_id)


def request_detail(*, session: Session, actor: Actor, request_id: int) -> RequestDetail:
    """A request and its thread as the person may see it: the desk all, the requester the public part."""
    request, desk = _visible(session, actor, request_id)
    query = select(SupportMessage).where(SupportMessage.request_id == request.id).order_by(SupportMessage.id)
    if not desk:
        query = query.where(SupportMessage.visibility == MessageVisibility.PUBLIC)
    messages = session.scalars(query).all()
    files: dict[int, list[AttachmentView]] = {}
    for a in session.execute(
        select(
            SupportAttachment.id,
            SupportAttachment.message_id,
            SupportAttachment.file_name,
            SupportAttachment.content_type,
            SupportAttachment.size_bytes,
            SupportAttachment.sha256,
        ).where(SupportAttachment.request_id == request.id)
    ):
        files.setdefault(a.message_id, []).append(
            AttachmentView(
                id=a.id,
                file_name=a.file_name,
                content_type=a.content_type,
                size_bytes=a.size_bytes,
                sha256=a.sha256,
            )
        )
    authors = dict(
        session.execute(
            select(Person.id, Person.full_name).where(
                Person.id.in_(sorted({m.author_person_id for m in messages if m.author_person_id}))
            )
        )
        .tuples()
        .all()
    )

    def author(m: SupportMessage) -> str:
        if m.direction == MessageDirection.OUT:
            name = authors.get(m.author_person_id) if m.author_person_id else None
            return f"Служба підтримки ({name})" if desk and name else "Служба підтримки"
        return authors.get(m.author_person_id, "") if m.author_person_id else (m.author_email or "—")

    return RequestDetail(
        request=_rows(session, [request])[0],
        priority_label=PRIORITY_LABELS_UK[request.priority],
        triage_comment=request.triage_comment,
        first_response_at=request.first_response_at,
        resolved_at=request.resolved_at,
        messages=[
            MessageView(
                id=m.id,
                direction=m.direction.value,
                visibility=m.visibility.value,
                author=author(m),
                body=m.body,
                created_at=m.created_at,
                message_id=m.message_id if desk else None,
                attachments=files.get(m.id, []),
            )
            for m in messages
        ],
        desk_view=desk,
        filed_by=_filed_by(request),
        process=request_process(session, request),
        process_to_start=(
            spec.title_uk
            if desk
            and (spec := spec_for(request))
            and may_start(session, acting_person(session, actor), request)
            else None
        ),
        history=_history(session, request.id) if desk else [],
    )


def _filed_by(request: SupportRequest) -> str | None:
    filed = request.payload.get("filed_by")
    return str(filed["label"]) if isinstance(filed, dict) and filed.get("label") else None


@dataclass(frozen=True)
class AttachmentFile:
    """A file to download (always as an attachment)."""

    file_name: str
    content_type: str
    content: bytes


def attachment_file(*, session: Session, actor: Actor, attachment_id: int) -> AttachmentFile:
    """The bytes of a file the person may see (an internal note's file only for the desk)."""
    attachment = session.get(SupportAttachment, attachment_id)
    if attachment is None:
        raise NotFound(f"Вкладення №{attachment_id} не знайдено.")
    _, desk = _visible(session, actor, attachment.request_id)
    message = session.get_one(SupportMessage, attachment.message_id)
    if not desk and message.visibility != MessageVisibility.PUBLIC:
        raise NotFound(f"Вкладення №{attachment_id} не знайдено.")
    return AttachmentFile(attachment.file_name, attachment.content_type, attachment.content)


def desk_members(*, session: Session) -> list[tuple[int, str]]:
    """Who may be assigned requests: active support agents and institute admins."""
    return list(
        session.execute(
            select(Person.id, Person.full_name)
            .where(Person.role.in_(DESK_ROLES), Person.state == PersonState.ACTIVE)
            .order_by(Person.full_name)
        )
        .tuples()
        .all()
    )
