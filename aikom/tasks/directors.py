"""Prefect tasks of the director replacement: thin, idempotent, each one unit of work."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from aikom.db import unit_of_work
from aikom.services import directors
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


class ApproverScope(BaseModel):
    """Who approves a replacement: a role and the unit it must act for."""

    role: str
    org_unit_id: int


class DeputyRef(BaseModel):
    """A deputy whose fate the new director decides."""

    person_id: int
    full_name: str


@task(name="director-approver-scope", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def approver_scope(process_id: int) -> ApproverScope:
    """Another admin of the same ОУО, or of the parent ОУО when there is none."""
    with unit_of_work() as session:
        process = directors.get_process_for_update(session=session, process_id=process_id)
        role, unit_id = directors.approver_scope(session, process)
        return ApproverScope(role=role.value, org_unit_id=unit_id)


@task(name="apply-director-replacement", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_replacement(process_id: int) -> int:
    """Former director INACTIVE, new director PENDING + email + first-sign-in step; returns the new id."""
    with unit_of_work() as session:
        return directors.apply_replacement(session=session, process_id=process_id)


@task(name="deputies-to-review", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def deputies_to_review(process_id: int) -> list[DeputyRef]:
    """The former director's deputies, each with an open review step for the new director."""
    with unit_of_work() as session:
        deputies = directors.open_deputy_reviews(session=session, process_id=process_id)
        return [DeputyRef(person_id=p.id, full_name=p.full_name) for p in deputies]


@task(name="apply-deputy-decision", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_deputy_decision(process_id: int, deputy_id: int, keep: bool) -> None:
    """Confirm or deactivate one deputy."""
    with unit_of_work() as session:
        directors.apply_deputy_decision(
            session=session, process_id=process_id, deputy_id=deputy_id, keep=keep
        )


@task(name="notify-replacement-outcome", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def notify_replacement_outcome(process_id: int) -> None:
    """Tell the requester, the former director and each deactivated deputy how it ended."""
    with unit_of_work() as session:
        directors.notify_outcome(session=session, process_id=process_id)
