"""Monitor test helpers: the reconciler's monitor step on demand, and tidying committed test rows that
would otherwise skew later tests' national figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, OrgUnit, Process, ProcessState, TaskState
from aikom.services import monitor, monitor_rollup
from aikom.services.monitor import OPEN_STATES
from aikom.settings import get_settings


def refresh_summaries(database_url: str | None, now: datetime) -> None:
    """What each reconciler pass does for the monitor (durations, then its summaries), as of `now`: the
    summaries then hold the rows a test just committed, whichever test refreshed them before."""
    with unit_of_work(database_url) as s:
        days = monitor.measure_durations(s, get_settings().business_calendar())
        monitor_rollup.refresh(s, now=now, dirty_days=days)


def close_open_work(database_url: str | None, oblasts: list[int]) -> None:
    """Cancel what is still open under these oblasts: committed rows outlive the test, and a national
    view in a later test must not count them."""
    with unit_of_work(database_url) as s:
        subjects = select(OrgUnit.id).where(OrgUnit.lineage.overlap(oblasts))
        processes = select(Process.id).where(Process.subject_org_unit_id.in_(subjects))
        s.execute(
            update(ApprovalTask)
            .where(ApprovalTask.state == TaskState.OPEN, ApprovalTask.process_id.in_(processes))
            .values(state=TaskState.CANCELLED)
        )
        s.execute(
            update(Process)
            .where(Process.state.in_(OPEN_STATES), Process.id.in_(processes))
            .values(state=ProcessState.CANCELLED, finished_at=Process.created_at)
        )
