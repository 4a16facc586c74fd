"""Support requests to the support desk: the request, its thread of messages, attachments, and what the
mail intake has read (so that every inbound message is taken once)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class SupportRequestType(StrEnum):
    """Kinds of support request; some map to a process."""

    QUESTION = "question"
    KEP_TROUBLE = "kep_trouble"
    DATA_FIX = "data_fix"
    NEW_SCHOOL = "new_school"
    KEY_REGENERATION = "key_regeneration"
    OIS_ACCESS = "ois_access"
    OTHER = "other"


class SupportRequestState(StrEnum):
    """new → accepted / info_requested → in_progress → done / rejected → closed."""

    NEW = "new"
    INFO_REQUESTED = "info_requested"  # waiting for the requester
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    REJECTED = "rejected"
    DONE = "done"
    CLOSED = "closed"


class SupportPriority(StrEnum):
    """How urgent a request is (the queue sorts by it)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class SupportChannel(StrEnum):
    """Where a request came from."""

    DASHBOARD = "dashboard"
    EMAIL = "email"


class SupportRequest(Base):
    """A request to the support desk: its number is its id (`[АІКОМ #id]`)."""

    __tablename__ = "support_request"
    __table_args__ = (
        CheckConstraint(
            "requester_person_id IS NOT NULL OR requester_email IS NOT NULL", name="has_requester"
        ),
        Index("ix_support_request_state_created", "state", "created_at"),
        Index("ix_support_request_assignee_id", "assignee_id"),
        Index("ix_support_request_requester_person_id", "requester_person_id"),
        Index("ix_support_request_requester_email", text("lower(requester_email)")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[SupportRequestType] = mapped_column(
        str_enum(SupportRequestType, "support_request_type"), nullable=False
    )
    state: Mapped[SupportRequestState] = mapped_column(
        str_enum(SupportRequestState, "support_request_state"),
        nullable=False,
        default=SupportRequestState.NEW,
    )
    priority: Mapped[SupportPriority] = mapped_column(
        str_enum(SupportPriority, "support_priority"), nullable=False, default=SupportPriority.NORMAL
    )
    channel: Mapped[SupportChannel] = mapped_column(
        str_enum(SupportChannel, "support_channel"), nullable=False, default=SupportChannel.DASHBOARD
    )
    requester_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    # Where replies go: the sender's address (email), or the person's email (dashboard).
    requester_email: Mapped[str | None] = mapped_column(String(320))
    # The subject unit (the requester's own by default).
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    # The opening text (also the thread's first message).
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    edrpou: Mapped[str | None] = mapped_column(String(8))
    # Process-specific data (e.g. what the new-school process needs); `resume_state`: the state a request
    # returns to when the requester answers a request for information.
    payload: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"))
    triage_comment: Mapped[str | None] = mapped_column(Text)
    # An earlier request this one continues (a reply to a request closed too long ago), or was claimed to
    # continue (a reply from another sender).
    linked_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_request.id", ondelete="RESTRICT")
    )
    # Why the desk should look twice (e.g. `sender_mismatch`); None: nothing odd.
    flag: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MessageDirection(StrEnum):
    """From the requester (in) or from the desk (out)."""

    IN = "in"
    OUT = "out"


class MessageVisibility(StrEnum):
    """A public message (the requester sees it) or an internal note (the desk only)."""

    PUBLIC = "public"
    INTERNAL = "internal"


class SupportMessage(Base):
    """One message of a request's thread, as plain text (never HTML)."""

    __tablename__ = "support_message"
    __table_args__ = (
        CheckConstraint("direction = 'out' OR visibility = 'public'", name="inbound_is_public"),
        Index("ix_support_message_request_id", "request_id", "id"),
        Index(
            "uq_support_message_message_id",
            "message_id",
            unique=True,
            postgresql_where=text("message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("support_request.id", ondelete="RESTRICT"), nullable=False
    )
    direction: Mapped[MessageDirection] = mapped_column(
        str_enum(MessageDirection, "support_message_direction"), nullable=False
    )
    visibility: Mapped[MessageVisibility] = mapped_column(
        str_enum(MessageVisibility, "support_message_visibility"), nullable=False
    )
    author_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    author_email: Mapped[str | None] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    # The outbox message that carried a public reply.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("email_outbox.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()


class SupportAttachment(Base):
    """A file attached to a message: bytes in the database, checked against the limits, downloaded only
    as an attachment (never rendered)."""

    __tablename__ = "support_attachment"
    __table_args__ = (
        CheckConstraint("size_bytes = octet_length(content)", name="size_matches"),
        Index("ix_support_attachment_request_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("support_request.id", ondelete="RESTRICT"), nullable=False
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("support_message.id", ondelete="RESTRICT"), nullable=False
    )
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class IntakeOutcome(StrEnum):
    """What the mail intake did with one inbound message."""

    OPENED = "opened"  # a new request
    APPENDED = "appended"  # added to a request's thread (perhaps reopening it)
    AUTO_REPLY = "auto_reply"  # an auto-reply or bounce: kept, nothing opened, nothing answered
    REJECTED = "rejected"  # unusable (no sender): kept with the reason


class SupportIntake(Base):
    """One inbound message the intake has taken, by its Message-ID: every message is taken once."""

    __tablename__ = "support_intake"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Message-ID, or `sha256:<digest>` of the raw message when it has none.
    message_key: Mapped[str] = mapped_column(String(998), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    outcome: Mapped[IntakeOutcome] = mapped_column(
        str_enum(IntakeOutcome, "support_intake_outcome"), nullable=False
    )
    request_id: Mapped[int | None] = mapped_column(ForeignKey("support_request.id", ondelete="RESTRICT"))
    sender: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    # The raw message of what opened nothing (auto-replies, refusals): nothing is lost.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = created_at_column()


class SupportMailboxCursor(Base):
    """How far a mail source has been read (the sink's last file; an IMAP folder's last UID)."""

    __tablename__ = "support_mailbox_cursor"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = created_at_column()
