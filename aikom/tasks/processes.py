"""Prefect tasks that move a process's business record: running at a step, finished."""

from __future__ import annotations

from typing import Any

from prefect import task
from pydantic import BaseModel

from aikom.core.errors import DomainError
from aikom.db import unit_of_work
from aikom.models import ProcessState
from aikom.services import processes
from aikom.tasks.cache import STEP_CACHE


def retry_unless_refused(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed step unless a business rule refused it: a refusal gives the same answer every time,
    so the process stops at once (the flow's guard records why) instead of retrying and being repaired."""
    return not isinstance(state.data, DomainError)


RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": 2, "retry_condition_fn": retry_unless_refused}


class ProcessFacts(BaseModel):
    """What a flow needs to know about its process (it never holds ORM objects)."""

    id: int
    type: str
    requester_person_id: int | None
    subject_org_unit_id: int | None
    parameters: dict[str, Any]


@task(name="load-process", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def load_process(process_id: int) -> ProcessFacts:
    """The process's requester, subject and parameters."""
    with unit_of_work() as session:
        p = processes.get_process(session=session, process_id=process_id)
        return ProcessFacts(
            id=p.id,
            type=p.type.value,
            requester_person_id=p.requester_person_id,
            subject_org_unit_id=p.subject_org_unit_id,
            parameters=dict(p.parameters),
        )


@task(name="mark-process-running", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def mark_process_running(process_id: int, step: str) -> None:
    """Attach this flow run to the process and mark it RUNNING at `step` (no-op once finished)."""
    from prefect.runtime import flow_run

    with unit_of_work() as session:
        processes.attach_flow_run(session=session, process_id=process_id, flow_run_id=str(flow_run.id))
        processes.mark_step(session=session, process_id=process_id, state=ProcessState.RUNNING, step=step)


@task(name="finish-process", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def finish_process(process_id: int, state: ProcessState, outcome: str) -> None:
    """Put the process into its final state with a Ukrainian outcome line (once)."""
    with unit_of_work() as session:
        processes.finish(session=session, process_id=process_id, state=state, outcome=outcome)


@task(name="notify-requester", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def notify_requester(process_id: int, outcome: str, comment: str | None) -> None:
    """Tell the requester how the process ended (through the outbox)."""
    with unit_of_work() as session:
        processes.notify_requester(session=session, process_id=process_id, outcome=outcome, comment=comment)


@task(name="fail-process", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def fail_process(process_id: int, reason_uk: str) -> None:
    """Stop the process as FAILED with the reason a rule gave; the requester is told."""
    with unit_of_work() as session:
        processes.fail(session=session, process_id=process_id, reason_uk=reason_uk)
