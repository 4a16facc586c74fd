"""The approval mechanism end to end: a real Prefect server, a real runner, the demo-approval flow."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import func, select

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, Decision, Person
from aikom.orchestration import adapter
from aikom.orchestration.engine import Engine
from aikom.orchestration.runner import start_runner
from aikom.orchestration.server import start_server
from aikom.services import approvals
from aikom.services.approvals import AlreadyDecided
from aikom.services.reconcile import WakeResult, crash_orphaned_runs, reconcile, wake_for_task
from tests.flows.conftest import (
    CliCall,
    SignedDecide,
    StartDemo,
    World,
    decide_in_db,
    wait_for_paused,
    wait_for_process,
)
from tests.signing import SigningPki, decide_signed, signed_decision


def test_approve_path_completes(
    start_demo: StartDemo,
    world: World,
    cli: CliCall,
    cli_decide: SignedDecide,
    database_url: str,
    api_url: str,
) -> None:
    started = start_demo()

    code, listed = cli("tasks", "list", "--as", str(world.approver))
    assert code == 0
    assert started.task_id in [row["task_id"] for row in listed["rows"]]

    code, decided = cli_decide(started.task_id, world.approver, Decision.APPROVE, "Погоджую")
    assert code == 0, decided
    assert decided["resume"] == WakeResult.RESUMED

    view = wait_for_process(database_url, started.process_id)
    assert view.state == "completed"
    assert view.outcome == "Запит погоджено."
    # The process is marked completed by the flow's last step; the run itself returns just after.
    adapter.wait_for_run(started.flow_run_id, api_url=api_url)
    code, shown = cli("process", "show", str(started.process_id))
    assert code == 0
    assert shown["state"] == "completed"
    assert shown["steps"][0]["decision"] == "approve"
    assert shown["steps"][0]["decided_by_id"] == world.approver
    assert shown["steps"][0]["comment"] == "Погоджую"
    assert shown["engine"]["state_type"] == "COMPLETED"


def test_reject_path(
    start_demo: StartDemo, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    started = start_demo()
    with unit_of_work(database_url) as s:
        decide_signed(
            s,
            signing_pki,
            task_id=started.task_id,
            actor=s.get_one(Person, world.second_approver),
            decision=Decision.REJECT,
            comment="Неповні дані",
        )
    assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED

    view = wait_for_process(database_url, started.process_id)
    assert view.state == "rejected"
    assert view.outcome == "Запит відхилено."


def test_self_approval_is_refused(start_demo: StartDemo, world: World, cli: CliCall, api_url: str) -> None:
    started = start_demo()

    code, listed = cli("tasks", "list", "--as", str(world.requester))
    assert started.task_id not in [row["task_id"] for row in listed["rows"]]
    code, refused = cli(
        "tasks", "decide", str(started.task_id), "--as", str(world.requester), "--decision", "approve"
    )  # fmt: skip

    assert code == 1
    assert refused["error"] == "four_eyes"
    assert "чотирьох очей" in refused["message"]
    run = adapter.read_run(started.flow_run_id, api_url=api_url)
    assert run is not None and run.waiting


def test_out_of_scope_decider_is_refused(
    start_demo: StartDemo, world: World, cli: CliCall, database_url: str, api_url: str
) -> None:
    started = start_demo()

    code, listed = cli("tasks", "list", "--as", str(world.outsider))
    assert started.task_id not in [row["task_id"] for row in listed["rows"]]
    code, refused = cli(
        "tasks", "decide", str(started.task_id), "--as", str(world.outsider), "--decision", "approve"
    )  # fmt: skip

    assert code == 1
    assert refused["error"] == "not_in_scope"
    with unit_of_work(database_url) as s:
        assert s.get_one(ApprovalTask, started.task_id).state == "open"
    run = adapter.read_run(started.flow_run_id, api_url=api_url)
    assert run is not None and run.waiting


def test_two_simultaneous_decisions_exactly_one_wins(
    start_demo: StartDemo, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    started = start_demo()
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}
    with unit_of_work(database_url) as s:
        task = s.get_one(ApprovalTask, started.task_id)
        signed = {
            person_id: signed_decision(
                signing_pki.certificate_for(s, actor := s.get_one(Person, person_id)),
                task=task,
                actor=actor,
                decision=decision,
            )
            for person_id, decision in (
                (world.approver, Decision.APPROVE),
                (world.second_approver, Decision.REJECT),
            )
        }

    def decide_as(person_id: int, decision: Decision) -> None:
        with unit_of_work(database_url) as s:
            actor = s.get_one(Person, person_id)
            barrier.wait()
            try:
                approvals.decide(
                    session=s,
                    task_id=started.task_id,
                    actor=actor,
                    decision=decision,
                    signed=signed[person_id],
                    trust=signing_pki.trust,
                )
                time.sleep(0.3)  # hold the row lock so that the other decider really has to wait
                results[person_id] = decision.value
            except AlreadyDecided as error:
                results[person_id] = error.message_uk

    threads = [
        threading.Thread(target=decide_as, args=(world.approver, Decision.APPROVE)),
        threading.Thread(target=decide_as, args=(world.second_approver, Decision.REJECT)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [v for v in results.values() if v in ("approve", "reject")]
    losers = [v for v in results.values() if v not in ("approve", "reject")]
    assert len(winners) == 1 and len(losers) == 1
    assert "уже розглянуто" in losers[0]
    wake_for_task(started.task_id, db_url=database_url, api_url=api_url)
    view = wait_for_process(database_url, started.process_id)
    assert view.state == ("completed" if winners[0] == "approve" else "rejected")


def test_decision_while_prefect_is_down_is_resumed_by_reconcile(
    start_demo: StartDemo,
    world: World,
    cli: CliCall,
    cli_decide: SignedDecide,
    database_url: str,
    process_engine: Engine,
) -> None:
    started = start_demo()
    process_engine.server.stop()
    try:
        code, decided = cli_decide(started.task_id, world.approver, Decision.APPROVE)
        assert code == 0, decided
        assert decided["resume"] == WakeResult.UNAVAILABLE
        with unit_of_work(database_url) as s:
            task = s.get_one(ApprovalTask, started.task_id)
            assert task.state == "decided" and task.resumed_at is None
    finally:
        process_engine.server = start_server(
            process_engine.settings,
            api_url=process_engine.api_url,
            db_url=process_engine.server_db_url,
            ui=False,
        )

    code, report = cli("reconcile")
    assert code == 0
    assert started.task_id in report["resumed"]
    view = wait_for_process(database_url, started.process_id)
    assert view.state == "completed"


def test_runner_killed_while_a_run_waits_then_restarted(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    started = start_demo()
    process_engine.runner.kill()
    try:
        with unit_of_work(database_url) as s:
            decide_signed(
                s, signing_pki, task_id=started.task_id, actor=s.get_one(Person, world.approver),
                decision=Decision.APPROVE,
            )  # fmt: skip
        # The server takes the resume; with no runner the run stays scheduled.
        assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED
        time.sleep(2)
        run = adapter.read_run(started.flow_run_id, api_url=api_url)
        assert run is not None and run.state_type == adapter.RunStateType.SCHEDULED
    finally:
        process_engine.runner = start_runner(process_engine.settings, api_url=api_url, with_schedules=False)

    view = wait_for_process(database_url, started.process_id)
    assert view.state == "completed"


def test_crashed_waiting_run_is_repaired_and_suspends_again(
    start_demo: StartDemo, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    started = start_demo()
    # What a runner shutdown does to a run it was still executing.
    adapter.mark_run_crashed(started.flow_run_id, reason="runner shut down", api_url=api_url)

    report = reconcile(db_url=database_url, api_url=api_url)
    assert started.process_id in report.repaired
    wait_for_paused(started.flow_run_id, api_url)
    with unit_of_work(database_url) as s:
        count = s.scalar(
            select(func.count())
            .select_from(ApprovalTask)
            .where(ApprovalTask.process_id == started.process_id)
        )
        assert count == 1  # the re-run found its step done and only suspended again

        decide_signed(
            s, signing_pki, task_id=started.task_id, actor=s.get_one(Person, world.approver),
            decision=Decision.APPROVE,
        )  # fmt: skip
    assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED
    assert wait_for_process(database_url, started.process_id).state == "completed"


def test_a_run_left_running_by_a_crash_is_repaired_when_the_stack_starts(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.states import Running

    started = start_demo()
    process_engine.runner.kill()  # the machine went down with the run's process "running"
    try:
        with SyncPrefectClient(api_url) as client:
            client.set_flow_run_state(uuid.UUID(started.flow_run_id), Running(), force=True)
        # `aikom up` again: before its runner starts, the orphan is marked Crashed ...
        assert started.flow_run_id in crash_orphaned_runs(api_url=api_url)
        run = adapter.read_run(started.flow_run_id, api_url=api_url)
        assert run is not None and run.state_type == adapter.RunStateType.CRASHED
    finally:
        process_engine.runner = start_runner(process_engine.settings, api_url=api_url, with_schedules=False)
    # ... and the reconciler re-runs it into its waiting step; the approval then completes the process.
    report = reconcile(db_url=database_url, api_url=api_url)
    assert started.process_id in report.repaired
    wait_for_paused(started.flow_run_id, api_url)
    decide_in_db(database_url, signing_pki, started.task_id, world.approver, Decision.APPROVE)
    assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED
    assert wait_for_process(database_url, started.process_id).state == "completed"


def test_overdue_task_expires_and_the_flow_handles_it(
    start_demo: StartDemo, database_url: str, api_url: str
) -> None:
    started = start_demo(due_in_seconds=2)
    time.sleep(2.5)

    report = reconcile(db_url=database_url, api_url=api_url)

    assert started.task_id in report.expired
    assert started.task_id in report.resumed
    view = wait_for_process(database_url, started.process_id)
    assert view.state == "expired"
    assert view.steps[0].state == "expired"


def test_the_reconciler_flow_runs_on_the_runner(
    start_demo: StartDemo, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    started = start_demo()
    with unit_of_work(database_url) as s:
        decide_signed(
            s, signing_pki, task_id=started.task_id, actor=s.get_one(Person, world.approver),
            decision=Decision.APPROVE,
        )  # fmt: skip
    # No direct resume: the decision is only in the database, as after a lost resume call.

    run_id = adapter.start_run("reconcile/aikom", {}, api_url=api_url)

    assert adapter.wait_for_run(run_id, timeout=90, api_url=api_url).state_type == "COMPLETED"
    assert wait_for_process(database_url, started.process_id).state == "completed"


def test_a_resume_that_loses_the_race_to_another_is_no_error(
    start_demo: StartDemo,
    world: World,
    api_url: str,
    expect_engine_errors: Callable[[str], None],
) -> None:
    """Should two wake the same run at once (the task's row lock keeps our own two apart), the second is
    refused by Prefect with 409 — the step's input already exists: that means "already resumed", not a
    failure shown to the person who decided."""
    expect_engine_errors(r"uq_flow_run_input__flow_run_id_key|Encountered exception in request")
    from prefect.client.orchestration import SyncPrefectClient

    started = start_demo()
    paused = wait_for_paused(started.flow_run_id, api_url)
    with SyncPrefectClient(api_url) as client:
        run = client.read_flow_run(uuid.UUID(started.flow_run_id))
        assert run.state is not None and run.state.state_details.run_input_keyset is not None
        key = run.state.state_details.run_input_keyset["response"]
        wake = {"task_id": started.task_id, "state": "open", "decision": None}
        client.create_flow_run_input(run.id, key=key, value=json.dumps(wake))  # the winner's

    assert paused.waiting
    result = adapter.resume_run(started.flow_run_id, wake, api_url=api_url)
    assert result == adapter.ResumeResult.NOT_WAITING
    adapter.cancel_run(started.flow_run_id, reason="test over", api_url=api_url)
