"""ОІС connection (DESIGN §3 item 6), one run per application.

The ОІС, its agreement and the process row are created (validated, signed) before the run starts; the
run only carries the process id. A review that fails returns the application to the operator, and the
run waits for the resubmission, then for the next review — as many rounds as it takes.
"""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval
from aikom.flows.guard import stops_on_refusal
from aikom.models import Decision, PersonRole, ProcessState, TaskState
from aikom.processes.ois_connection import (
    AGREEMENT_STEP,
    MAX_SUBMISSIONS,
    SPEC,
    OisConnectionFacts,
    resubmit_step,
    review_step,
)
from aikom.tasks.ois_connection import (
    application_rows,
    connect,
    review_outcome,
    reviewer_of,
    stop_application,
)
from aikom.tasks.processes import finish_process, load_process, mark_process_running


@flow(name=SPEC.type, persist_result=True)
def ois_connection(process_id: int) -> str:
    """Review (failed → resubmit → review …) → conclusion → agreement by another admin → CONNECTED."""
    with stops_on_refusal(process_id, SPEC):
        return _ois_connection(process_id)


def _stopped(process_id: int, state: TaskState, step_uk: str) -> str:
    expired = state == TaskState.EXPIRED
    reason = f"{step_uk}: {'строк минув' if expired else 'відхилено'}."
    stop_application(process_id, reason)
    finish_process(process_id, ProcessState.EXPIRED if expired else ProcessState.REJECTED, reason)
    return "expired" if expired else "rejected"


def _ois_connection(process_id: int) -> str:
    # 1. Load the process (the ОІС and its agreement are already recorded, submission 1).
    process = load_process(process_id)
    facts = OisConnectionFacts.model_validate(process.parameters)
    submission, attempt = 1, 1
    mark_process_running(process_id, review_step(submission))

    while True:
        # 2. Human step: the conformity review by an institute admin, item by item, signed (a passed one
        #    is the Institute's conclusion), on «ОІС» or `aikom ois review` only (the spec's step screens:
        #    the generic queue refuses it). A task decided elsewhere before that rule: asked again.
        step = review_step(submission, attempt)
        review = request_approval(
            process_id=process_id,
            step_key=step,
            title=(
                f"Перевірити відповідність ОІС «{facts.system_name}» ({facts.company_name}), "
                f"подання {submission}"
            ),
            allowed_roles=[PersonRole.INSTITUTE_ADMIN],
            scope_org_unit_id=None,
            excluded_person_id=process.requester_person_id,
            due_days=SPEC.days_for(step),
            details={"shown": application_rows(process_id, submission, attempt)},
        )
        if review.state != TaskState.DECIDED:
            return _stopped(process_id, review.state, "Перевірка відповідності")
        outcome = review_outcome(process_id, step)
        if outcome == "passed":
            break
        if outcome == "unreviewed" and attempt < MAX_SUBMISSIONS:
            attempt += 1
            continue
        if submission >= MAX_SUBMISSIONS:
            return _stopped(process_id, TaskState.DECIDED, "Забагато повторних подань")

        # 3. Human step: the operator fixes the application and resubmits it (signed) on «Моя ОІС»; an
        #    application not resubmitted in time ends.
        fix = request_approval(
            process_id=process_id,
            step_key=resubmit_step(submission),
            title=f"Доопрацювати і подати повторно заявку ОІС «{facts.system_name}»",
            allowed_roles=[PersonRole.OIS_OPERATOR],
            scope_org_unit_id=facts.company_unit_id,
            excluded_person_id=None,
            due_days=SPEC.days_for(resubmit_step(submission)),
            decisions=[Decision.CONFIRM],
        )
        if not fix.approved:
            return _stopped(process_id, fix.state, "Повторне подання заявки")
        submission, attempt = submission + 1, 1

    # 4. Human step: a DIFFERENT institute admin than the reviewer approves the agreement (signed).
    agreement = request_approval(
        process_id=process_id,
        step_key=AGREEMENT_STEP,
        title=f"Погодити договір про приєднання ОІС «{facts.system_name}» ({facts.company_name})",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=None,
        excluded_person_id=reviewer_of(process_id),
        due_days=SPEC.days_for(AGREEMENT_STEP),
        details={"shown": application_rows(process_id, submission, 0)},
    )
    if not agreement.approved:
        return _stopped(process_id, agreement.state, "Погодження договору про приєднання")

    # 5. CONNECTED with `receive` from now, the agreement numbered and dated, the operator emailed.
    outcome = connect(process_id, AGREEMENT_STEP)
    finish_process(process_id, ProcessState.COMPLETED, outcome)
    return "completed"
