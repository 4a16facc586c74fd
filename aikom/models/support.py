"""Support requests to the support desk."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class SupportRequestType(StrEnum):
    """Kinds of support request; some map to a process."""

    QUESTION = "question"
    KEP_TROUBLE = "kep_trouble"
    DATA_FIX = "data_fix"
    NEW_SCHOOL = "new_school"
    KEY_REGENERATION = "key_regeneration"


class SupportRequestState(StrEnum):
    """Triage states of a support request."""

    NEW = "new"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DONE = "done"


class SupportRequest(Base):
    """A request to the support desk."""

    __tablename__ = "support_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[SupportRequestType] = mapped_column(
        str_enum(SupportRequestType, "support_request_type"), nullable=False
    )
    state: Mapped[SupportRequestState] = mapped_column(
        str_enum(SupportRequestState, "support_request_state"),
        nullable=False,
        default=SupportRequestState.NEW,
    )
    requester_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    edrpou: Mapped[str | None] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"))
    triage_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
