"""A run waiting for a person when its flow changes: it goes on while the new flow still knows every step
of its process; otherwise the process is flagged for an operator and nobody runs it until they retry it.
`aikom process show` names the version the run started on."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, AuditEntry, Decision, Process, TaskState
from aikom.services import processes
from aikom.services.reconcile import reconcile
from tests.flows.conftest import CliCall, StartDemo, World, decide_in_db, wait_for_process
from tests.signing import SigningPki

OLD = "0.0.9+000000000000"


def _started_on_an_old_flow(database_url: str, process_id: int, extra_step: str | None = None) -> None:
    """As if the run had started on an older flow (and, with `extra_step`, that flow had a step the
    current one does not know)."""
    with unit_of_work(database_url) as s:
        process = s.get_one(Process, process_id)
        assert process.flow_version is not None and process.flow_version != OLD  # recorded at the start
        process.flow_version = OLD
        if extra_step:
            s.add(
                ApprovalTask(
                    process_id=process_id,
                    step_key=extra_step,
                    title="Крок старої версії",
                    allowed_roles=["oblast_admin"],
                    state=TaskState.DECIDED,
                    details={},
                )
            )


def _actions(database_url: str, process_id: int) -> list[str]:
    with unit_of_work(database_url) as s:
        return list(
            s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "process", AuditEntry.object_id == str(process_id))
                .order_by(AuditEntry.id)
            )
        )


def test_a_waiting_run_goes_on_when_the_new_flow_knows_its_steps(
    database_url: str,
    api_url: str,
    world: World,
    start_demo: StartDemo,
    signing_pki: SigningPki,
    cli: CliCall,
) -> None:
    started = start_demo()
    _started_on_an_old_flow(database_url, started.process_id)
    decide_in_db(database_url, signing_pki, started.task_id, world.approver, Decision.APPROVE)
    reconcile(db_url=database_url, api_url=api_url)

    view = wait_for_process(database_url, started.process_id)
    assert view.state == "completed"
    assert "process.version_changed" in _actions(database_url, started.process_id)
    code, shown = cli("process", "show", str(started.process_id))
    assert code == 0 and shown["flow_version"] == OLD  # the version the run started on


def test_a_waiting_run_whose_step_the_new_flow_does_not_know_is_flagged_for_an_operator(
    database_url: str,
    api_url: str,
    world: World,
    start_demo: StartDemo,
    signing_pki: SigningPki,
    cli: CliCall,
    expect_engine_errors: Callable[[str], None],
) -> None:
    expect_engine_errors("FlowChangedUnderTheRun")
    started = start_demo()
    _started_on_an_old_flow(database_url, started.process_id, extra_step="legacy-step")
    decide_in_db(database_url, signing_pki, started.task_id, world.approver, Decision.APPROVE)
    reconcile(db_url=database_url, api_url=api_url)

    def flagged() -> Process:
        with unit_of_work(database_url) as s:
            return s.get_one(Process, started.process_id)

    deadline = time.monotonic() + 90
    while flagged().attention is None:
        assert time.monotonic() < deadline, "the process was not flagged"
        time.sleep(0.5)
    process = flagged()
    assert process.state.value in ("running", "waiting")  # not failed: an operator decides
    assert "legacy-step" in (process.attention or "")
    assert "process.flagged" in _actions(database_url, started.process_id)
    # The reconciler leaves it alone: no repair, no new run.
    report = reconcile(db_url=database_url, api_url=api_url)
    assert started.process_id not in report.repaired
    with unit_of_work(database_url) as s:
        assert started.process_id not in [p.id for p in processes.live_processes_with_runs(session=s)]

    code, refused = cli("process", "retry", str(started.process_id), "--as", str(world.approver))
    assert code == 1 and "технічний адміністратор" in refused["message"]
