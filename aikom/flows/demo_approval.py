"""Demo approval: the smallest process with a human step — proves the engine end to end.

Parameters of the process (`process.parameters`): `title`, `allowed_roles`, `due_in_seconds`.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow

from aikom.flows.approval import request_approval
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole, ProcessState, TaskState
from aikom.tasks.processes import finish_process, load_process, mark_process_running

DEFAULT_ROLES = (
    PersonRole.INSTITUTE_ADMIN,
    PersonRole.OBLAST_ADMIN,
    PersonRole.RAYON_ADMIN,
    PersonRole.HROMADA_ADMIN,
)
DEFAULT_DUE = timedelta(days=3)


@flow(name="demo-approval", persist_result=True)
def demo_approval(process_id: int) -> str:
    """Start → approval by another admin in scope → completed, rejected or expired."""
    with stops_on_refusal(process_id):
        return _approve(process_id)


def _approve(process_id: int) -> str:
    # 1. Load the process and mark it running.
    process = load_process(process_id)
    due_in = timedelta(seconds=int(process.parameters.get("due_in_seconds") or DEFAULT_DUE.total_seconds()))
    mark_process_running(process_id, "start")

    # 2. Ask for approval (four-eyes: never the requester).
    outcome = request_approval(
        process_id=process_id,
        step_key="approve",
        title=str(process.parameters.get("title") or f"Погодження демонстраційного запиту №{process_id}"),
        allowed_roles=[PersonRole(r) for r in process.parameters.get("allowed_roles", DEFAULT_ROLES)],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_in=due_in,
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
