"""The process engine as one unit: Prefect server + runner, started and stopped in order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aikom.orchestration.runner import RunnerProcess, start_runner
from aikom.orchestration.server import PrefectServer, prefect_database_url, start_server
from aikom.settings import Settings


@dataclass
class Engine:
    """A running Prefect server and the runner serving every deployment."""

    settings: Settings
    api_url: str
    server_db_url: str
    server: PrefectServer
    runner: RunnerProcess

    def stop(self) -> None:
        """Runner first (after its flow processes have exited), then the server."""
        self.runner.stop()
        self.server.stop()


def start_engine(
    settings: Settings,
    *,
    api_url: str | None = None,
    db_url: str | None = None,
    ui: bool = True,
    with_schedules: bool = True,
) -> Engine:
    """Start the Prefect server, wait for /api/health, start the runner, wait until it serves."""
    api_url = api_url or settings.prefect_api_url
    db_url = db_url or prefect_database_url(settings)
    server = start_server(settings, api_url=api_url, db_url=db_url, ui=ui)
    try:
        runner = start_runner(settings, api_url=api_url, with_schedules=with_schedules)
    except BaseException:
        server.stop()
        raise
    return Engine(settings=settings, api_url=api_url, server_db_url=db_url, server=server, runner=runner)


@contextmanager
def running_engine(
    settings: Settings,
    *,
    api_url: str | None = None,
    db_url: str | None = None,
    ui: bool = True,
    with_schedules: bool = True,
) -> Iterator[Engine]:
    """`start_engine` for the length of a block."""
    engine = start_engine(settings, api_url=api_url, db_url=db_url, ui=ui, with_schedules=with_schedules)
    try:
        yield engine
    finally:
        engine.stop()
