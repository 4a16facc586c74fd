"""Prefect tasks of `ois-access`, `ois-revocation` and `key-regeneration`: thin, idempotent, each one
unit of work."""

from __future__ import annotations

from prefect import task

from aikom.db import unit_of_work
from aikom.services import key_regeneration, ois_access
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


@task(name="ois-grant-outcome", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def grant_outcome(process_id: int) -> str:
    """The outcome line of a grant (recorded when the process was started)."""
    with unit_of_work() as session:
        return ois_access.grant_outcome(session=session, process_id=process_id)


@task(name="ois-revocation-shown", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def revocation_shown(process_id: int) -> list[list[str]]:
    """What the approving institute admin sees."""
    with unit_of_work() as session:
        return ois_access.revocation_shown(session=session, process_id=process_id)


@task(name="apply-ois-revocation", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_revocation(process_id: int, approver_id: int | None) -> str:
    """Grant revoked, key deactivated, new key kept for one showing, other grants moved — one transaction.
    Returns the outcome line."""
    with unit_of_work() as session:
        ois_access.apply_revocation(session=session, process_id=process_id, approver_id=approver_id)
    with unit_of_work() as session:
        return ois_access.revocation_outcome(session=session, process_id=process_id)


@task(name="key-regeneration-shown", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def regeneration_shown(process_id: int) -> list[list[str]]:
    """What the approving institute admin sees."""
    with unit_of_work() as session:
        return key_regeneration.approval_shown(session=session, process_id=process_id)


@task(name="apply-key-regeneration", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_regeneration(process_id: int, approver_id: int | None) -> str:
    """Old API key deactivated, new one kept for one showing, grants moved. Returns the outcome line."""
    with unit_of_work() as session:
        facts = key_regeneration.apply_regeneration(
            session=session, process_id=process_id, approver_id=approver_id
        )
        return key_regeneration.outcome_of(facts)
