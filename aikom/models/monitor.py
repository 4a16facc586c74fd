"""Summaries for the managers' monitor, refreshed by the reconciler (`aikom.services.monitor_rollup`).

They serve the two scopes whose live figures would read tens of thousands of rows on every page load —
the whole country and an oblast; smaller scopes read the live tables. Oblast and rayon ids are 0 where a
subject lies above them (`monitor_day.oblast_id` 0 holds the whole country's rows)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from aikom.models.base import Base


class MonitorOpen(Base):
    """Open processes (by state) and open steps (by declared step) per oblast, rayon and type."""

    __tablename__ = "monitor_open"

    oblast_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rayon_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "process" | "step"
    item: Mapped[str] = mapped_column(String(100), primary_key=True)  # a state | a step
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    overdue: Mapped[int] = mapped_column(Integer, nullable=False)  # steps past their due time at refresh
    escalated: Mapped[int] = mapped_column(Integer, nullable=False)


class MonitorDay(Base):
    """Per Kyiv day, oblast (0: the country) and type: processes finished by final state, steps decided
    by step — with the durations themselves (hours and business days), so percentiles stay exact."""

    __tablename__ = "monitor_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    oblast_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "process" | "step"
    item: Mapped[str] = mapped_column(String(100), primary_key=True)  # a final state | a step
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    hours: Mapped[list[float]] = mapped_column(ARRAY(Float), nullable=False)
    business_days: Mapped[list[float]] = mapped_column(ARRAY(Float), nullable=False)


class MonitorUnits(Base):
    """Active units and their accounts per oblast, rayon and level."""

    __tablename__ = "monitor_units"

    oblast_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rayon_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(20), primary_key=True)
    units: Mapped[int] = mapped_column(Integer, nullable=False)
    active: Mapped[int] = mapped_column(Integer, nullable=False)
    pending: Mapped[int] = mapped_column(Integer, nullable=False)
    suspended: Mapped[int] = mapped_column(Integer, nullable=False)
    deactivated: Mapped[int] = mapped_column(Integer, nullable=False)
    without_account: Mapped[int] = mapped_column(Integer, nullable=False)


class MonitorRecent(Base):
    """The durations over the default period (the last 30 days) per oblast (0: the country), type and
    kind (a process end to end: item ""; a step: its step), as the reconciler computed them."""

    __tablename__ = "monitor_recent"

    oblast_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    item: Mapped[str] = mapped_column(String(100), primary_key=True)
    start: Mapped[date] = mapped_column(Date, nullable=False)
    end: Mapped[date] = mapped_column(Date, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    hours: Mapped[list[float] | None] = mapped_column(ARRAY(Float))  # [p50, p90]
    business_days: Mapped[list[float] | None] = mapped_column(ARRAY(Float))  # [p50, p90]
    total_hours: Mapped[float | None] = mapped_column(Float)


class MonitorRefresh(Base):
    """When the summaries were last refreshed (one row)."""

    __tablename__ = "monitor_refresh"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
