"""Processes (the business record of a flow run), their human approval tasks and signed decisions."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    FetchedValue,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base, created_at_column, json_type, str_enum


class ProcessState(StrEnum):
    """Business state of a process (Prefect's run state is the engine's, this one is the truth)."""

    STARTING = "starting"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Process(Base):
    """One run of a business process."""

    __tablename__ = "process"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The process type as the registry declares it (`aikom.processes`), e.g. "director-replacement".
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    # How people call it: its kind and subject («Заміна керівника закладу освіти: Ліцей № 3»).
    title: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[ProcessState] = mapped_column(
        str_enum(ProcessState, "process_state"), nullable=False, default=ProcessState.STARTING
    )
    subject_org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    requester_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    # Who pressed «start»: the requester, or the support agent acting on the requester's behalf.
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    current_step: Mapped[str | None] = mapped_column(String(100))
    flow_run_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The deployment version (package version + flow source hash) its run started on.
    flow_version: Mapped[str | None] = mapped_column(String(80))
    # Set when the process needs an operator (e.g. its flow changed under a waiting run): the
    # reconciler leaves it alone until `aikom process retry` clears it.
    attention: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The subject unit's lineage (root → unit), kept by a trigger: the monitor's scope and areas.
    subject_path: Mapped[list[int] | None] = mapped_column(
        ARRAY(Integer), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    # Working time start → finish on the business calendar, written by the reconciler (the monitor).
    business_days: Mapped[float | None] = mapped_column(Float)


class TaskState(StrEnum):
    """A human step: OPEN until decided, expired or cancelled."""

    OPEN = "open"
    DECIDED = "decided"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    """The outcome of a human step."""

    APPROVE = "approve"
    REJECT = "reject"
    CONFIRM = "confirm"
    DEACTIVATE = "deactivate"


class ApprovalTask(Base):
    """A human step of a process: who may decide (role + org scope, never the requester) and by when."""

    __tablename__ = "approval_task"
    __table_args__ = (UniqueConstraint("process_id", "step_key", name="uq_approval_task_process_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"), nullable=False)
    step_key: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    allowed_roles: Mapped[list[str]] = mapped_column(json_type(), nullable=False, default=list)
    scope_org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    assignee_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    excluded_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    state: Mapped[TaskState] = mapped_column(
        str_enum(TaskState, "task_state"), nullable=False, default=TaskState.OPEN
    )
    decision: Mapped[Decision | None] = mapped_column(str_enum(Decision, "decision"))
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), nullable=False, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    # The work queue: who took the task to work on it (themselves, or assigned by an admin).
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Overdue tasks move one level up the cascade; 0 = where the process put it.
    escalation_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Reminders already sent (each once): "half", "day-before", "managing-body".
    reminders: Mapped[list[str]] = mapped_column(
        json_type(), nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    # Offered to the unit above because this admin is absent and their unit has no other.
    absence_of_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    # Copied from the process by a trigger, so that the monitor's figures about steps read one table.
    process_type: Mapped[str] = mapped_column(String(64), nullable=False, server_default=FetchedValue())
    subject_path: Mapped[list[int] | None] = mapped_column(ARRAY(Integer), server_default=FetchedValue())
    # Working time opened → decided on the business calendar, written by the reconciler (the monitor).
    business_days: Mapped[float | None] = mapped_column(Float)


class Absence(Base):
    """An admin away for a date range: their claimed tasks go back to the pool (or up the cascade)."""

    __tablename__ = "absence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = created_at_column()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignedDecision(Base):
    """A decision's КЕП signature with everything needed to re-verify it years later."""

    __tablename__ = "signed_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("approval_task.id", ondelete="RESTRICT"), unique=True
    )
    signer_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    document: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The CA certificates of the signer's chain and their CRLs at verification (PEM): re-verification
    # does not depend on today's trust list still holding them.
    validation_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    verified_ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    verification_reason: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime] = created_at_column()


class SigninChallenge(Base):
    """A one-time, short-lived sign-in challenge."""

    __tablename__ = "signin_challenge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigninAttempt(Base):
    """One sign-in attempt, kept for rate limiting and investigation."""

    __tablename__ = "signin_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_key: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = created_at_column()


class DashboardSession(Base):
    """A signed-in dashboard session: the browser keeps only a random token, the database its hash.

    It lets a reload or a reconnect keep the person signed in; idle and absolute limits end it, and
    signing out revokes it.
    """

    __tablename__ = "dashboard_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    client_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RolloutOutcome(StrEnum):
    """What a national rollout did for one unit."""

    OPENED = "opened"  # account, keys and the base-key email committed
    NO_EMAIL = "no_email"  # no valid official email in the register: listed, not guessed
    HAS_ACCOUNT = "has_account"  # the unit already had an account: left as it is
    DEACTIVATED = "deactivated"  # the unit's account was deactivated: final, no new account


class RolloutItem(Base):
    """One unit of a national rollout, written in the batch that handled it (so a resumed run skips it)."""

    __tablename__ = "rollout_item"

    process_id: Mapped[int] = mapped_column(ForeignKey("process.id", ondelete="RESTRICT"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), primary_key=True)
    outcome: Mapped[RolloutOutcome] = mapped_column(
        str_enum(RolloutOutcome, "rollout_outcome"), nullable=False
    )
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = created_at_column()
