"""Prefect tasks that move a process's business record: running at a step, finished."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
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
            type=p.type,
            requester_person_id=p.requester_person_id,
            subject_org_unit_id=p.subject_org_unit_id,
            parameters=dict(p.parameters),
        )


class FlowChangedUnderTheRun(RuntimeError):
    """The flow changed while the run waited and no longer knows a step the process has: the process is
    flagged for an operator, and the reconciler leaves it alone."""


@task(name="mark-process-running", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def mark_process_running(process_id: int, step: str) -> None:
    """Attach this flow run to the process and mark it RUNNING at `step` (no-op once finished)."""
    from prefect.runtime import flow_run

    with unit_of_work() as session:
        processes.attach_flow_run(session=session, process_id=process_id, flow_run_id=str(flow_run.id))
        processes.mark_step(session=session, process_id=process_id, state=ProcessState.RUNNING, step=step)


def retry_if_unreachable(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only when the Prefect API could not be reached (its server restarting: a fresh client does
    not retry a refused connection by itself); a changed flow gives the same answer every time."""
    import httpx

    return isinstance(state.data, httpx.TransportError)


# The deployment's version is read from the Prefect API: ride out a server restart (about a minute).
API_RETRIES: dict[str, Any] = {
    "retries": 6,
    "retry_delay_seconds": [1, 2, 4, 8, 15, 30],
    "retry_condition_fn": retry_if_unreachable,
}


@task(name="check-flow-version", cache_policy=NO_CACHE, persist_result=False, **API_RETRIES)
def check_flow_version(process_id: int, known_steps: list[str]) -> None:
    """Every (re)start of the run: record the flow version it started on; a run resumed on a changed flow
    goes on only if the flow still knows every step the process has (else: flagged, stop)."""
    from prefect.runtime import deployment

    with unit_of_work() as session:
        ok = processes.check_run_version(
            session=session, process_id=process_id, version=deployment.version, known_steps=known_steps
        )
    if not ok:
        raise FlowChangedUnderTheRun(
            f"process {process_id} needs an operator: its flow changed under the run"
        )


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
