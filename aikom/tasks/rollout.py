"""Prefect tasks of the national rollout: each batch one unit of work, idempotent (units handled by this
rollout are skipped, so a batch re-run after a crash opens nothing twice)."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from aikom.db import unit_of_work
from aikom.models import ProcessState
from aikom.services import processes, rollout
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


class Batch(BaseModel):
    """The last unit a batch reached (None: none was left) and what it did."""

    last_id: int | None
    counts: dict[str, int]


@task(name="rollout-batch", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def open_batch(process_id: int, after_id: int) -> Batch:
    """Accounts, keys and base-key emails of the next batch of units, with their rollout items."""
    with unit_of_work() as session:
        done = rollout.open_batch(session=session, process_id=process_id, after_id=after_id)
        return Batch(last_id=done.last_id, counts=done.counts)


@task(name="finish-rollout", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def finish_rollout(process_id: int) -> None:
    """COMPLETED; the requester is emailed the counts by outcome."""
    with unit_of_work() as session:
        facts = rollout.summary_facts(session=session, process_id=process_id)
        processes.notify_requester(
            session=session, process_id=process_id, outcome="виконано", comment=None, facts=facts
        )
        processes.finish(
            session=session,
            process_id=process_id,
            state=ProcessState.COMPLETED,
            outcome="; ".join(facts) + ".",
        )
