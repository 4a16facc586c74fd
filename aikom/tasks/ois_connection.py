"""Prefect tasks of the ОІС connection process: thin, idempotent, each one unit of work."""

from __future__ import annotations

from prefect import task

from aikom.db import unit_of_work
from aikom.services import ois_connection
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


@task(name="ois-application-rows", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def application_rows(process_id: int, submission_no: int, attempt: int) -> list[list[str]]:
    """The application of this submission (the review's attempt; 0: for the agreement), as shown."""
    with unit_of_work() as session:
        return ois_connection.application_rows(session=session, process_id=process_id)


@task(name="ois-review-outcome", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def review_outcome(process_id: int, step_key: str) -> str:
    """After a review step: "passed", "returned" (the operator emailed) or "unreviewed" (asked again)."""
    with unit_of_work() as session:
        return ois_connection.review_outcome(session=session, process_id=process_id, step_key=step_key)


@task(name="ois-reviewer", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def reviewer_of(process_id: int) -> int:
    """Who passed the review: never the one who approves the agreement."""
    with unit_of_work() as session:
        return ois_connection.reviewer_of(session=session, process_id=process_id)


@task(name="ois-stop-application", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def stop_application(process_id: int, reason_uk: str) -> None:
    """The application ends without a connection; the operator is told."""
    with unit_of_work() as session:
        ois_connection.stop_application(session=session, process_id=process_id, reason_uk=reason_uk)


@task(name="ois-connect", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def connect(process_id: int, step_key: str) -> str:
    """CONNECTED with `receive`, the agreement numbered; the outcome line."""
    with unit_of_work() as session:
        ois = ois_connection.connect(session=session, process_id=process_id, step_key=step_key)
        return f"ОІС «{ois.system_name}» підключено (отримання даних), клієнт {ois.client_id}."
