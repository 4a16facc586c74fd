"""New school via a support request (DESIGN §3 item 5), one run per process.

The process row and its support request are created (validated, in scope) before the run starts; the
run only carries the process id.
"""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole, ProcessState, TaskState
from aikom.processes.new_school import SPEC, TRIAGE_STEP, VERIFY_STEP, NewSchoolFacts
from aikom.tasks.new_school import (
    apply_triage,
    create_school_card,
    registry_findings,
    reject_request,
    request_rows,
    resolve_request,
)
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name=SPEC.type, persist_result=True)
def new_school(process_id: int) -> str:
    """Triage by the desk → verification against the registers (signed) → school card → requester told."""
    with stops_on_refusal(process_id, SPEC):
        return _new_school(process_id)


def _stopped(process_id: int, state: TaskState, step: str) -> str:
    expired = state == TaskState.EXPIRED
    outcome = f"{step}: строк минув" if expired else f"{step}: відхилено"
    finish_process(process_id, ProcessState.EXPIRED if expired else ProcessState.REJECTED, f"{outcome}.")
    return "expired" if expired else "rejected"


def _new_school(process_id: int) -> str:
    # 1. Load the process (its support request is already open).
    process = load_process(process_id)
    facts = NewSchoolFacts.model_validate(process.parameters)
    mark_process_running(process_id, TRIAGE_STEP)

    # 2. Human step: the support desk triages (accept; reject, or ask for more — a rejection whose
    #    comment says what is missing, sent to the requester in the request's thread).
    triage = request_approval(
        process_id=process_id,
        step_key=TRIAGE_STEP,
        title=f"Звернення № {facts.support_request_id}: новий заклад «{facts.name}» — розгляд",
        allowed_roles=[PersonRole.SUPPORT_AGENT],
        scope_org_unit_id=None,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(TRIAGE_STEP),
        details={"shown": request_rows(process_id)},
    )
    apply_triage(process_id, TRIAGE_STEP)
    if not triage.approved:
        if triage.state == TaskState.EXPIRED:
            notify_requester(process_id, "службу підтримки не встигла розглянути звернення", None)
        return _stopped(process_id, triage.state, "Розгляд службою підтримки")

    # 3. Human step: an institute admin verifies the request against the registers and decides (signed).
    verify = request_approval(
        process_id=process_id,
        step_key=VERIFY_STEP,
        title=f"Перевірити за реєстрами: новий заклад «{facts.name}» (ЄДРПОУ {facts.edrpou})",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=None,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(VERIFY_STEP),
        details={"shown": registry_findings(process_id)},
    )
    if not verify.approved:
        reject_request(process_id, VERIFY_STEP)
        expired = verify.state == TaskState.EXPIRED
        notify_requester(process_id, "строк перевірки минув" if expired else "відхилено", verify.comment)
        return _stopped(process_id, verify.state, "Перевірка за реєстрами")

    # 4. The school card under the requesting ОУО.
    school_id = create_school_card(process_id, VERIFY_STEP)

    # 5. The requester is emailed and the support request resolved with a public reply.
    resolve_request(process_id, VERIFY_STEP)
    finish_process(process_id, ProcessState.COMPLETED, f"Картку закладу створено (№ {school_id}).")
    return "completed"
