"""Flow tests run against a REAL Prefect server (on PostgreSQL) and a real runner process.

The server gets a fresh database on the same PostgreSQL server as the test domain database and a
free port; the runner serves every deployment with the domain database pointed at the test database.
Flow runs see only committed data, so these tests build their rows in their own units of work.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from aikom.db import ensure_database, unit_of_work
from aikom.models import Account, Decision, OrgLevel, Person, PersonRole
from aikom.orchestration import adapter
from aikom.orchestration.engine import Engine, start_engine
from aikom.orchestration.server import asyncpg_url
from aikom.services import processes
from aikom.services.reconcile import launch_process
from aikom.settings import Settings, get_settings
from tests import factories
from tests.logguard import LogGuard
from tests.signing import SigningPki, decide_signed, sign


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def prefect_database(database_url: str) -> Iterator[str]:
    """A fresh database for the Prefect server, dropped at the end of the session."""
    name = f"prefect_test_{uuid.uuid4().hex[:10]}"
    sync_url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    ensure_database(sync_url)
    yield asyncpg_url(sync_url)
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the engine under test: its own data folder, free port, the test domain database."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("engine"),
        database_url=database_url,
        prefect_api_url=f"http://127.0.0.1:{_free_port()}/api",
    )


@pytest.fixture(scope="session")
def process_engine(engine_settings: Settings, prefect_database: str) -> Iterator[Engine]:
    """A running Prefect server + runner (no schedules: tests run the reconciler themselves)."""
    engine = start_engine(engine_settings, db_url=prefect_database, ui=False, with_schedules=False)
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def engine_log_guard(process_engine: Engine) -> Iterator[LogGuard]:
    """The engine's logs, watched: the session fails if the server or runner logs an unexpected error."""
    logs = {"prefect-server": process_engine.server.log_path, "runner": process_engine.runner.log_path}
    guard = LogGuard({name: path for name, path in logs.items() if path is not None})
    yield guard
    found = guard.unexpected()
    if found:
        pytest.fail(guard.report(found))


@pytest.fixture(autouse=True)
def _engine_logs_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that runs the engine: no ERROR or traceback it did not expect in the engine's logs."""
    if "process_engine" not in request.fixturenames:
        yield
        return
    guard: LogGuard = request.getfixturevalue("engine_log_guard")
    guard.mark()
    yield
    found = guard.unexpected()
    if found:
        pytest.fail(guard.report(found))


@pytest.fixture
def expect_engine_errors(engine_log_guard: LogGuard) -> Callable[[str], None]:
    """Declare an error the test provokes on purpose (a regular expression over the logged record)."""
    return engine_log_guard.expect


@pytest.fixture
def api_url(process_engine: Engine) -> str:
    """The Prefect API of the engine under test (restarted if a test left it stopped)."""
    return process_engine.api_url


@dataclass
class World:
    """Committed org units and persons for one test (unique rows, so tests do not meet)."""

    oblast: int
    rayon: int
    hromada: int
    requester: int  # a rayon admin who starts processes about the hromada
    approver: int  # an oblast admin above it
    second_approver: int  # another admin in scope (the rayon's second admin)
    outsider: int  # an oblast admin of another oblast


@pytest.fixture
def world(database_url: str) -> World:
    """A small cascade with requester, two approvers in scope and one outside it."""
    with unit_of_work(database_url) as s:
        c = factories.cascade(s, with_edrpou=True)
        other_oblast = factories.org_unit(
            s, level=OrgLevel.OBLAST, parent=c["national"], edrpou=factories.edrpou()
        )
        acc_oblast = factories.account(s, c["oblast"])
        acc_rayon = factories.account(s, c["rayon"])
        acc_other = factories.account(s, other_oblast)

        def admin(acc: Account, role: PersonRole) -> Person:
            return factories.person(s, acc, role=role, rnokpp=factories.rnokpp())

        requester = admin(acc_rayon, PersonRole.RAYON_ADMIN)
        approver = admin(acc_oblast, PersonRole.OBLAST_ADMIN)
        second = admin(acc_rayon, PersonRole.RAYON_ADMIN)
        outsider = admin(acc_other, PersonRole.OBLAST_ADMIN)
        return World(
            oblast=c["oblast"].id,
            rayon=c["rayon"].id,
            hromada=c["hromada"].id,
            requester=requester.id,
            approver=approver.id,
            second_approver=second.id,
            outsider=outsider.id,
        )


@dataclass
class StartedProcess:
    """A demo process whose run is suspended in its approval step."""

    process_id: int
    flow_run_id: str
    task_id: int


StartDemo = Callable[..., StartedProcess]


