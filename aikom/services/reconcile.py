"""Keep the engine in step with the database, which is the truth.

- wake the flow run of every decided (or expired) task that has not been woken yet — a decision made
  while Prefect was down is never lost;
- remind deciders, escalate overdue tasks up the cascade and expire those past the top level (the flow
  then runs its own expiry branch) — `aikom.services.deadlines`; hand over the tasks of absent admins;
- repair runs a runner shutdown left Crashed/Cancelled (or a lapsed suspension left Failed) while
  their process is still live: put them back on the schedule; the re-run skips its cached steps and
  suspends again at its step, or goes on when that step was decided meanwhile;
- launch processes whose flow run was never created (Prefect was down when they started);
- delete sign-in leftovers that have outlived their use (`aikom.services.housekeeping`);
- once a week, put the monitor digest to each manager in the outbox (`aikom.services.monitor_digest`);
- remind persons (and their ОУО) 30 and 7 days before their КЕП expires (`aikom.services.kep_currency`);
- read the support desk's new mail into its requests (`aikom.mail.support_inbox`).

These use cases span the database and the engine, so they open their own units of work: the decision
is committed before the engine is called, and an engine failure never rolls a decision back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError
from aikom.db import unit_of_work
from aikom.deployments import all_deployments, deployment_for
from aikom.models import ApprovalTask, TaskState
from aikom.orchestration import adapter
from aikom.orchestration.adapter import OrchestratorUnavailable, ResumeResult, RunStateType, step_of_pause_key
from aikom.services import (
    absence,
    approvals,
    deadlines,
    housekeeping,
    kep_currency,
    monitor,
    monitor_digest,
    monitor_rollup,
    processes,
)
from aikom.settings import get_settings

log = logging.getLogger(__name__)

LAUNCH_GRACE = timedelta(seconds=30)
MAX_REPAIRS = 5
REPAIRABLE_STATES = (RunStateType.CRASHED, RunStateType.CANCELLED, RunStateType.FAILED)
BATCH = 100


class WakeResult(StrEnum):
    """What happened to one decided task's flow run."""

    RESUMED = "resumed"  # the run was waiting in this step and is now resumed
    NOT_NEEDED = "not_needed"  # the run is past this step or finished; nothing to wake
    IN_PROGRESS = "in_progress"  # the run is running/scheduled: it reads the decision itself
    NEEDS_REPAIR = "needs_repair"  # the run ended Crashed/Cancelled/Failed: the repair pass re-runs it
    NO_RUN = "no_run"  # the process has no flow run (yet)
    UNAVAILABLE = "unavailable"  # the Prefect server did not answer


class ReconcileReport(BaseModel):
    """What one reconciliation pass did."""

    expired: list[int] = Field(default_factory=list)
    reminded: list[int] = Field(default_factory=list)
    escalated: list[int] = Field(default_factory=list)
    handed_over: list[int] = Field(default_factory=list)
    resumed: list[int] = Field(default_factory=list)
    waiting_for_run: list[int] = Field(default_factory=list)
    repaired: list[int] = Field(default_factory=list)
    failed: list[int] = Field(default_factory=list)
    launched: list[int] = Field(default_factory=list)
    purged: housekeeping.Purged = Field(default_factory=housekeeping.Purged)
    monitor_days: int = 0  # days of the monitor's summaries recomputed
    digests: list[int] = Field(default_factory=list)  # managers sent the weekly monitor digest
    kep_reminders: list[int] = Field(default_factory=list)  # persons reminded that their КЕП expires
    support_mail: dict[str, int] = Field(default_factory=dict)  # inbound support mail taken, by outcome
    support_mail_error: str | None = None  # why the support mailbox was not read this pass (Ukrainian)
    orchestrator_available: bool = True


def wake_for_task(task_id: int, *, db_url: str | None = None, api_url: str | None = None) -> WakeResult:
    """Resume the flow run waiting for this (already committed) decision, if it is waiting for it.

    The command that committed the decision and the reconciler may both try: the task's row is locked
    while one of them wakes the run (the other one skips it), so Prefect never gets the same step's
    input twice."""
    with unit_of_work(db_url) as session:
        locked = session.scalar(
            select(ApprovalTask.id).where(ApprovalTask.id == task_id).with_for_update(skip_locked=True)
        )
        task = approvals.get_task(session=session, task_id=task_id)
        if locked is None:
            return WakeResult.IN_PROGRESS  # someone else is waking it right now
        process = processes.get_process(session=session, process_id=task.process_id)
        if task.state == TaskState.OPEN:
            return WakeResult.IN_PROGRESS
        if task.resumed_at is not None:
            return WakeResult.NOT_NEEDED
        if process.flow_run_id is None:
            return WakeResult.NO_RUN
        run_input = {
            "task_id": task.id,
            "state": task.state.value,
            "decision": task.decision.value if task.decision else None,
        }
        try:
            result = _wake(process.flow_run_id, task.step_key, run_input, api_url)
        except OrchestratorUnavailable as exc:
            log.warning(
                "task %s decided; Prefect unavailable, the reconciler resumes it: %s", task_id, exc.detail
            )
            return WakeResult.UNAVAILABLE
        if result in (WakeResult.RESUMED, WakeResult.NOT_NEEDED):
            approvals.mark_resumed(session=session, task_ids=[task_id])
        return result


