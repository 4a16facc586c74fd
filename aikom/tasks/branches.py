"""Prefect tasks of a branch's creation: thin, idempotent, each one unit of work."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from aikom.db import unit_of_work
from aikom.services import branches
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


class BranchApprover(BaseModel):
    """Who confirms a branch: a role and the unit it must act for."""

    role: str
    org_unit_id: int


class CreatedBranch(BaseModel):
    """What the confirmed request created."""

    branch_id: int
    name: str
    head_id: int | None
    head_name: str | None
    account_opened: bool
    outcome: str


@task(name="branch-approver-scope", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def approver_scope(process_id: int) -> BranchApprover:
    """An admin of the ОУО that manages the hub (of the ОУО above when it has no active admin)."""
    with unit_of_work() as session:
        role, unit_id = branches.approver_scope(session=session, process_id=process_id)
        return BranchApprover(role=role.value, org_unit_id=unit_id)


@task(name="create-branch", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def create_branch(process_id: int) -> CreatedBranch:
    """The branch under its hub; with its own ЄДРПОУ its account, keys, base-key email and head PENDING."""
    with unit_of_work() as session:
        done = branches.create_branch(session=session, process_id=process_id)
        return CreatedBranch(
            branch_id=done.branch_id,
            name=done.name,
            head_id=done.head_id,
            head_name=done.head_name,
            account_opened=done.account_opened,
            outcome=branches.completed_outcome(done),
        )


@task(name="notify-branch-created", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def notify_branch_created(process_id: int) -> None:
    """Tell the requester the branch exists and that its staff sign with the hub's ЄДРПОУ."""
    with unit_of_work() as session:
        branches.notify_branch_created(session=session, process_id=process_id)
