"""Prefect tasks of the human step: open the approval task once, re-read its decision."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import INPUTS, NO_CACHE, RUN_ID

from aikom.db import unit_of_work
from aikom.models import ProcessState, TaskState
from aikom.services import approvals, processes
from aikom.services.approvals import ApprovalOutcome, ApprovalRequest

# The run id plus the inputs, never the task's source: a step before a suspension must not run again
# when the flow run resumes in a new process.
STEP_CACHE = RUN_ID + INPUTS
# Database hiccups are retried; a domain rule refusing is not (it raises the same way again).
RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": 2}


@task(name="open-approval-task", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def open_approval_task(request: ApprovalRequest) -> int:
    """Create the approval task of (process, step) if missing and mark the process WAITING; its id."""
    with unit_of_work() as session:
        approval = approvals.create_task(session=session, request=request)
        if approval.state == TaskState.OPEN:
            processes.mark_step(
                session=session,
                process_id=request.process_id,
                state=ProcessState.WAITING,
                step=request.step_key,
            )
        return approval.id


@task(name="read-approval-outcome", cache_policy=NO_CACHE, persist_result=False, **RETRIES)
def read_approval_outcome(task_id: int) -> ApprovalOutcome:
    """The task's state and decision as the database holds them now (never cached)."""
    with unit_of_work() as session:
        return approvals.read_outcome(session=session, task_id=task_id)
