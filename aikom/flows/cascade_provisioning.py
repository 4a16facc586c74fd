"""Cascade provisioning (DESIGN §3 item 1), one run per process.

The process row is created (scope and level checked) before the run starts; the run only carries its id.
"""

from __future__ import annotations

from prefect import flow

from aikom.flows.first_signin import await_first_signin
from aikom.flows.guard import stops_on_refusal
from aikom.processes.cascade_provisioning import SPEC, ProvisioningFacts
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.persons import role_title
from aikom.tasks.processes import load_process, mark_process_running
from aikom.tasks.provisioning import provision


@flow(name=SPEC.type, persist_result=True)
def cascade_provisioning(process_id: int) -> str:
    """Account (if none) + keys + base key emailed → person PENDING → first КЕП sign-in → done."""
    with stops_on_refusal(process_id, SPEC):
        return _provision(process_id)


def _provision(process_id: int) -> str:
    # 1. Load the process (scope and level were checked when it was recorded).
    process = load_process(process_id)
    facts = ProvisioningFacts.model_validate(process.parameters)
    mark_process_running(process_id, FIRST_SIGNIN_STEP)

    # 2. The unit's account when it has none (base key to its official email, API key kept for one
    #    showing), and the person's card PENDING with its first-sign-in step and invitation.
    person = provision(process_id)

    # 3. Wait for the person's first КЕП sign-in (with the base key, on a new account) → done.
    return await_first_signin(
        spec=SPEC,
        process_id=process_id,
        person_id=person.person_id,
        role=facts.role,
        unit_id=facts.unit_id,
        title=f"Перший вхід з КЕП: {person.full_name} ({role_title(facts.role)})",
        completed=f"Картку активовано: {person.full_name}, {facts.unit_name}"
        + ("; обліковий запис відкрито." if person.account_opened else "."),
    )
