"""National rollout (DESIGN §3 item 11), one run per rollout — never one run per unit."""

from __future__ import annotations

from prefect import flow

from aikom.flows.approval import request_approval, stopped_unless_approved
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole
from aikom.processes.rollout import APPROVE_STEP, SPEC, RolloutFacts
from aikom.services.rollout import LEVEL_PLURAL_UK
from aikom.tasks.processes import load_process, mark_process_running
from aikom.tasks.rollout import finish_rollout, open_batch

ACCOUNTS_STEP = "accounts"


@flow(name=SPEC.type, persist_result=True)
def rollout(process_id: int) -> str:
    """Signed approval by another institute admin → accounts opened batch by batch → done."""
    with stops_on_refusal(process_id, SPEC):
        return _roll_out(process_id)


def _roll_out(process_id: int) -> str:
    # 1. Load the rollout (its scope, level and how many units it covers).
    process = load_process(process_id)
    facts = RolloutFacts.model_validate(process.parameters)
    mark_process_running(process_id, APPROVE_STEP)

    # 2. Human step: another institute admin approves with a КЕП-signed decision.
    approval = request_approval(
        process_id=process_id,
        step_key=APPROVE_STEP,
        title=f"Погодити розгортання: {LEVEL_PLURAL_UK[facts.level]}, {facts.scope_name} ({facts.total})",
        allowed_roles=[PersonRole.INSTITUTE_ADMIN],
        scope_org_unit_id=None,
        excluded_person_id=process.requester_person_id,
        due_days=SPEC.days_for(APPROVE_STEP),
        details={
            "shown": [
                ["Охоплення", facts.scope_name],
                ["Рівень", LEVEL_PLURAL_UK[facts.level]],
                ["Одиниць", str(facts.total)],
            ]
        },
    )
    if stopped_unless_approved(process_id, approval, "Розгортання {outcome}."):
        return "rejected"

    # 3. Batch after batch: accounts, keys, base-key emails; progress on the process page.
    mark_process_running(process_id, ACCOUNTS_STEP)
    after = 0
    while True:
        batch = open_batch(process_id, after)
        if batch.last_id is None:
            break
        after = batch.last_id

    # 4. Done: the requester learns the counts by outcome.
    finish_rollout(process_id)
    return "completed"
