"""The Prefect server subprocess: started on PostgreSQL, bound to 127.0.0.1, analytics off.

Its database is `settings.prefect_database_name` on the same PostgreSQL server as the domain database
(the embedded one through its unix socket, or the configured server), created when missing.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url

from aikom.db import database_url, ensure_database
from aikom.orchestration.child import ChildProcess, spawn
from aikom.orchestration.environment import logs_dir, prefect_env, prefect_home
from aikom.settings import Settings

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 120.0


class PrefectServerNotReady(RuntimeError):
    """The Prefect server did not become healthy in time (or exited while starting)."""


def prefect_database_url(settings: Settings, database: str | None = None) -> str:
    """The asyncpg URL of the Prefect server's database; the database is created when missing."""
    sync_url = database_url(settings, database=database or settings.prefect_database_name)
    ensure_database(sync_url)
    return asyncpg_url(sync_url)


def asyncpg_url(url: str) -> str:
    """The same PostgreSQL database addressed through asyncpg (the driver the Prefect server uses)."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def api_port(api_url: str) -> int:
    """The TCP port of a Prefect API URL."""
    parts = urlsplit(api_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def health_url(api_url: str) -> str:
    """The health endpoint of a Prefect API URL (`…/api` → `…/api/health`)."""
    return api_url.rstrip("/") + "/health"


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        response = httpx.get(health_url(api_url), timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json() is True


def wait_until_healthy(
    api_url: str,
    timeout: float = HEALTH_TIMEOUT_SECONDS,
    process: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll the health endpoint until it answers; return the seconds waited. Fails fast if `process` exits."""
    started = time.monotonic()
    while True:
        if is_healthy(api_url):
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise PrefectServerNotReady(
                f"Prefect server exited with code {process.returncode} while starting"
            )
        if time.monotonic() - started > timeout:
            raise PrefectServerNotReady(f"Prefect server at {api_url} not healthy after {timeout:.0f} s")
        time.sleep(0.25)


@dataclass(kw_only=True)
class PrefectServer(ChildProcess):
    """A running Prefect server subprocess."""

    api_url: str


def server_env(settings: Settings, api_url: str, db_url: str, ui: bool) -> dict[str, str]:
    """Environment of the server process."""
    env = prefect_env(settings, api_url)
    env.update(
        {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": db_url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(api_port(api_url)),
            "PREFECT_SERVER_UI_ENABLED": "true" if ui else "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }
    )
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    return env


def start_server(
    settings: Settings,
    *,
    api_url: str | None = None,
    db_url: str | None = None,
    ui: bool = True,
    wait: bool = True,
    timeout: float = HEALTH_TIMEOUT_SECONDS,
) -> PrefectServer:
    """Start the Prefect server subprocess (its log goes to `<data_dir>/logs/prefect-server.log`)."""
    api_url = api_url or settings.prefect_api_url
    if is_healthy(api_url):
        raise PrefectServerNotReady(f"another Prefect server already answers at {api_url}")
    db_url = db_url or prefect_database_url(settings)
    prefect_home(settings).mkdir(parents=True, exist_ok=True)
    log_path = logs_dir(settings) / "prefect-server.log"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
               "--port", str(api_port(api_url)), "--analytics-off", "--ui" if ui else "--no-ui"]  # fmt: skip
    process = spawn(command, env=server_env(settings, api_url, db_url, ui), log_path=log_path)
    server = PrefectServer(api_url=api_url, process=process, log_path=log_path)
    if wait:
        try:
            seconds = wait_until_healthy(api_url, timeout=timeout, process=process)
        except PrefectServerNotReady:
            server.stop(timeout=5)
            raise
        log.info("Prefect server healthy at %s after %.1f s", api_url, seconds)
    return server