def _wake(flow_run_id: str, step_key: str, run_input: dict[str, object], api_url: str | None) -> WakeResult:
    run = adapter.read_run(flow_run_id, api_url=api_url)
    if run is None:
        return WakeResult.NEEDS_REPAIR
    if run.waiting:
        if step_of_pause_key(run.pause_key) != step_key:
            return WakeResult.NOT_NEEDED  # it waits in a later step
        result = adapter.resume_run(flow_run_id, run_input, api_url=api_url)
        if result == ResumeResult.RESUMED:
            return WakeResult.RESUMED
        if result == ResumeResult.TIMED_OUT:
            return WakeResult.NEEDS_REPAIR
        return WakeResult.IN_PROGRESS
    if run.state_type == RunStateType.COMPLETED:
        return WakeResult.NOT_NEEDED
    if run.finished:
        return WakeResult.NEEDS_REPAIR
    # Scheduled/pending/running: it will read the decision from the database before it would suspend;
    # if it suspends in the meantime, the next pass finds it waiting and resumes it.
    return WakeResult.IN_PROGRESS


def launch_process(process_id: int, *, db_url: str | None = None, api_url: str | None = None) -> str:
    """Create the flow run of a process (idempotent per process) and attach it; its id."""
    with unit_of_work(db_url) as session:
        process = processes.get_process(session=session, process_id=process_id)
        if process.flow_run_id:
            return process.flow_run_id
        flow = process.type  # a process type's flow carries its name
    flow_run_id = adapter.start_run(
        deployment_for(flow),
        {"process_id": process_id},
        idempotency_key=f"aikom-process-{process_id}",
        api_url=api_url,
    )
    with unit_of_work(db_url) as session:
        process = processes.attach_flow_run(session=session, process_id=process_id, flow_run_id=flow_run_id)
        return process.flow_run_id or flow_run_id


def repair_runs(*, db_url: str | None = None, api_url: str | None = None) -> tuple[list[int], list[int]]:
    """Re-schedule runs of live processes that ended Crashed/Cancelled/Failed; (repaired, given up)."""
    with unit_of_work(db_url) as session:
        live = {
            p.flow_run_id: p.id for p in processes.live_processes_with_runs(session=session) if p.flow_run_id
        }
    repaired: list[int] = []
    given_up: list[int] = []
    ids = list(live)
    for start in range(0, len(ids), BATCH):
        runs = adapter.find_runs(
            flow_run_ids=ids[start : start + BATCH], states=REPAIRABLE_STATES, limit=BATCH, api_url=api_url
        )
        for run in runs:
            process_id = live[run.id]
            if run.run_count >= MAX_REPAIRS:
                with unit_of_work(db_url) as session:
                    processes.fail(
                        session=session,
                        process_id=process_id,
                        reason_uk=f"виконання зупинилося з помилкою ({run.state_name}) і не відновилося "
                        f"після {run.run_count} спроб; потрібне втручання адміністратора.",
                    )
                given_up.append(process_id)
                continue
            reason = f"aikom reconcile: re-run of a {run.state_name} run of live process {process_id}"
            if adapter.reschedule_run(run.id, reason=reason, api_url=api_url) is not None:
                log.info("re-scheduled %s run %s of process %s", run.state_name, run.id, process_id)
                repaired.append(process_id)
    return repaired, given_up


ORPHAN_STATES = (RunStateType.PENDING, RunStateType.RUNNING, RunStateType.CANCELLING)


