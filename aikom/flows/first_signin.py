"""The last step of every process that creates a person card: wait for that person's first КЕП sign-in
(the sign-in itself closes the step), then end the process."""

from __future__ import annotations

from aikom.flows.approval import request_approval
from aikom.models import Decision, PersonRole, ProcessState
from aikom.processes.registry import ProcessSpec
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.tasks.processes import finish_process, notify_requester


def await_first_signin(
    *,
    spec: ProcessSpec,
    process_id: int,
    person_id: int,
    role: PersonRole,
    unit_id: int,
    title: str,
    completed: str,
) -> str:
    """Wait for the person's first sign-in; COMPLETED with `completed`, or EXPIRED (the requester told)."""
    signin = request_approval(
        process_id=process_id,
        step_key=FIRST_SIGNIN_STEP,
        title=title,
        allowed_roles=[role],
        scope_org_unit_id=unit_id,
        excluded_person_id=None,
        assignee_person_id=person_id,
        decisions=[Decision.CONFIRM],
        due_days=spec.days_for(FIRST_SIGNIN_STEP),
    )
    if not signin.approved:
        notify_requester(process_id, "особа не увійшла з КЕП у встановлений строк", None)
        finish_process(process_id, ProcessState.EXPIRED, "Картку не активовано першим входом вчасно.")
        return "expired"
    notify_requester(process_id, "виконано", None)
    finish_process(process_id, ProcessState.COMPLETED, completed)
    return "completed"
