"""Org units: the national root, oblasts, rayons, hromadas, schools and branches."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY  # `@>` (contains) is PostgreSQL's
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aikom.models.base import Base, created_at_column, json_type, str_enum


class OrgLevel(StrEnum):
    """Level of an org unit in the cascade: institute → oblast → rayon → hromada → district → school → branch.

    A district is a city's district (КАТОТТГ category B) with its own education body; its admins have
    the hromada admin's role (the FAQ treats «громади/району міста» alike)."""

    NATIONAL = "national"
    OBLAST = "oblast"
    RAYON = "rayon"
    HROMADA = "hromada"
    DISTRICT = "district"
    SCHOOL = "school"
    BRANCH = "branch"
    # An ОІС operator's company: outside the education cascade, hung under the national unit.
    OIS_COMPANY = "ois_company"

    @property
    def rank(self) -> int:
        """Depth in the cascade: a child's rank is always greater than its parent's."""
        return list(OrgLevel).index(self)


class OrgStatus(StrEnum):
    """Lifecycle of an org unit as the registers describe it."""

    ACTIVE = "active"
    LIQUIDATED = "liquidated"
    REORGANIZED = "reorganized"
    SUSPENDED = "suspended"


class OrgUnit(Base):
    """A node of the administrative and education tree; at most one account belongs to it."""

    __tablename__ = "org_unit"
    __table_args__ = (
        CheckConstraint("edrpou ~ '^[0-9]{8}$'", name="edrpou_format"),
        CheckConstraint("katottg ~ '^UA[0-9]{17}$'", name="katottg_format"),
        CheckConstraint("(level = 'national') = (parent_id IS NULL)", name="only_national_is_root"),
        # Unique ЄДРПОУ among active units; a liquidated school may share it with its successor.
        Index(
            "uq_org_unit_active_edrpou",
            "edrpou",
            unique=True,
            postgresql_where=text("status = 'active' AND edrpou IS NOT NULL"),
        ),
        Index("uq_org_unit_katottg", "katottg", unique=True, postgresql_where=text("katottg IS NOT NULL")),
        Index("uq_org_unit_edebo_id", "edebo_id", unique=True, postgresql_where=text("edebo_id IS NOT NULL")),
        Index("ix_org_unit_parent_level", "parent_id", "level"),
        Index("ix_org_unit_oblast_level", "oblast_id", "level"),
        Index("ix_org_unit_lineage", "lineage", postgresql_using="gin"),
        CheckConstraint("edebo_mark IN ('hub', 'branch')", name="edebo_mark_known"),
    )
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 (SQLAlchemy's declarative hook)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[OrgLevel] = mapped_column(str_enum(OrgLevel, "org_level"), nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    short_name: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[OrgStatus] = mapped_column(
        str_enum(OrgStatus, "org_status"), nullable=False, default=OrgStatus.ACTIVE
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    # The ОУО that manages a school (seed: the body that created the director's card); for ОУО: its parent.
    managing_body_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    # Denormalised oblast of every unit below the national level, for per-oblast scope and counts.
    oblast_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    katottg: Mapped[str | None] = mapped_column(String(19))
    katottg_category: Mapped[str | None] = mapped_column(String(1))
    koatuu: Mapped[str | None] = mapped_column(String(10))
    edrpou: Mapped[str | None] = mapped_column(String(8), index=True)
    edebo_id: Mapped[str | None] = mapped_column(String(20))
    school_type: Mapped[str | None] = mapped_column(String(200))
    settlement: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    official_email: Mapped[str | None] = mapped_column(String(320))
    director_name: Mapped[str | None] = mapped_column(String(300))
    # ЄДЕБО's «Опорний / Філія» mark ("hub" or "branch"), whatever the unit's place in the tree now.
    edebo_mark: Mapped[str | None] = mapped_column(String(10))
    # The register's «Найменування органу, до сфери управління якого належить заклад освіти», verbatim.
    managing_body_name: Mapped[str | None] = mapped_column(String(500))
    # A school the import could not place under its hromada: an admin must move it.
    needs_placement: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    placement_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    # The ids from the national root down to this unit (kept by a database trigger): "X is within Y"
    # is `lineage @> ARRAY[Y]`.
    lineage: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), nullable=False, server_default=text("'{}'"), server_onupdate=FetchedValue()
    )

    parent: Mapped[OrgUnit | None] = relationship(
        remote_side="OrgUnit.id", foreign_keys=[parent_id], lazy="raise"
    )

    def __repr__(self) -> str:
        return f"OrgUnit(id={self.id}, level={self.level}, name={self.name!r})"


class BranchLinkOutcome(StrEnum):
    """What linking a branch to its hub came to."""

    LINKED = "linked"  # linked automatically: exactly one candidate fits
    QUEUED = "queued"  # ranked candidates wait for the managing ОУО
    NO_CANDIDATE = "no_candidate"  # nothing in the oblast fits: reported
    CONFIRMED = "confirmed"  # linked by a person (from the queue)


class BranchLink(Base):
    """How a branch of the register was (or was not) linked to its hub school."""

    __tablename__ = "branch_link"

    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    outcome: Mapped[BranchLinkOutcome] = mapped_column(
        str_enum(BranchLinkOutcome, "branch_link_outcome"), nullable=False
    )
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    # Ranked candidates: [{"hub_id": …, "score": …, "why": …}], best first.
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), nullable=False, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = created_at_column()