def crash_orphaned_runs(*, api_url: str | None = None) -> list[str]:
    """Mark Crashed every run of ours still Pending/Running/Cancelling; the ids.

    Only for the moment the single-machine stack starts, before its runner: no flow process can be
    alive then, so such a run was orphaned by a machine crash or a killed stack and would otherwise stay
    "running" forever. Marked Crashed, the repair pass re-runs it like any run a shutdown interrupted.
    (With Prefect workers on several machines, their own crash detection does this instead.)
    """
    names = [spec.full_name for spec in all_deployments()]
    crashed: list[str] = []
    while True:
        runs = adapter.find_runs(deployments=names, states=ORPHAN_STATES, limit=BATCH, api_url=api_url)
        runs = [run for run in runs if run.id not in crashed]
        if not runs:
            return crashed
        for run in runs:
            reason = f"aikom up: the run was {run.state_name} when the previous stack stopped without it"
            adapter.mark_run_crashed(run.id, reason=reason, api_url=api_url)
            log.warning("marked orphaned %s run %s Crashed", run.state_name, run.id)
            crashed.append(run.id)


def _weekly_digests(session: Session, now: datetime) -> list[int]:
    """Last week's monitor digests, once a week; a failure is logged and never stops the pass."""
    try:
        with session.begin_nested():
            return monitor_digest.enqueue_due_digests(session=session, now=now)
    except Exception as error:
        log.warning("weekly monitor digests skipped this pass: %s", monitor_digest.brief(error))
        return []


def reconcile(
    *, db_url: str | None = None, api_url: str | None = None, now: datetime | None = None
) -> ReconcileReport:
    """One reconciliation pass (safe to run any time, from any number of places)."""
    now = now or datetime.now(UTC)
    report = ReconcileReport()
    # 1. Deadlines: remind, escalate overdue steps up the cascade, expire what is past its top level;
    #    hand over the tasks of absent admins; the monitor's summaries and weekly digests (database
    #    only: works while Prefect is down).
    with unit_of_work(db_url) as session:
        deadline_report = deadlines.run_deadlines(session=session, now=now)
        report.expired, report.reminded = deadline_report.expired, deadline_report.reminded
        report.escalated = deadline_report.escalated
        report.handed_over = absence.hand_over_due(session=session, now=now)
        candidates = approvals.tasks_to_resume(session=session)
        report.purged = housekeeping.purge_expired(session=session, now=now)
    # The monitor, in a unit of work of its own (a failure here never holds up the deadlines): durations
    # in business days for what finished since the last pass, then its summaries; then the weekly
    # digests, which read them.
    try:
        with unit_of_work(db_url) as session:
            finished_on = monitor.measure_durations(session, get_settings().business_calendar())
            report.monitor_days = monitor_rollup.refresh(session, now=now, dirty_days=finished_on).days
    except Exception:
        log.exception("the monitor's summaries were not refreshed")
    with unit_of_work(db_url) as session:
        report.digests = _weekly_digests(session, now)
    try:  # КЕП expiry reminders, in a unit of work of their own
        with unit_of_work(db_url) as session:
            report.kep_reminders = kep_currency.send_expiry_reminders(session=session, now=now)
    except Exception as error:
        log.warning("КЕП expiry reminders skipped this pass: %s", monitor_digest.brief(error))
    try:  # the support desk's mail: each message in a unit of work of its own
        from aikom.mail import support_inbox

        report.support_mail = support_inbox.fetch(db_url=db_url).outcomes
    except DomainError as error:  # the mailbox could not be read (e.g. IMAP down, login refused)
        report.support_mail_error = error.message_uk
        log.warning("support mail not read this pass: %s", error.message_uk)
    except Exception as error:
        log.warning("support mail not read this pass: %s", monitor_digest.brief(error))
    if not adapter.is_available(api_url):
        report.orchestrator_available = False
        return report
    try:
        # 2. Wake runs for decided/expired tasks.
        for candidate in candidates:
            result = wake_for_task(candidate.task_id, db_url=db_url, api_url=api_url)
            if result == WakeResult.RESUMED:
                report.resumed.append(candidate.task_id)
            elif result in (WakeResult.IN_PROGRESS, WakeResult.NEEDS_REPAIR):
                report.waiting_for_run.append(candidate.task_id)
            elif result == WakeResult.UNAVAILABLE:
                report.orchestrator_available = False
                return report
        # 3. Repair runs left Crashed/Cancelled/Failed.
        report.repaired, report.failed = repair_runs(db_url=db_url, api_url=api_url)
        # 4. Launch processes that never got a run.
        with unit_of_work(db_url) as session:
            stuck = processes.processes_without_run(session=session, older_than=LAUNCH_GRACE, now=now)
            stuck_ids = [p.id for p in stuck]
        for process_id in stuck_ids:
            launch_process(process_id, db_url=db_url, api_url=api_url)
            report.launched.append(process_id)
    except OrchestratorUnavailable as exc:
        log.warning("reconcile stopped: Prefect unavailable: %s", exc.detail)
        report.orchestrator_available = False
    return report
