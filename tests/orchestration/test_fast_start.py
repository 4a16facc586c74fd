"""Human steps on the fast start, with a real Prefect server and runner: a decided step runs in a
process forked from the runner's forkserver, and everything Prefect guarantees still holds — a killed
flow process is Crashed and repaired, a cancelled run is Cancelled, a dead forkserver loses nothing."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text

from aikom.models import Decision
from aikom.orchestration import adapter
from aikom.orchestration.engine import Engine
from aikom.services.reconcile import WakeResult, reconcile, wake_for_task
from tests.flows.conftest import StartDemo, StartedProcess, World, decide_in_db, wait_for_process
from tests.signing import SigningPki

FORKSERVER_COMMAND = "from multiprocessing.forkserver import main"


def _forkserver(engine: Engine) -> psutil.Process:
    """The runner's forkserver, as `ps` shows it: a child of the runner."""
    for child in psutil.Process(engine.runner.pid).children():
        if FORKSERVER_COMMAND in " ".join(child.cmdline()):
            return child
    raise AssertionError("the runner has no forkserver")


def _flow_process(engine: Engine, flow_run_id: str, *, timeout: float = 60) -> psutil.Process:
    """The live process the runner started for this run (its log names it)."""
    assert engine.runner.log_path is not None
    pattern = re.compile(rf"flow run {flow_run_id} started in process (\d+)")
    deadline = time.monotonic() + timeout
    while True:
        pids = pattern.findall(engine.runner.log_path.read_text(errors="replace"))
        if pids:
            process = psutil.Process(int(pids[-1]))
            if process.is_running():
                return process
        assert time.monotonic() < deadline, f"no process for flow run {flow_run_id}"
        time.sleep(0.1)


@contextmanager
def _process_row_locked(database_url: str, process_id: int) -> Iterator[None]:
    """Hold the process's row: a step that writes it waits — the run stays mid-step until released."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM process WHERE id = :id FOR UPDATE"), {"id": process_id})
            yield
    finally:
        engine.dispose()


def _decided_and_mid_step(
    started: StartedProcess, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    """Approve, wake the run, and wait until it runs its next step (held by a row lock)."""
    decide_in_db(database_url, signing_pki, started.task_id, world.approver, Decision.APPROVE)
    assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED
    adapter.wait_for_run(
        started.flow_run_id, states=[adapter.RunStateType.RUNNING], timeout=60, api_url=api_url
    )


def test_a_decided_step_runs_in_a_process_forked_from_the_runner_s_forkserver(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    started = start_demo()
    forkserver = _forkserver(process_engine)

    with _process_row_locked(database_url, started.process_id):
        _decided_and_mid_step(started, world, database_url, api_url, signing_pki)
        flow_process = _flow_process(process_engine, started.flow_run_id)
        # A child of the forkserver, not a fresh interpreter spawned by the runner.
        assert flow_process.ppid() == forkserver.pid

    assert wait_for_process(database_url, started.process_id).state == "completed"
    assert adapter.wait_for_run(started.flow_run_id, api_url=api_url).state_type == "COMPLETED"


def test_a_forked_flow_run_sends_its_heartbeat_naming_its_flow_and_deployment(
    start_demo: StartDemo, api_url: str, process_engine: Engine
) -> None:
    started = start_demo()
    run = adapter.read_run(started.flow_run_id, api_url=api_url)
    assert run is not None and run.deployment_id is not None

    heartbeats: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not heartbeats:
        assert time.monotonic() < deadline, f"no heartbeat from flow run {started.flow_run_id}"
        response = httpx.post(
            f"{api_url}/events/filter",
            json={
                "filter": {
                    "event": {"name": ["prefect.flow-run.heartbeat"]},
                    "resource": {"id": [f"prefect.flow-run.{started.flow_run_id}"]},
                }
            },
            timeout=10,
        )
        response.raise_for_status()
        heartbeats = response.json()["events"]
        time.sleep(0.2)

    related = {resource["prefect.resource.role"]: resource for resource in heartbeats[0]["related"]}
    assert related["flow"]["prefect.resource.name"] == "demo-approval"
    assert related["deployment"]["prefect.resource.id"] == f"prefect.deployment.{run.deployment_id}"


def test_a_killed_flow_process_is_crashed_and_the_reconciler_completes_its_process(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    started = start_demo()
    with _process_row_locked(database_url, started.process_id):
        _decided_and_mid_step(started, world, database_url, api_url, signing_pki)
        _flow_process(process_engine, started.flow_run_id).send_signal(signal.SIGKILL)

        crashed = adapter.wait_for_run(started.flow_run_id, timeout=60, api_url=api_url)
        assert crashed.state_type == adapter.RunStateType.CRASHED
        assert "-9" in (crashed.state_message or "")

    report = reconcile(db_url=database_url, api_url=api_url)

    assert started.process_id in report.repaired
    view = wait_for_process(database_url, started.process_id)
    assert view.state == "completed"
    assert view.steps[0].decision == "approve"  # the decision made before the crash carried the process


def test_a_run_cancelled_through_the_adapter_is_cancelled_and_its_process_says_so(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    started = start_demo()
    with _process_row_locked(database_url, started.process_id):
        _decided_and_mid_step(started, world, database_url, api_url, signing_pki)
        flow_process = _flow_process(process_engine, started.flow_run_id)

        assert adapter.cancel_run(started.flow_run_id, reason="Скасовано адміністратором", api_url=api_url)

        cancelled = adapter.wait_for_run(started.flow_run_id, timeout=60, api_url=api_url)
        assert cancelled.state_type == adapter.RunStateType.CANCELLED
        flow_process.wait(timeout=30)
    assert process_engine.runner.log_path is not None
    # The flow process itself took the runner's cancel intent (over the control channel) and said so.
    assert f"Execution of flow run '{started.flow_run_id}' was terminated." in (
        process_engine.runner.log_path.read_text(errors="replace")
    )


def test_the_next_resume_completes_after_the_forkserver_was_killed(
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    signing_pki: SigningPki,
) -> None:
    started = start_demo()
    killed = _forkserver(process_engine)
    os.kill(killed.pid, signal.SIGKILL)

    decide_in_db(database_url, signing_pki, started.task_id, world.approver, Decision.APPROVE)
    assert wake_for_task(started.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED

    assert wait_for_process(database_url, started.process_id).state == "completed"
    assert _forkserver(process_engine).pid != killed.pid
