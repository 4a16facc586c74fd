"""Third-party education information systems (ОІС), their agreements and per-school grants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class OisState(StrEnum):
    """Connection lifecycle of an ОІС."""

    APPLIED = "applied"
    IN_REVIEW = "in_review"
    CONNECTED = "connected"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class OisCapability(StrEnum):
    """What a connected ОІС may do: read, or read and transmit."""

    NONE = "none"
    RECEIVE = "receive"
    RECEIVE_TRANSMIT = "receive_transmit"


class Ois(Base):
    """An education information system applying for, or holding, a connection."""

    __tablename__ = "ois"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_name: Mapped[str] = mapped_column(String(300), nullable=False)
    company_name: Mapped[str] = mapped_column(String(500), nullable=False)
    company_edrpou: Mapped[str] = mapped_column(String(8), nullable=False)
    site: Mapped[str | None] = mapped_column(String(500))
    contact_name: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str] = mapped_column(String(320), nullable=False)
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[OisState] = mapped_column(
        str_enum(OisState, "ois_state"), nullable=False, default=OisState.APPLIED
    )
    capability: Mapped[OisCapability] = mapped_column(
        str_enum(OisCapability, "ois_capability"), nullable=False, default=OisCapability.NONE
    )
    self_assessment: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    operator_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class Agreement(Base):
    """The signed accession agreement (Договір про приєднання) of an ОІС."""

    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    file_name: Mapped[str] = mapped_column(String(300), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class GrantState(StrEnum):
    """A school's grant to an ОІС."""

    ACTIVE = "active"
    REVOKED = "revoked"


class OisGrant(Base):
    """A school's grant of access to a connected ОІС, bound to the school's API key."""

    __tablename__ = "ois_grant"
    __table_args__ = (
        Index(
            "uq_ois_grant_active",
            "ois_id",
            "school_org_unit_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    school_org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=False
    )
    api_key_id: Mapped[int] = mapped_column(ForeignKey("access_key.id", ondelete="RESTRICT"), nullable=False)
    state: Mapped[GrantState] = mapped_column(
        str_enum(GrantState, "grant_state"), nullable=False, default=GrantState.ACTIVE
    )
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
