"""Accounts (one per org unit), the persons acting for them, and their keys."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, str_enum


class AccountState(StrEnum):
    """Lifecycle of an account; DEACTIVATED is final for school accounts (enforced by a trigger)."""

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class DeactivationReason(StrEnum):
    """Why an account was deactivated (seed item 10)."""

    LIQUIDATION = "liquidation"
    REORGANIZATION = "reorganization"
    UNAUTHORIZED_INTERFERENCE = "unauthorized_interference"
    CYBER_INCIDENT = "cyber_incident"


class Account(Base):
    """The account of an institution or ОУО: the 'user of the system' that holds keys."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "(state = 'deactivated') = (deactivation_reason IS NOT NULL)", name="reason_iff_deactivated"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    state: Mapped[AccountState] = mapped_column(
        str_enum(AccountState, "account_state"), nullable=False, default=AccountState.PENDING
    )
    deactivation_reason: Mapped[DeactivationReason | None] = mapped_column(
        str_enum(DeactivationReason, "deactivation_reason")
    )
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A reorganised unit's successor (a new unit: a deactivated school account is never reused).
    successor_org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()


class PersonRole(StrEnum):
    """Roles of DESIGN §1."""

    INSTITUTE_ADMIN = "institute_admin"
    SUPPORT_AGENT = "support_agent"
    MANAGER = "manager"
    OBLAST_ADMIN = "oblast_admin"
    RAYON_ADMIN = "rayon_admin"
    HROMADA_ADMIN = "hromada_admin"
    DIRECTOR = "director"
    DEPUTY = "deputy"
    OIS_OPERATOR = "ois_operator"


class PersonState(StrEnum):
    """A person card: PENDING until the first КЕП sign-in, then ACTIVE; INACTIVE is the end."""

    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Person(Base):
    """A director, deputy or admin acting for an account with their own КЕП."""

    __tablename__ = "person"
    __table_args__ = (
        # One current (pending or active) director per school.
        Index(
            "uq_person_current_director",
            "org_unit_id",
            unique=True,
            postgresql_where=text("role = 'director' AND state IN ('pending', 'active')"),
        ),
        Index("ix_person_rnokpp_blind_index", "rnokpp_blind_index"),
        CheckConstraint(
            "(rnokpp_ciphertext IS NULL) = (rnokpp_blind_index IS NULL)", name="rnokpp_both_or_none"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), nullable=False)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=False)
    role: Mapped[PersonRole] = mapped_column(str_enum(PersonRole, "person_role"), nullable=False)
    state: Mapped[PersonState] = mapped_column(
        str_enum(PersonState, "person_state"), nullable=False, default=PersonState.PENDING
    )
    full_name: Mapped[str] = mapped_column(String(300), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    title: Mapped[str | None] = mapped_column(String(300))
    # РНОКПП is personal data: AES-GCM ciphertext (nonce + ct + tag) and a keyed blind index for look-up.
    rnokpp_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    rnokpp_key_id: Mapped[str | None] = mapped_column(String(32))
    rnokpp_blind_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_former: Mapped[bool] = mapped_column(default=False, nullable=False)
    appointed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    appointment_order_no: Mapped[str | None] = mapped_column(String(100))
    appointment_order_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The КЕП certificate of the person's last sign-in: its issuer, serial and end of validity.
    kep_issuer: Mapped[str | None] = mapped_column(String(500))
    kep_serial: Mapped[str | None] = mapped_column(String(100))
    kep_not_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The `kep_not_after` each expiry reminder was sent for (once per certificate and reminder).
    kep_reminded_30_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kep_reminded_7_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyKind(StrEnum):
    """Base access key (sent to the unit's official email) or API key (passed to an ОІС)."""

    BASE = "base"
    API = "api"


class KeyState(StrEnum):
    """A key is ACTIVE until deactivated (final) or SUSPENDED (cyber incident, pending approval)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class AccessKey(Base):
    """A key of an account: only its public id and an HMAC of its secret are stored."""

    __tablename__ = "access_key"
    __table_args__ = (
        Index(
            "uq_access_key_active_kind",
            "account_id",
            "kind",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), nullable=False)
    kind: Mapped[KeyKind] = mapped_column(str_enum(KeyKind, "key_kind"), nullable=False)
    public_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pepper_id: Mapped[str] = mapped_column(String(32), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False, default=list)
    state: Mapped[KeyState] = mapped_column(
        str_enum(KeyState, "key_state"), nullable=False, default=KeyState.ACTIVE
    )
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("access_key.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivation_note: Mapped[str | None] = mapped_column(String(500))


class KeyDelivery(Base):
    """A new key's secret, kept encrypted until it is shown ONCE to the account's director or admin
    (at most `expires_at`); then only the key's hash remains."""

    __tablename__ = "key_delivery"
    __table_args__ = (
        CheckConstraint("(ciphertext IS NULL) = (cipher_key_id IS NULL)", name="cipher_both_or_none"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_key_id: Mapped[int] = mapped_column(
        ForeignKey("access_key.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    cipher_key_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shown_to_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()
