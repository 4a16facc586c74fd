"""A deputy's appointment (DESIGN §3 item 3), one run per process."""

from __future__ import annotations

from prefect import flow

from aikom.flows.first_signin import await_first_signin
from aikom.flows.guard import stops_on_refusal
from aikom.models import PersonRole
from aikom.processes.deputy import SPEC, DeputyFacts
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.tasks.processes import load_process, mark_process_running
from aikom.tasks.provisioning import appoint_deputy


@flow(name=SPEC.type, persist_result=True)
def deputy(process_id: int) -> str:
    """Deputy's card PENDING + invitation → first КЕП sign-in → done."""
    with stops_on_refusal(process_id, SPEC):
        return _appoint(process_id)


def _appoint(process_id: int) -> str:
    # 1. Load the process (the director and the РНОКПП were checked when it was recorded).
    process = load_process(process_id)
    facts = DeputyFacts.model_validate(process.parameters)
    mark_process_running(process_id, FIRST_SIGNIN_STEP)

    # 2. The deputy's card PENDING, appointed by the director, with its first-sign-in step.
    person = appoint_deputy(process_id)

    # 3. Wait for the deputy's first КЕП sign-in → done.
    return await_first_signin(
        spec=SPEC,
        process_id=process_id,
        person_id=person.person_id,
        role=PersonRole.DEPUTY,
        unit_id=facts.school_id,
        title=f"Перший вхід заступника з КЕП: {person.full_name}",
        completed=f"Заступника активовано: {person.full_name}.",
    )
