"""Scale-out: two `aikom worker`s on loopback act as two machines — each its own PREFECT_HOME and working
folder, only the configured result store in common. Runs spread over both; a run suspended on one is
resumed and completed on the other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aikom.db import ensure_database
from aikom.models import Decision
from aikom.orchestration.server import PrefectServer, asyncpg_url, start_server
from aikom.services.reconcile import WakeResult, wake_for_task
from aikom.settings import Settings
from tests.flows.conftest import StartDemo, StartedProcess, World, decide_in_db, wait_for_process
from tests.signing import SigningPki

POOL = "aikom-test"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    """One `aikom worker` process: a "machine" of its own."""

    name: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.home / "worker.log"

    def started_runs(self) -> set[str]:
        """The flow runs it started a process for (its log says so)."""
        return set(
            re.findall(r"flow run ([0-9a-f-]{36}) started in process", self.log.read_text(errors="replace"))
        )

    def stop(self) -> None:
        """SIGTERM (orderly: its flow processes first)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def pool_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server of its own (the workers' pool must not meet the other tests' runner)."""
    name = f"prefect_pool_{uuid.uuid4().hex[:8]}"
    sync_url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    ensure_database(sync_url)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("pool-server"),
        database_url=database_url,
        prefect_api_url=f"http://127.0.0.1:{_free_port()}/api",
    )
    server = start_server(settings, db_url=asyncpg_url(sync_url), ui=False)
    yield server
    server.stop()
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def shared_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one store both "machines" share (a network folder in production)."""
    return tmp_path_factory.mktemp("shared-results")


def _start_worker(name: str, root: Path, *, database_url: str, api_url: str, results: Path) -> Worker:
    home = root / name
    work = home / "work"
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "AIKOM_DATA_DIR": str(home / "data"),  # its own PREFECT_HOME and logs
        "AIKOM_DATABASE_URL": database_url,
        "AIKOM_PREFECT_API_URL": api_url,
    }
    command = [sys.executable, "-m", "aikom.cli.main", "worker", "--pool", POOL, "--name", name]
    command += ["--results", str(results), "--limit", "1", "--without-schedules"]
    with (home / "worker.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    worker = Worker(name=name, home=home, process=process)
    deadline = time.monotonic() + 120
    while "registered in work pool" not in worker.log.read_text(errors="replace"):
        assert process.poll() is None, worker.log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"worker {name} did not register its deployments"
        time.sleep(0.5)
    return worker


@pytest.fixture(scope="module")
def workers(
    pool_server: PrefectServer,
    database_url: str,
    shared_results: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Worker]]:
    """Two workers ("machines") on the pool."""
    root = tmp_path_factory.mktemp("machines")
    started: list[Worker] = []
    try:
        for name in ("machine-a", "machine-b"):
            started.append(
                _start_worker(
                    name, root, database_url=database_url, api_url=pool_server.api_url, results=shared_results
                )
            )
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def api_url(pool_server: PrefectServer) -> str:
    """The flow-test helpers start processes on the pool's server."""
    return pool_server.api_url


def _start_at_once(start_demo: StartDemo, count: int) -> list[StartedProcess]:
    """`count` processes started together, each until its run waits for its decision."""
    started: list[StartedProcess] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            started.append(start_demo())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return started


def test_runs_spread_over_two_machines_and_a_run_suspended_on_one_completes_on_the_other(
    workers: list[Worker],
    start_demo: StartDemo,
    world: World,
    database_url: str,
    api_url: str,
    signing_pki: SigningPki,
    shared_results: Path,
) -> None:
    machine_a, machine_b = workers
    started = _start_at_once(start_demo, 4)

    on_a = {run.flow_run_id for run in started} & machine_a.started_runs()
    on_b = {run.flow_run_id for run in started} & machine_b.started_runs()
    assert on_a and on_b, (on_a, on_b)  # both machines took runs
    assert on_a | on_b == {run.flow_run_id for run in started}

    moved = next(run for run in started if run.flow_run_id in on_a)
    machine_a.stop()  # the machine that ran it up to its approval step goes away
    decide_in_db(database_url, signing_pki, moved.task_id, world.approver, Decision.APPROVE)
    assert wake_for_task(moved.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED

    view = wait_for_process(database_url, moved.process_id)
    assert view.state == "completed"
    assert moved.flow_run_id in machine_b.started_runs()
    # The steps before the wait were found in the shared store, which alone holds results.
    assert any(shared_results.iterdir())
    for worker in workers:
        assert not (worker.home / "data" / "prefect" / "results").exists()
