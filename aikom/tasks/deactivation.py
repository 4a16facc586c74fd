"""Prefect tasks of the account deactivation and the bulk deactivation: thin, idempotent, each one unit
of work."""

from __future__ import annotations

from typing import Any

from prefect import task

from aikom.db import unit_of_work
from aikom.processes.liquidated_deactivation import BulkItem
from aikom.services import deactivation
from aikom.services.deactivation import BranchRef, BranchResult
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


@task(name="deactivation-approval-shown", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def approval_shown(process_id: int) -> list[list[str]]:
    """What the approver sees beside the decision."""
    with unit_of_work() as session:
        return deactivation.approval_shown(session=session, process_id=process_id)


@task(name="reinstate-suspended-keys", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def reinstate_keys(process_id: int) -> int:
    """The deactivation was not upheld: the keys suspended at its start are active again."""
    with unit_of_work() as session:
        return deactivation.reinstate_keys(session=session, process_id=process_id)


@task(name="apply-deactivation", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_deactivation(process_id: int, approver_id: int | None) -> None:
    """Account DEACTIVATED, keys deactivated, persons inactive, ОІС grants revoked."""
    with unit_of_work() as session:
        deactivation.apply_deactivation(session=session, process_id=process_id, approver_id=approver_id)


@task(name="branches-to-decide", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def branches_to_decide(process_id: int, decider_id: int | None) -> list[BranchRef]:
    """The deactivated hub's working branches not decided yet, each with its step open for the decider."""
    with unit_of_work() as session:
        return deactivation.open_branch_steps(session=session, process_id=process_id, decider_id=decider_id)


@task(name="branch-step-details", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def branch_step_details(process_id: int, branch_id: int, problem: str | None) -> dict[str, Any]:
    """What the decider sees about one branch (with why the previous choice could not be done)."""
    with unit_of_work() as session:
        return deactivation.branch_step_details(
            session=session, process_id=process_id, branch_id=branch_id, problem=problem
        )


@task(name="apply-branch-decision", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_branch_decision(process_id: int, branch_id: int, task_id: int) -> BranchResult:
    """Deactivate the branch with its hub, or move it to the hub named."""
    with unit_of_work() as session:
        return deactivation.apply_branch_decision(
            session=session, process_id=process_id, branch_id=branch_id, task_id=task_id
        )


@task(name="keep-branch", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def keep_branch(process_id: int, branch_id: int, why: str) -> None:
    """No choice could be carried out: the branch stays, reported."""
    with unit_of_work() as session:
        deactivation.keep_branch(session=session, process_id=process_id, branch_id=branch_id, why=why)


@task(name="notify-deactivation-outcome", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def notify_deactivation_outcome(process_id: int) -> None:
    """Tell the managing ОУО and the requester what the deactivation changed."""
    with unit_of_work() as session:
        deactivation.notify_outcome(session=session, process_id=process_id)


@task(name="bulk-approval-shown", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def bulk_shown(process_id: int) -> list[list[str]]:
    """What the approver of a bulk deactivation sees."""
    with unit_of_work() as session:
        return deactivation.bulk_shown(session=session, process_id=process_id)


@task(name="bulk-unit-ids", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def bulk_unit_ids(process_id: int) -> list[int]:
    """The schools the bulk decision covers (listed at start)."""
    with unit_of_work() as session:
        process = deactivation.get_process_for_update(
            session=session, process_id=process_id, process_type=deactivation.BULK_TYPE
        )
        return list(deactivation.bulk_facts_of(process).unit_ids)


@task(name="deactivate-liquidated-batch", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def deactivate_liquidated_batch(process_id: int, unit_ids: list[int]) -> list[BulkItem]:
    """One batch of the bulk deactivation, in one unit of work."""
    with unit_of_work() as session:
        return deactivation.deactivate_liquidated_batch(
            session=session, process_id=process_id, unit_ids=unit_ids
        )


@task(name="bulk-outcome", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def bulk_outcome(process_id: int) -> str:
    """Tell the requester what the bulk deactivation did; the outcome line."""
    with unit_of_work() as session:
        return deactivation.bulk_outcome(session=session, process_id=process_id)
