"""The ONE helper every flow uses for a human step: `request_approval`.

1. open the approval task once (a cached task: process, step, roles, org scope, four-eyes, due date);
2. read the decision from the database — decided already? go on without waiting;
3. suspend the flow run (no process is left behind) until a resume wakes it;
4. after the resume, re-read the decision from the DATABASE: the run input only wakes the flow.

Expiry: the reconciler marks an overdue task EXPIRED and wakes the run, so the flow itself handles
"nobody decided in time". The suspension's own timeout (due date + grace) is only a backstop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, RUN_ID
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run

from aikom.models import Decision, PersonRole, ProcessState, TaskState
from aikom.orchestration.adapter import approval_pause_key
from aikom.services.approvals import DEFAULT_DECISIONS, ApprovalOutcome, ApprovalRequest
from aikom.tasks.approvals import open_approval_task, read_approval_outcome
from aikom.tasks.processes import finish_process, mark_process_running, notify_requester

# The Prefect timeout outlives the due date, escalations to the units above included: the reconciler
# expires the task first and wakes the run (a lapsed suspension is repaired like a crash anyway).
SUSPEND_GRACE = timedelta(days=90)
MIN_SUSPEND_SECONDS = 300
# A resume whose decision is not in the database (e.g. from the Prefect UI) just suspends again, this often.
MAX_WAKEUPS = 5


class ApprovalInput(RunInput):
    """The resume input: a wake-up call naming the task; the decision itself is read from the database."""

    task_id: int
    state: str
    decision: str | None = None


class ApprovalStillOpen(RuntimeError):
    """The run was woken too many times while its task stayed open."""


def _suspend_timeout(outcome: ApprovalOutcome) -> int:
    if outcome.due_at is None:
        return int(SUSPEND_GRACE.total_seconds())
    remaining = (outcome.due_at - datetime.now(UTC)).total_seconds()
    return max(MIN_SUSPEND_SECONDS, int(remaining + SUSPEND_GRACE.total_seconds()))


def request_approval(
    *,
    process_id: int,
    step_key: str,
    title: str,
    allowed_roles: Sequence[PersonRole],
    scope_org_unit_id: int | None,
    excluded_person_id: int | None,
    due_days: int | None = None,
    due_in: timedelta | None = None,
    details: Mapping[str, Any] | None = None,
    decisions: Sequence[Decision] = DEFAULT_DECISIONS,
    assignee_person_id: int | None = None,
) -> ApprovalOutcome:
    """Ask a person for a decision and wait for it; return the task as the database holds it.

    Call it from a flow body (never from a task). `excluded_person_id` is the requester (four-eyes).
    Due in `due_days` business days (the business calendar), or — for short demo steps — `due_in`.
    The outcome is DECIDED (see `.approved`, `.decision`), EXPIRED or CANCELLED — never OPEN.
    """
    request = ApprovalRequest(
        process_id=process_id,
        step_key=step_key,
        title=title,
        allowed_roles=list(allowed_roles),
        scope_org_unit_id=scope_org_unit_id,
        excluded_person_id=excluded_person_id,
        assignee_person_id=assignee_person_id,
        due_business_days=due_days,
        due_in_seconds=int(due_in.total_seconds()) if due_in is not None else None,
        decisions=list(decisions),
        details=dict(details or {}),
    )
    task_id = open_approval_task(request)
    outcome = read_approval_outcome(task_id)
    wakeups = 0
    while outcome.is_open:
        if wakeups >= MAX_WAKEUPS:
            raise ApprovalStillOpen(f"approval task {task_id} still open after {wakeups} wake-ups")
        # Within one attempt a fired key returns at once, and the loop re-reads the decision.
        suspend_flow_run(
            wait_for_input=ApprovalInput,
            key=approval_pause_key(step_key, flow_run.run_count, wakeups),
            timeout=_suspend_timeout(outcome),
        )
        wakeups += 1
        outcome = read_approval_outcome(task_id)
    mark_process_running(process_id, f"{step_key}:{outcome.state.value}")
    return outcome


# --- the bare suspend/resume baseline (bench/approval.py, engine smoke test) ---------------------


def stopped_unless_approved(process_id: int, approval: ApprovalOutcome, summary: str) -> bool:
    """After an approval step that the process cannot go on without: False when approved; otherwise the
    requester is told, the process finishes REJECTED (EXPIRED when nobody decided in time) with `summary`
    (its `{outcome}` filled in: «відхилено» / «строк погодження минув»), and True."""
    if approval.approved:
        return False
    expired = approval.state == TaskState.EXPIRED
    outcome = "строк погодження минув" if expired else "відхилено"
    notify_requester(process_id, outcome, approval.comment)
    finish_process(
        process_id,
        ProcessState.EXPIRED if expired else ProcessState.REJECTED,
        summary.format(outcome=outcome),
    )
    return True


class ProbeInput(RunInput):
    """Resume input of the probe."""

    note: str = ""


@task(name="probe-step", cache_policy=RUN_ID + INPUTS, persist_result=True)
def probe_step(label: str, stage: str) -> str:
    """A trivial step before or after the wait."""
    return f"{label}:{stage}"


@flow(name="suspend-probe", persist_result=True)
def suspend_probe(label: str = "probe", timeout_seconds: int = 3600) -> str:
    """One step, a bare suspension with input, one step: the engine's own suspend/resume cost."""
    probe_step(label, "before")
    suspend_flow_run(wait_for_input=ProbeInput, key="probe", timeout=timeout_seconds)
    return probe_step(label, "after")


__all__ = [
    "ApprovalInput",
    "ApprovalOutcome",
    "ApprovalStillOpen",
    "request_approval",
    "suspend_probe",
]
