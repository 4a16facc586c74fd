"""The email outbox: a row per message, written with the change that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class EmailState(StrEnum):
    """Delivery state of an outbox message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class EmailMessage(Base):
    """One email to one recipient, rendered from a template and its variables."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    to_address: Mapped[str] = mapped_column(String(320), nullable=False)
    template: Mapped[str] = mapped_column(String(100), nullable=False)
    variables: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    subject: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[EmailState] = mapped_column(
        str_enum(EmailState, "email_state"), nullable=False, default=EmailState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # A secret the message carries (a base key): encrypted here, put into the message only when it is
    # sent, erased once it is.
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str | None] = mapped_column(String(32))
    # Threading headers a reply carries (Message-ID override, In-Reply-To, References, Auto-Submitted).
    headers: Mapped[dict[str, str] | None] = mapped_column(json_type())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
