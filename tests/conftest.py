"""Test fixtures: a real PostgreSQL database of its own per test session, each test rolled back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aikom.settings import Settings
from aikom.stack.harness import System, start_system, stop_system
from tests.logguard import LogGuard
from tests.signing import SigningPki

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _server_url(tmp_root: Path) -> str:
    """The PostgreSQL server for tests: AIKOM_TEST_SERVER_URL, else 127.0.0.1:5432, else embedded."""
    from aikom.db import scratch_server_url

    return scratch_server_url(tmp_root)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database on a real PostgreSQL server, dropped at the end of the session."""
    from aikom.migrate import upgrade_database

    server = make_url(_server_url(tmp_path_factory.mktemp("pg")))
    name = f"aikom_test_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    yield url
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine of the session's test database."""
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def signing_pki(tmp_path_factory: pytest.TempPathFactory) -> SigningPki:
    """One test PKI for the session: every decider's КЕП comes from it (see tests/signing.py)."""
    return SigningPki.create(tmp_path_factory.mktemp("signing") / "pki")


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One `aikom up` for the session (embedded PostgreSQL, real registers, demo data); Ctrl-C at the end,
    and its component logs must hold no error that a test did not expect."""
    running = start_system(tmp_path_factory.mktemp("system"))
    try:
        yield running
    finally:
        stopped = stop_system(running)
    assert stopped, "aikom up did not stop in order on Ctrl-C:\n" + running.up_log()[-3000:]


@pytest.fixture(scope="session")
def system_log_guard(system: System) -> Iterator[LogGuard]:
    """The running system's logs, watched from its start: no error a test did not expect, up to its end."""
    guard = LogGuard(dict(system.logs))
    guard.offsets = dict.fromkeys(guard.logs, 0)  # the start counts too
    yield guard
    found = guard.unexpected()
    if found:
        pytest.fail(guard.report(found))


@pytest.fixture(autouse=True)
def _system_logs_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that uses the running system: no error it did not expect in the stack's logs."""
    if "system" not in request.fixturenames:
        yield
        return
    guard: LogGuard = request.getfixturevalue("system_log_guard")
    yield
    found = guard.unexpected()
    if found:
        pytest.fail(guard.report(found))


@pytest.fixture
def expect_stack_errors(system_log_guard: LogGuard) -> Callable[[str], None]:
    """Declare an error a test provokes in the running system on purpose (a regular expression)."""
    return system_log_guard.expect
