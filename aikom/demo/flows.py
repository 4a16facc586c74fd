"""Demo approval: the smallest process with a human step — proves the engine end to end."""

from __future__ import annotations

from datetime import timedelta

from prefect import flow

from aikom.demo.processes import ADMIN_ROLES, SPEC, DemoApprovalParams
from aikom.flows.approval import request_approval
from aikom.flows.guard import stops_on_refusal
from aikom.models import ProcessState, TaskState
from aikom.tasks.processes import finish_process, load_process, mark_process_running


@flow(name=SPEC.type, persist_result=True)
def demo_approval(process_id: int) -> str:
    """Start → approval by another admin in scope → completed, rejected or expired."""
    with stops_on_refusal(process_id, SPEC):
        return _approve(process_id)


def _approve(process_id: int) -> str:
    # 1. Load the process and mark it running.
    process = load_process(process_id)
    params = DemoApprovalParams.model_validate(process.parameters)
    mark_process_running(process_id, "start")

    # 2. Ask for approval (four-eyes: never the requester).
    outcome = request_approval(
        process_id=process_id,
        step_key="approve",
        title=params.title or f"Погодження демонстраційного запиту №{process_id}",
        allowed_roles=list(ADMIN_ROLES),
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_in=timedelta(seconds=params.due_in_seconds) if params.due_in_seconds else None,
        due_days=None if params.due_in_seconds else params.due_business_days,
    )

    # 3. Finish according to the decision.
    if outcome.approved:
        finish_process(process_id, ProcessState.COMPLETED, "Запит погоджено.")
    elif outcome.state == TaskState.EXPIRED:
        finish_process(process_id, ProcessState.EXPIRED, "Строк розгляду минув, рішення не ухвалено.")
    elif outcome.state == TaskState.CANCELLED:
        finish_process(process_id, ProcessState.CANCELLED, "Запит скасовано.")
    else:
        finish_process(process_id, ProcessState.REJECTED, "Запит відхилено.")
    return outcome.state.value
