"""A school's ОІС access: the grant (`ois-access`) and its revocation at the school's request
(`ois-revocation`), one run per process. The process row is created (validated; for a grant, the grant
itself recorded with it) before the run starts; the run only carries its id."""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval, stopped_unless_approved
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole, ProcessState
from aikom.processes.ois_access import GRANT_STEP
from aikom.processes.ois_access import SPEC as ACCESS_SPEC
from aikom.processes.ois_revocation import APPROVE_STEP, OisRevocationFacts
from aikom.processes.ois_revocation import SPEC as REVOCATION_SPEC
from aikom.tasks.ois_access import apply_revocation, grant_outcome, revocation_shown
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name=ACCESS_SPEC.type, persist_result=True)
def ois_access(process_id: int) -> str:
    """The director's own decision, already in force: the process is closed with its outcome."""
    with stops_on_refusal(process_id, ACCESS_SPEC):
        mark_process_running(process_id, GRANT_STEP)
        finish_process(process_id, ProcessState.COMPLETED, grant_outcome(process_id))
        return "completed"


@flow(name=REVOCATION_SPEC.type, persist_result=True)
def ois_revocation(process_id: int) -> str:
    """Institute admin approves (signed) → grant revoked, key replaced, other grants moved → done."""
    with stops_on_refusal(process_id, REVOCATION_SPEC):
        return _revoke(process_id)


def _revoke(process_id: int) -> str:
    # 1. Load the process (the director, the grant and its school were checked at the start).
    process = load_process(process_id)
    facts = OisRevocationFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)

    # 2. Human step: an institute admin approves (the order, item 8: the Administrator deactivates).
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Відкликати доступ ОІС «{facts.ois_name}»: {facts.school_name}",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=REVOCATION_SPEC.days_for(APPROVE_STEP),
        details={"shown": revocation_shown(process_id)},
    )
    if stopped_unless_approved(process_id, approval, "Відкликання доступу ОІС {outcome}; доступ чинний."):
        return "rejected"

    # 3. One transaction: grant REVOKED, key deactivated, new key kept for one showing, grants moved.
    outcome = apply_revocation(process_id, approval.decided_by_id)

    # 4. Done: the director is told where the new key is shown.
    notify_requester(process_id, outcome, approval.comment)
    finish_process(process_id, ProcessState.COMPLETED, outcome)
    return "completed"
