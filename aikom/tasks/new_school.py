"""Prefect tasks of the new-school process: thin, idempotent, each one unit of work."""

from __future__ import annotations

from prefect import task

from aikom.db import unit_of_work
from aikom.services import new_school
from aikom.services.processes import notify_requester
from aikom.tasks.cache import STEP_CACHE
from aikom.tasks.processes import RETRIES


@task(name="new-school-request-rows", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def request_rows(process_id: int) -> list[list[str]]:
    """The request as the desk reads it at triage."""
    with unit_of_work() as session:
        _, facts = new_school.facts_of(session, process_id)
        return new_school.request_rows(facts)


@task(name="new-school-findings", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def registry_findings(process_id: int) -> list[list[str]]:
    """The request beside what the registers hold, as rows for the verification step."""
    with unit_of_work() as session:
        _, facts = new_school.facts_of(session, process_id)
        findings = new_school.findings_for(session=session, process_id=process_id)
        rows = new_school.request_rows(facts) + findings.rows()
        if findings.blocking:
            rows.append(["НЕ ПОГОДЖУЙТЕ", findings.blocking])
        return rows


@task(name="new-school-apply-triage", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def apply_triage(process_id: int, step_key: str) -> None:
    """The desk's triage decision, carried to the support request."""
    with unit_of_work() as session:
        new_school.apply_triage(session=session, process_id=process_id, step_key=step_key)


@task(name="new-school-reject-request", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def reject_request(process_id: int, step_key: str) -> None:
    """The verifier's rejection, carried to the support request."""
    with unit_of_work() as session:
        new_school.reject_request(session=session, process_id=process_id, step_key=step_key)


@task(name="new-school-create-card", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def create_school_card(process_id: int, step_key: str) -> int:
    """The school card under the requesting ОУО, on the decision in `step_key`; its id."""
    with unit_of_work() as session:
        return new_school.create_school_card(session=session, process_id=process_id, step_key=step_key).id


@task(name="new-school-resolve", cache_policy=STEP_CACHE, persist_result=True, **RETRIES)
def resolve_request(process_id: int, step_key: str) -> None:
    """The support request resolved with a public reply; the requester's outcome email beside it."""
    with unit_of_work() as session:
        new_school.resolve_request(session=session, process_id=process_id, step_key=step_key)
        notify_requester(
            session=session,
            process_id=process_id,
            outcome="картку закладу створено — тепер можна додати його керівника",
            comment=None,
            facts=new_school.outcome_facts(session=session, process_id=process_id),
        )
