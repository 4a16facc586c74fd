"""`aikom up`, then Ctrl-C while three approved processes are mid-step: the stop waits for their flow
processes (children of the runner's forkserver), nothing is left running, no decision is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, Decision
from aikom.orchestration import adapter
from aikom.services import processes
from aikom.services.reconcile import WakeResult, wake_for_task
from tests.conftest import _server_url
from tests.flows.conftest import StartDemo, World, decide_in_db
from tests.orchestration.test_fast_start import FORKSERVER_COMMAND, _process_row_locked
from tests.signing import SigningPki

pytestmark = pytest.mark.slow

UP_TIMEOUT = 300
STOP_TIMEOUT = 150


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Up:
    """A running `aikom up`."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    db_url: str
    api_url: str

    @property
    def runner_log(self) -> Path:
        return self.data_dir / "logs" / "runner.log"

    @property
    def output(self) -> Path:
        return self.data_dir / "up.log"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`aikom up` on a fresh database and free ports."""
    server = make_url(_server_url(tmp_path_factory.mktemp("pg-drain")))
    suffix = uuid.uuid4().hex[:8]
    domain_db, prefect_db = f"aikom_drain_{suffix}", f"prefect_drain_{suffix}"
    data_dir = tmp_path_factory.mktemp("drain-data")
    db_url = server.set(database=domain_db).render_as_string(hide_password=False)
    api_url = f"http://127.0.0.1:{_free_port()}/api"
    env = {
        **os.environ,
        "AIKOM_DATABASE_URL": db_url,
        "AIKOM_PREFECT_DATABASE_NAME": prefect_db,
        "AIKOM_DATA_DIR": str(data_dir),
        "AIKOM_DASHBOARD_PORT": str(_free_port()),
        "AIKOM_SMTP_PORT": str(_free_port()),
        "AIKOM_PREFECT_API_URL": api_url,
    }
    output = data_dir / "up.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "aikom.cli.main", "up"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + UP_TIMEOUT
        while b"Ctrl-C" not in output.read_bytes():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "aikom up did not come up"
            time.sleep(1)
        yield Up(process=process, data_dir=data_dir, db_url=db_url, api_url=api_url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (domain_db, prefect_db):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def database_url(up: Up) -> str:
    """The flow-test helpers work on the stack's database ..."""
    return up.db_url


@pytest.fixture
def api_url(up: Up) -> str:
    """... and on its Prefect server."""
    return up.api_url


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ctrl_c_while_three_runs_are_mid_step_loses_nothing_and_leaves_nothing_running(
    up: Up, start_demo: StartDemo, world: World, database_url: str, api_url: str, signing_pki: SigningPki
) -> None:
    started = [start_demo() for _ in range(3)]
    for run in started:
        decide_in_db(database_url, signing_pki, run.task_id, world.approver, Decision.APPROVE)

    with ExitStack() as held:
        for run in started:
            held.enter_context(_process_row_locked(database_url, run.process_id))
        for run in started:
            assert wake_for_task(run.task_id, db_url=database_url, api_url=api_url) == WakeResult.RESUMED
        for run in started:
            adapter.wait_for_run(run.flow_run_id, states=[adapter.RunStateType.RUNNING], api_url=api_url)
        everything = psutil.Process(up.process.pid).children(recursive=True)
        (runner,) = [p for p in everything if "aikom.orchestration.runner" in " ".join(p.cmdline())]
        (forkserver,) = [p for p in runner.children() if FORKSERVER_COMMAND in " ".join(p.cmdline())]
        assert len([p for p in forkserver.children() if _alive(p)]) >= 3  # the three mid-step runs

        up.process.send_signal(signal.SIGINT)  # what Ctrl-C does
        deadline = time.monotonic() + 60
        while "stop requested" not in up.runner_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, "the runner was not asked to stop"
            time.sleep(0.2)
        # The runner now waits for the three flow processes: let their step go on.

    up.process.wait(timeout=STOP_TIMEOUT)
    assert "Зупинено." in up.output.read_text()
    assert [p for p in everything if _alive(p)] == []  # nothing left running (ps)
    with unit_of_work(database_url) as s:
        for run in started:
            assert processes.show_process(session=s, process_id=run.process_id).state == "completed"
            assert s.get_one(ApprovalTask, run.task_id).decision == Decision.APPROVE
