"""Director replacement (DESIGN §3 item 2), one run per process.

The process row is created (validated, in scope) before the run starts; the run only carries its id.
"""

from __future__ import annotations

from prefect import flow

from aikom.core.timefmt import format_date
from aikom.flows.approval import request_approval, stopped_unless_approved
from aikom.flows.guard import stops_on_refusal
from aikom.models import Decision, PersonRole, ProcessState
from aikom.processes.director_replacement import APPROVE_STEP, SPEC, ReplacementFacts
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.directors import deputy_step_key
from aikom.tasks.directors import (
    apply_deputy_decision,
    apply_replacement,
    approver_scope,
    deputies_to_review,
    notify_replacement_outcome,
)
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name=SPEC.type, persist_result=True)
def director_replacement(process_id: int) -> str:
    """Approve → replace persons → new director's first КЕП sign-in → deputies reviewed → done."""
    with stops_on_refusal(process_id, SPEC):
        return _replace_director(process_id)


def _replace_director(process_id: int) -> str:
    # 1. Load the process; the approver is another admin of the same ОУО, else of the parent ОУО.
    process = load_process(process_id)
    facts = ReplacementFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)
    scope = approver_scope(process_id)
    new_name = facts.new_director.full_name
    order = f"№ {facts.new_director.order_no} від {format_date(facts.new_director.order_date)}"

    # 2. Human step: approval (never by the requester, nor by whoever started it for them).
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Погодити заміну керівника: {facts.school_name}",
        allowed_roles=[PersonRole(scope.role)],
        scope_org_unit_id=scope.org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(APPROVE_STEP),
        details={
            "shown": [
                ["Заклад освіти", facts.school_name],
                ["Новий керівник", new_name],
                ["Наказ про призначення", order],
            ]
        },
    )
    if stopped_unless_approved(process_id, approval, "Заміну керівника {outcome}."):
        return "rejected"

    # 3. Former director INACTIVE, new director PENDING, emailed; the first-sign-in step opens with it.
    new_director_id = apply_replacement(process_id)

    # 4. Wait for the new director's first КЕП sign-in (the sign-in itself closes this step).
    signin = request_approval(
        process_id=process_id,
        step_key=FIRST_SIGNIN_STEP,
        title=f"Перший вхід нового керівника з КЕП: {new_name}",
        allowed_roles=[PersonRole.DIRECTOR],
        scope_org_unit_id=process.subject_org_unit_id,
        excluded_person_id=None,
        assignee_person_id=new_director_id,
        decisions=[Decision.CONFIRM],
        due_days=SPEC.days_for(FIRST_SIGNIN_STEP),
    )
    if not signin.approved:
        notify_requester(process_id, "новий керівник не увійшов із КЕП у встановлений строк", None)
        finish_process(process_id, ProcessState.EXPIRED, "Новий керівник не активував картку вчасно.")
        return "expired"

    # 5. Each deputy of the former director: the new director confirms or deactivates them.
    for deputy in deputies_to_review(process_id):
        step_key = deputy_step_key(deputy.person_id)
        review = request_approval(
            process_id=process_id,
            step_key=step_key,
            title=f"Заступник {deputy.full_name}: підтвердити повноваження чи деактивувати",
            allowed_roles=[PersonRole.DIRECTOR],
            scope_org_unit_id=process.subject_org_unit_id,
            excluded_person_id=None,
            assignee_person_id=new_director_id,
            decisions=[Decision.CONFIRM, Decision.DEACTIVATE],
            due_days=SPEC.days_for(step_key),
        )
        # Not confirmed in time: the powers the former director gave lapse.
        apply_deputy_decision(process_id, deputy.person_id, review.decision == Decision.CONFIRM)

    # 6. Done: the requester learns who the new director is and what happened to each deputy; the
    #    former director is told too.
    notify_replacement_outcome(process_id)
    finish_process(process_id, ProcessState.COMPLETED, f"Керівника замінено: {new_name}.")
    return "completed"
