"""Account deactivation (DESIGN §3 item 9) and the bulk deactivation of liquidated schools, one run per
process.

The process row is created (validated, in scope — and, for the two security reasons, with the unit's
keys already suspended) before the run starts; the run only carries its id.
"""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval, stopped_unless_approved
from aikom.flows.guard import stops_on_refusal
from aikom.models import Decision, PersonRole, ProcessState, TaskState
from aikom.processes.account_deactivation import APPROVE_STEP, SPEC, DeactivationFacts
from aikom.processes.liquidated_deactivation import BATCH_SIZE, BulkFacts
from aikom.processes.liquidated_deactivation import SPEC as BULK_SPEC
from aikom.services.deactivation import branch_step_key, branch_step_title, reason_title
from aikom.tasks.deactivation import (
    apply_branch_decision,
    apply_deactivation,
    approval_shown,
    branch_step_details,
    branches_to_decide,
    bulk_outcome,
    bulk_shown,
    bulk_unit_ids,
    deactivate_liquidated_batch,
    keep_branch,
    notify_deactivation_outcome,
    reinstate_keys,
)
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester

# How many times a branch's decider is asked again when the hub they named cannot take the branch.
BRANCH_ATTEMPTS = 3


@flow(name=SPEC.type, persist_result=True)
def account_deactivation(process_id: int) -> str:
    """(Keys suspended at start) → approve → deactivate → each branch decided → ОУО told → done.

    Rejected: the suspended keys work again; not decided in time: they stay suspended.
    """
    with stops_on_refusal(process_id, SPEC):
        return _deactivate_account(process_id)


def _deactivate_account(process_id: int) -> str:
    # 1. Load the process (for a security reason its keys are suspended since the start).
    process = load_process(process_id)
    facts = DeactivationFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)

    # 2. Human step: a different institute admin approves (never the requester, nor who started it).
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Погодити деактивацію облікового запису: {facts.unit_name} ({reason_title(facts.reason)})",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(APPROVE_STEP),
        details={"shown": approval_shown(process_id)},
    )
    if approval.state == TaskState.EXPIRED:
        # Nobody decided: suspended keys stay suspended (a security suspension never lapses by itself);
        # a new deactivation takes them over, and its rejection restores them.
        kept = " Ключі залишаються призупиненими." if facts.suspended_key_ids else ""
        notify_requester(process_id, "строк погодження минув", kept.strip() or None)
        finish_process(process_id, ProcessState.EXPIRED, f"Деактивацію не погоджено вчасно.{kept}")
        return "expired"
    if not approval.approved:
        # Not upheld: the keys suspended at the start work again.
        restored = reinstate_keys(process_id)
        notify_requester(process_id, "відхилено", approval.comment)
        finish_process(
            process_id,
            ProcessState.REJECTED,
            "Деактивацію відхилено." + (f" Дію ключів відновлено ({restored})." if restored else ""),
        )
        return "rejected"

    # 3. Account DEACTIVATED with its reason, keys deactivated, persons inactive, ОІС grants revoked.
    apply_deactivation(process_id, approval.decided_by_id)

    # 4. Each working branch of a hub school: the approving institute admin deactivates it with the hub
    #    or moves it to another hub of the oblast (asked again when the hub named cannot take it).
    for branch in branches_to_decide(process_id, approval.decided_by_id):
        problem: str | None = None
        for attempt in range(1, BRANCH_ATTEMPTS + 1):
            step_key = branch_step_key(branch.branch_id, attempt)
            review = request_approval(
                process_id=process_id,
                step_key=step_key,
                title=branch_step_title(branch.name),
                allowed_roles=[PersonRole.INSTITUTE_ADMIN],
                scope_org_unit_id=branch.branch_id,
                excluded_person_id=None,
                assignee_person_id=approval.decided_by_id,
                decisions=[Decision.DEACTIVATE, Decision.CONFIRM],
                due_days=SPEC.days_for(step_key),
                details=branch_step_details(process_id, branch.branch_id, problem),
            )
            result = apply_branch_decision(process_id, branch.branch_id, review.task_id)
            if result.done:
                break
            problem = result.problem
        else:
            keep_branch(process_id, branch.branch_id, f"рішення не виконано: {problem}")

    # 5. Done: the managing ОУО and the requester are told.
    notify_deactivation_outcome(process_id)
    finish_process(process_id, ProcessState.COMPLETED, f"Обліковий запис деактивовано: {facts.unit_name}.")
    return "completed"


@flow(name=BULK_SPEC.type, persist_result=True)
def liquidated_deactivation(process_id: int) -> str:
    """One signed approval → each listed liquidated school deactivated (or skipped, why) in batches → done."""
    with stops_on_refusal(process_id, BULK_SPEC):
        return _deactivate_liquidated(process_id)


def _deactivate_liquidated(process_id: int) -> str:
    # 1. Load the process: the schools were listed at its start, so the decision covers exactly them.
    process = load_process(process_id)
    facts = BulkFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)

    # 2. Human step: one signed decision by a different institute admin.
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Погодити деактивацію {len(facts.unit_ids)} ліквідованих закладів: {facts.scope_name}",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=BULK_SPEC.days_for(APPROVE_STEP),
        details={"shown": bulk_shown(process_id)},
    )
    if stopped_unless_approved(process_id, approval, "Пакетну деактивацію {outcome}."):
        return "rejected"

    # 3. Batches, each one unit of work; a re-run after a crash skips every school already reported.
    unit_ids = bulk_unit_ids(process_id)
    for start in range(0, len(unit_ids), BATCH_SIZE):
        deactivate_liquidated_batch(process_id, unit_ids[start : start + BATCH_SIZE])

    # 4. Done: the requester gets the report (the ОУО of each school was told with its batch).
    summary = bulk_outcome(process_id)
    finish_process(process_id, ProcessState.COMPLETED, summary)
    return "completed"
