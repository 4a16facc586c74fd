"""Third-party education information systems (ОІС), their agreements and per-school grants."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class OisState(StrEnum):
    """Connection lifecycle of an ОІС."""

    APPLIED = "applied"
    IN_REVIEW = "in_review"
    CONNECTED = "connected"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    # A conformity review failed: the operator fixes the application and resubmits it.
    RETURNED = "returned"
    DISCONNECTED = "disconnected"


class OisCapability(StrEnum):
    """What a connected ОІС may do: read, or read and transmit."""

    NONE = "none"
    RECEIVE = "receive"
    RECEIVE_TRANSMIT = "receive_transmit"


class Ois(Base):
    """An education information system applying for, or holding, a connection."""

    __tablename__ = "ois"
    __table_args__ = (Index("uq_ois_client_id", "client_id", unique=True),)

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
    # The operator's company: an org unit of level `ois_company` (its ЄДРПОУ), holding its account.
    operator_org_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    # How the central database's gateway names this ОІС to the access decision point.
    client_id: Mapped[str | None] = mapped_column(String(64))
    state_reason: Mapped[str | None] = mapped_column(String(1000))
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How many times the application was submitted (1 + resubmissions after a failed review).
    submission_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class AgreementState(StrEnum):
    """An accession agreement as submitted, approved (numbered and dated), rejected or replaced."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Agreement(Base):
    """The signed accession agreement (Договір про приєднання) of an ОІС."""

    __tablename__ = "agreement"
    __table_args__ = (
        Index("uq_agreement_number", "number", unique=True),
        Index("ix_agreement_ois_id", "ois_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    file_name: Mapped[str] = mapped_column(String(300), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The operator's КЕП signature of `content` (CMS, DER) and who signed it.
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    signer_edrpou: Mapped[str | None] = mapped_column(String(8))
    signer_name: Mapped[str | None] = mapped_column(String(300))
    signer_serial: Mapped[str | None] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(50))
    agreement_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[AgreementState] = mapped_column(
        str_enum(AgreementState, "agreement_state"), nullable=False, default=AgreementState.SUBMITTED
    )
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("signed_decision.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()


class ReviewRound(StrEnum):
    """The conformity review for connection (`receive`), or the extended one (`receive_transmit`)."""

    CONNECTION = "connection"
    EXTENDED = "extended"


class ReviewOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class OisReview(Base):
    """One conformity review of an application: each checklist item passed or failed, with a note.

    `items` is a list of {"code", "passed", "note"}; the history of reviews is kept, never rewritten."""

    __tablename__ = "ois_review"
    __table_args__ = (Index("ix_ois_review_ois_id", "ois_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    round: Mapped[ReviewRound] = mapped_column(str_enum(ReviewRound, "ois_review_round"), nullable=False)
    submission_no: Mapped[int] = mapped_column(Integer, nullable=False)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), nullable=False)
    items: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), nullable=False, default=list)
    outcome: Mapped[ReviewOutcome] = mapped_column(
        str_enum(ReviewOutcome, "ois_review_outcome"), nullable=False
    )
    comment: Mapped[str | None] = mapped_column(String(5000))
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()


class OisConclusion(Base):
    """The Institute's conformity conclusion (the order, item 6): a document of its own, signed by the
    reviewer's КЕП (CMS over `document`), downloadable by the operator and the staff."""

    __tablename__ = "ois_conclusion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("ois_review.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    number: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    issued_on: Mapped[date] = mapped_column(Date, nullable=False)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), nullable=False, default=list)
    document: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    signer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class OisPhase(Base):
    """A capability of an ОІС in force from a date; the one in force now is the latest already effective."""

    __tablename__ = "ois_phase"
    __table_args__ = (Index("ix_ois_phase_ois_effective", "ois_id", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ois_id: Mapped[int] = mapped_column(ForeignKey("ois.id", ondelete="RESTRICT"), nullable=False)
    capability: Mapped[OisCapability] = mapped_column(
        str_enum(OisCapability, "ois_phase_capability"), nullable=False
    )
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("ois_review.id", ondelete="RESTRICT"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("signed_decision.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    note: Mapped[str | None] = mapped_column(String(1000))
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
        Index("ix_ois_grant_api_key_id", "api_key_id"),
        Index("ix_ois_grant_school", "school_org_unit_id"),
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
    # What the grant was given under: the ОІС's agreement and its capability then, the data sets (codes
    # of the configured catalogue) and the school's own contract with the operator (the order, item 5).
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreement.id", ondelete="RESTRICT"))
    capability: Mapped[OisCapability | None] = mapped_column(str_enum(OisCapability, "ois_grant_capability"))
    data_sets: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), nullable=False, default=list, server_default="{}"
    )
    contract_number: Mapped[str | None] = mapped_column(String(100))
    contract_date: Mapped[date | None] = mapped_column(Date)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
