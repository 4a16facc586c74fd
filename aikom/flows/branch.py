"""A branch's creation (DESIGN §3 item 4), one run per process.

The process row is created (the director of a hub, the codes free) before the run starts; the run only
carries its id.
"""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval
from aikom.flows.first_signin import await_first_signin
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole, ProcessState, TaskState
from aikom.processes.branch import APPROVE_STEP, SPEC, BranchFacts
from aikom.tasks.branches import approver_scope, create_branch, notify_branch_created
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name=SPEC.type, persist_result=True)
def branch(process_id: int) -> str:
    """ОУО confirms → branch under the hub → (own ЄДРПОУ) account, base key, head's КЕП sign-in → done."""
    with stops_on_refusal(process_id, SPEC):
        return _create_branch(process_id)


def _create_branch(process_id: int) -> str:
    # 1. Load the process; the confirmer is an admin of the ОУО that manages the hub.
    process = load_process(process_id)
    facts = BranchFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)
    scope = approver_scope(process_id)

    # 2. Human step: the managing ОУО confirms or rejects (a signed decision).
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Підтвердити філію «{facts.name}»: {facts.hub_name}",
        allowed_roles=[PersonRole(scope.role)],
        scope_org_unit_id=scope.org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(APPROVE_STEP),
        details={"shown": facts.shown()},
    )
    if not approval.approved:
        expired = approval.state == TaskState.EXPIRED
        outcome = "строк підтвердження минув" if expired else "відхилено"
        notify_requester(process_id, outcome, approval.comment)
        finish_process(
            process_id, ProcessState.EXPIRED if expired else ProcessState.REJECTED, f"Філію {outcome}."
        )
        return "rejected"

    # 3. The branch under its hub; with its own ЄДРПОУ also its account (base key to its official email)
    #    and its head's card PENDING with the first-sign-in step and invitation.
    created = create_branch(process_id)

    # 4. Without its own ЄДРПОУ: done (its staff sign with the hub's ЄДРПОУ, within the hub's account).
    if created.head_id is None:
        notify_branch_created(process_id)
        finish_process(process_id, ProcessState.COMPLETED, created.outcome)
        return "completed"

    # 5. With it: wait for the head's first КЕП sign-in (with the base key) → done.
    return await_first_signin(
        spec=SPEC,
        process_id=process_id,
        person_id=created.head_id,
        role=PersonRole.DIRECTOR,
        unit_id=created.branch_id,
        title=f"Перший вхід керівника філії з КЕП: {created.head_name}",
        completed=created.outcome,
    )
