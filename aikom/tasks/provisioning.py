"""Prefect tasks of cascade provisioning and deputies: thin, idempotent, each one unit of work."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from aikom.db import unit_of_work
from aikom.services import provisioning
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


class AppointedPerson(BaseModel):
    """The card a process created."""

    person_id: int
    full_name: str
    account_opened: bool


@task(name="provision-account-and-person", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def provision(process_id: int) -> AppointedPerson:
    """The unit's account (if it has none: keys, base key emailed) and the person's card PENDING."""
    with unit_of_work() as session:
        done = provisioning.provision(session=session, process_id=process_id)
        return AppointedPerson(
            person_id=done.person_id, full_name=done.full_name, account_opened=done.account_opened
        )


@task(name="appoint-deputy", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def appoint_deputy(process_id: int) -> AppointedPerson:
    """The deputy's card PENDING with its first-sign-in step and invitation."""
    with unit_of_work() as session:
        done = provisioning.appoint_deputy(session=session, process_id=process_id)
        return AppointedPerson(person_id=done.person_id, full_name=done.full_name, account_opened=False)
