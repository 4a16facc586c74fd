"""API key regeneration (DESIGN §3 item 8), one run per process."""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval, stopped_unless_approved
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole, ProcessState
from aikom.processes.key_regeneration import APPROVE_STEP, SPEC, KeyRegenerationFacts
from aikom.tasks.ois_access import apply_regeneration, regeneration_shown
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name=SPEC.type, persist_result=True)
def key_regeneration(process_id: int) -> str:
    """Institute admin approves (signed) → old key deactivated, new one shown once, grants moved → done."""
    with stops_on_refusal(process_id, SPEC):
        return _regenerate(process_id)


def _regenerate(process_id: int) -> str:
    # 1. Load the process (the requester and the account were checked at the start).
    process = load_process(process_id)
    facts = KeyRegenerationFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)

    # 2. Human step: an institute admin approves with a signed decision.
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Перегенерувати ключ API: {facts.unit_name}",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(APPROVE_STEP),
        details={"shown": regeneration_shown(process_id)},
    )
    if stopped_unless_approved(process_id, approval, "Перегенерацію ключа API {outcome}; чинний ключ діє."):
        return "rejected"

    # 3. One transaction: old key deactivated, new one kept for one showing, grants moved.
    outcome = apply_regeneration(process_id, approval.decided_by_id)

    # 4. Done: the requester is told where the new key is shown.
    notify_requester(process_id, outcome, approval.comment)
    finish_process(process_id, ProcessState.COMPLETED, outcome)
    return "completed"
