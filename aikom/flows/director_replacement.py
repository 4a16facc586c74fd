"""Director replacement (DESIGN §3 item 2), one run per process.

The process row is created (validated, in scope) before the run starts; the run only carries its id.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow

from aikom.flows.approval import request_approval
from aikom.flows.guard import stops_on_refusal
from aikom.models import Decision, PersonRole, ProcessState, TaskState
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.directors import (
    ACTIVATION_DAYS,
    APPROVAL_DAYS,
    DEPUTY_REVIEW_DAYS,
    deputy_step_key,
)
from aikom.tasks.directors import (
    apply_deputy_decision,
    apply_replacement,
    approver_scope,
    deputies_to_review,
)
from aikom.tasks.processes import finish_process, load_process, mark_process_running, notify_requester


@flow(name="director-replacement", persist_result=True)
def director_replacement(process_id: int) -> str:
    """Approve → replace persons → new director's first КЕП sign-in → deputies reviewed → done."""
    with stops_on_refusal(process_id):
        return _replace_director(process_id)


def _replace_director(process_id: int) -> str:
    # 1. Load the process; the approver is another admin of the same ОУО, else of the parent ОУО.
    process = load_process(process_id)
    mark_process_running(process_id, "approve")
    scope = approver_scope(process_id)
    school_name = str(process.parameters.get("school_name", ""))
    new_name = str(process.parameters["new_director"]["full_name"])

    # 2. Human step: approval (never by the requester).
    approval = request_approval(
        process_id=process_id,
        step_key="approve",
        title=f"Погодити заміну керівника: {school_name}",
        allowed_roles=[PersonRole(scope.role)],
        scope_org_unit_id=scope.org_unit_id,
        excluded_person_id=process.requester_person_id,
        due_in=timedelta(days=APPROVAL_DAYS),
        details={
            "school": school_name,
            "new_director": new_name,
            "order": f"№ {process.parameters['new_director']['order_no']} від "
            f"{process.parameters['new_director']['order_date']}",
        },
    )
    if not approval.approved:
        expired = approval.state == TaskState.EXPIRED
        outcome = "строк погодження минув" if expired else "відхилено"
        notify_requester(process_id, outcome, approval.comment)
        finish_process(
            process_id,
            ProcessState.EXPIRED if expired else ProcessState.REJECTED,
            f"Заміну керівника {outcome}.",
        )
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
        due_in=timedelta(days=ACTIVATION_DAYS),
    )
    if not signin.approved:
        notify_requester(process_id, "новий керівник не увійшов із КЕП у встановлений строк", None)
        finish_process(process_id, ProcessState.EXPIRED, "Новий керівник не активував картку вчасно.")
        return "expired"

    # 5. Each deputy of the former director: the new director confirms or deactivates them.
    for deputy in deputies_to_review(process_id):
        review = request_approval(
            process_id=process_id,
            step_key=deputy_step_key(deputy.person_id),
            title=f"Заступник {deputy.full_name}: підтвердити повноваження чи деактивувати",
            allowed_roles=[PersonRole.DIRECTOR],
            scope_org_unit_id=process.subject_org_unit_id,
            excluded_person_id=None,
            assignee_person_id=new_director_id,
            decisions=[Decision.CONFIRM, Decision.DEACTIVATE],
            due_in=timedelta(days=DEPUTY_REVIEW_DAYS),
        )
        # Not confirmed in time: the powers the former director gave lapse.
        apply_deputy_decision(process_id, deputy.person_id, review.decision == Decision.CONFIRM)

    # 6. Done: the requester is told.
    notify_requester(process_id, "завершено", None)
    finish_process(process_id, ProcessState.COMPLETED, f"Керівника замінено: {new_name}.")
    return "completed"