@pytest.fixture
def start_demo(database_url: str, api_url: str, world: World) -> StartDemo:
    """Start a demo-approval process and wait until its run waits for the decision."""

    def start(due_in_seconds: int | None = None) -> StartedProcess:
        with unit_of_work(database_url) as s:
            requester = s.get(Person, world.requester)
            process = processes.create_process(
                session=s,
                type="demo-approval",
                actor=factories.actor(requester),
                subject_org_unit_id=world.hromada,
                parameters={"due_in_seconds": due_in_seconds} if due_in_seconds else {},
            )
            process_id = process.id
        flow_run_id = launch_process(process_id, db_url=database_url, api_url=api_url)
        wait_for_paused(flow_run_id, api_url)
        with unit_of_work(database_url) as s:
            view = processes.show_process(session=s, process_id=process_id)
        assert view.state == "waiting"
        assert len(view.steps) == 1
        return StartedProcess(process_id=process_id, flow_run_id=flow_run_id, task_id=view.steps[0].task_id)

    return start


def wait_for_paused(flow_run_id: str, api_url: str, timeout: float = 90) -> adapter.RunInfo:
    """Wait until the run is suspended."""
    return adapter.wait_for_run(
        flow_run_id, states=[adapter.RunStateType.PAUSED], timeout=timeout, api_url=api_url
    )


def wait_for_step(flow_run_id: str, step_key: str, api_url: str, timeout: float = 90) -> adapter.RunInfo:
    """Wait until the run is suspended in `step_key` (not in an earlier step it has left)."""
    deadline = time.monotonic() + timeout
    while True:
        run = adapter.read_run(flow_run_id, api_url=api_url)
        if run is not None and run.waiting and adapter.step_of_pause_key(run.pause_key) == step_key:
            return run
        if time.monotonic() > deadline:
            state = run.state_name if run else None
            raise TimeoutError(f"run {flow_run_id} not waiting in {step_key} after {timeout} s ({state})")
        time.sleep(0.2)


def wait_for_process(database_url: str, process_id: int, timeout: float = 90) -> processes.ProcessView:
    """Wait until the process is in a final state; return it."""
    deadline = time.monotonic() + timeout
    while True:
        with unit_of_work(database_url) as s:
            view = processes.show_process(session=s, process_id=process_id)
        if view.state in {state.value for state in processes.FINAL_STATES}:
            return view
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {process_id} still {view.state} after {timeout} s")
        time.sleep(0.2)


CliCall = Callable[..., tuple[int, Any]]


@pytest.fixture
def cli(
    database_url: str, api_url: str, signing_pki: SigningPki, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliCall]:
    """Run `aikom …` in-process against the test database, engine and test PKI; (exit code, parsed JSON)."""
    from aikom.cli.main import app

    monkeypatch.setenv("AIKOM_DATABASE_URL", database_url)
    monkeypatch.setenv("AIKOM_PREFECT_API_URL", api_url)
    monkeypatch.setenv("AIKOM_TRUST_DIR", str(signing_pki.trust_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def call(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, [*args, "--json"])
        return result.exit_code, json.loads(result.stdout)

    yield call
    get_settings.cache_clear()


SignedDecide = Callable[..., tuple[int, Any]]


@pytest.fixture
def cli_decide(cli: CliCall, database_url: str, signing_pki: SigningPki, tmp_path: Path) -> SignedDecide:
    """Decide as an operator would: `aikom tasks document`, sign it with the person's КЕП, `tasks decide`."""

    def decide(
        task_id: int, person_id: int, decision: Decision, comment: str | None = None
    ) -> tuple[int, Any]:
        document = tmp_path / f"decision-{task_id}-{person_id}.json"
        extra = ["--comment", comment] if comment is not None else []
        code, written = cli(
            "tasks", "document", str(task_id), "--as", str(person_id), "--decision", decision.value,
            *extra, "--out", str(document),
        )  # fmt: skip
        assert code == 0, written
        with unit_of_work(database_url) as s:
            holder = signing_pki.certificate_for(s, s.get_one(Person, person_id))
        signature = document.with_suffix(".p7s")
        signature.write_bytes(sign(holder, document.read_bytes()))
        return cli(
            "tasks", "decide", str(task_id), "--as", str(person_id), "--decision", decision.value, *extra,
            "--document", str(document), "--signature", str(signature),
        )  # fmt: skip

    return decide


def decide_in_db(
    database_url: str, signing_pki: SigningPki, task_id: int, person_id: int, decision: Decision
) -> None:
    """Decide through the service in its own committed unit of work (signed by the person)."""
    with unit_of_work(database_url) as s:
        decide_signed(s, signing_pki, task_id=task_id, actor=s.get_one(Person, person_id), decision=decision)
