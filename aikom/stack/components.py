"""The local stack started by `aikom up`: database, migrations, registers, demo data and services.

Services are started in dependency order and stopped in the reverse order DESIGN §6 gives:
dashboard, runner (after its flow processes have exited), Prefect server, mail, PostgreSQL. While it
runs, the stack supervises itself: a child process that exits (the Prefect server, the runner, the
dashboard) or an embedded PostgreSQL that stops is started again, with a growing pause between
repeated restarts; each restart is counted and logged, and `aikom status` reports them.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aikom.core.errors import DomainError
from aikom.db import database_url, session_factory, stop_embedded_postgres, unit_of_work
from aikom.migrate import upgrade_database
from aikom.models import OrgLevel, OrgUnit
from aikom.orchestration.child import ChildProcess
from aikom.settings import Settings
from aikom.stack.state import StackState

log = logging.getLogger(__name__)

DASHBOARD_APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
SUPERVISE_SECONDS = 2.0
# Pause before the n-th restart in a row of one component: 0 s, then 5 s, 10 s, 20 s … at most 5 minutes.
RESTART_PAUSES = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
# A component that stayed up this long is healthy again: its next failure restarts it at once.
STABLE_SECONDS = 600.0


@dataclass
class Component:
    """A long-running part of the stack: its name, where it answers, how to stop it.

    A supervised component also says whether it is alive and how to start it again.
    """

    name: str
    stop: Callable[[], None]
    url: str | None = None
    alive: Callable[[], bool] | None = None
    restart: Callable[[], None] | None = None
    failures_in_a_row: int = 0
    last_restart: float = 0.0


@dataclass
class Stack:
    """The running components, in start order."""

    settings: Settings
    components: list[Component] = field(default_factory=list)
    state: StackState | None = None
    postgres_down_checks: int = 0

    def stop_all(self) -> None:
        """Stop every component in reverse start order, then the embedded PostgreSQL."""
        while self.components:
            component = self.components.pop()
            log.info("stopping %s", component.name)
            try:
                component.stop()
            except Exception:  # one component failing to stop must not leave the others running
                log.exception("could not stop %s", component.name)
        if not self.settings.database_url:
            stop_embedded_postgres(self.settings)

    def supervise(self, now: float | None = None) -> list[str]:
        """Start again whatever has stopped on its own; the names of the components restarted.

        Never raises: a check that fails is logged, and the next check tries again.
        """
        try:
            return self._supervise(time.monotonic() if now is None else now)
        except Exception:
            log.exception("supervision check failed; trying again at the next check")
            return []

    def _supervise(self, now: float) -> list[str]:
        restarted: list[str] = []
        if not self.settings.database_url:
            # Down twice in a row: a server that is starting rewrites its pid file, and may look down once.
            self.postgres_down_checks = (
                0 if embedded_postgres_running(self.settings) else self.postgres_down_checks + 1
            )
            if self.postgres_down_checks >= 2 and self._restart(
                "postgresql", _restart_embedded_postgres(self.settings)
            ):
                restarted.append("postgresql")
                self.postgres_down_checks = 0
        for component in list(self.components):
            if component.alive is None or component.restart is None or component.alive():
                if component.last_restart and now - component.last_restart > STABLE_SECONDS:
                    component.failures_in_a_row = 0
                continue
            pause = RESTART_PAUSES[min(component.failures_in_a_row, len(RESTART_PAUSES) - 1)]
            if now - component.last_restart < pause:
                continue
            component.failures_in_a_row += 1
            component.last_restart = now
            if self._restart(component.name, component.restart):
                restarted.append(component.name)
        return restarted

    def _restart(self, name: str, restart: Callable[[], None]) -> bool:
        log.warning("%s stopped on its own; starting it again", name)
        try:
            restart()
        except Exception:
            log.exception("could not start %s again; the next check tries again", name)
            return False
        if self.state is not None:
            self.state.record_restart(name)
        log.warning("%s started again", name)
        return True


def embedded_postgres_running(settings: Settings) -> bool:
    """Whether the embedded PostgreSQL server of `settings` runs (a pid file being rewritten: not sure,
    so "running")."""
    from aikom.db import embedded_pgdata, embedded_postgres_package

    try:
        info = embedded_postgres_package().utils.PostmasterInfo.read_from_pgdata(embedded_pgdata(settings))
    except (ValueError, IndexError, OSError):
        return True
    return info is not None and bool(info.is_running())


def _restart_embedded_postgres(settings: Settings) -> Callable[[], None]:
    def restart() -> None:
        from aikom.db import start_embedded_postgres

        start_embedded_postgres(settings)

    return restart


def org_counts() -> dict[str, int]:
    """Number of org units per level."""
    with unit_of_work() as session:
        rows = session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all()
    counts = {level.value: 0 for level in OrgLevel}
    counts.update({str(level): n for level, n in rows})
    return counts


def prepare(settings: Settings) -> dict[str, Any]:
    """Database, migrations, the real registers when the database is empty, demo persons."""
    report: dict[str, Any] = {"database": database_url(settings).split("?")[0]}
    report["migrations"] = upgrade_database(settings)
    from aikom.imports import import_registers_if_empty

    report["imports"] = import_registers_if_empty(settings)
    report["org_units"] = org_counts()
    if settings.demo_mode:
        from aikom.demo.persons import seed_demo

        with unit_of_work() as session:
            demo = seed_demo(session=session, settings=settings)
        report["demo_persons"] = [
            {"person_id": p.person_id, "key": p.key, "name": p.full_name, "role": p.role, "org": p.org_name}
            for p in demo
        ]
    return report


# --- components -------------------------------------------------------------------------------


def start_mail(settings: Settings, stack: Stack) -> None:
    """The local SMTP sink (demo mode) and the outbox deliverer, both in this process."""
    from aikom.mail.delivery import LIMIT as DELIVERY_LIMIT
    from aikom.mail.delivery import deliver_pending_sync
    from aikom.mail.sink import start_sink

    if settings.demo_mode:
        sink = start_sink(settings.mailbox_dir, settings.smtp_host, settings.smtp_port)
        stack.components.append(
            Component("smtp-sink", sink.stop, f"smtp://{settings.smtp_host}:{settings.smtp_port}")
        )
    stopping = threading.Event()
    sessions = session_factory()

    def deliver_forever() -> None:
        failing = False
        while not stopping.is_set():
            try:
                # A full pass means more is waiting (a rollout queues thousands): go on at once.
                while (
                    deliver_pending_sync(settings, sessions).handled == DELIVERY_LIMIT
                    and not stopping.is_set()
                ):
                    pass
                if failing:
                    log.warning("outbox delivery works again")
                failing = False
            except Exception as error:  # keep delivering; the outbox keeps what was not sent
                if not failing:  # say it once per outage, not every two seconds
                    log.warning("outbox delivery paused, the database is unreachable: %s", _first_line(error))
                failing = True
            stopping.wait(2.0)

    worker = threading.Thread(target=deliver_forever, name="outbox-delivery", daemon=True)
    worker.start()

    def stop_worker() -> None:
        stopping.set()
        worker.join(timeout=15)

    stack.components.append(Component("outbox-delivery", stop_worker, alive=worker.is_alive))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _supervised(name: str, url: str | None, start: Callable[[], ChildProcess]) -> Component:
    """A component backed by a child process that is started again when it exits."""
    holder = {"child": start()}

    def restart() -> None:
        holder["child"] = start()

    return Component(
        name,
        stop=lambda: holder["child"].stop(),
        url=url,
        alive=lambda: holder["child"].running(),
        restart=restart,
    )


def start_engine_components(settings: Settings, stack: Stack) -> None:
    """The Prefect server, then the runner serving every deployment."""
    from aikom.orchestration.runner import start_runner
    from aikom.orchestration.server import start_server
    from aikom.services.reconcile import crash_orphaned_runs

    stack.components.append(
        _supervised(
            "prefect-server", settings.prefect_api_url.removesuffix("/api"), lambda: start_server(settings)
        )
    )
    # Runs a crash left "running" are put where the reconciler repairs them (this runner is the only one).
    orphans = crash_orphaned_runs(api_url=settings.prefect_api_url)
    if orphans:
        print(f"Перервані аварійною зупинкою запуски: {len(orphans)}; їх буде відновлено.", flush=True)
    stack.components.append(_supervised("runner", None, lambda: start_runner(settings)))


def dashboard_url(settings: Settings) -> str:
    """Where the dashboard answers."""
    return f"http://127.0.0.1:{settings.dashboard_port}"


def launch_dashboard(settings: Settings, timeout: float = 60.0) -> ChildProcess:
    """The Streamlit dashboard as a subprocess; wait until it answers its health check."""
    from aikom.orchestration.child import spawn
    from aikom.orchestration.environment import logs_dir, prefect_env

    command = [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.address", "127.0.0.1", "--server.port", str(settings.dashboard_port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
        "--server.maxUploadSize", str(max(1, -(-settings.max_signature_bytes // 2**20))),  # MB, rounded up
    ]  # fmt: skip
    log_path = logs_dir(settings) / "dashboard.log"
    dashboard = ChildProcess(
        process=spawn(command, env=prefect_env(settings, settings.prefect_api_url), log_path=log_path),
        log_path=log_path,
        stop_timeout=15,
    )
    process = dashboard.process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the dashboard exited at start; see .aikom/logs/dashboard.log")
        if http_ok(dashboard_url(settings) + "/_stcore/health"):
            return dashboard
        time.sleep(0.5)
    dashboard.stop(timeout=5)
    raise RuntimeError("the dashboard did not answer in time; see .aikom/logs/dashboard.log")


def start_dashboard(settings: Settings, stack: Stack) -> None:
    """The dashboard, supervised."""
    stack.components.append(
        _supervised("dashboard", dashboard_url(settings), lambda: launch_dashboard(settings))
    )


def ois_gateway_url(settings: Settings) -> str:
    """Where the ОІС access decision point answers."""
    return f"http://{settings.ois_gateway_host}:{settings.ois_gateway_port}"


def launch_ois_gateway(settings: Settings, timeout: float = 60.0) -> ChildProcess:
    """The ОІС access decision point (`aikom ois serve`) as a subprocess; wait until its snapshot loads."""
    from aikom.orchestration.child import spawn
    from aikom.orchestration.environment import logs_dir, prefect_env

    command = [sys.executable, "-m", "aikom.cli.main", "ois", "serve"]
    log_path = logs_dir(settings) / "ois_gateway.log"
    gateway = ChildProcess(
        process=spawn(command, env=prefect_env(settings, settings.prefect_api_url), log_path=log_path),
        log_path=log_path,
        stop_timeout=15,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(
                "the ОІС access decision point exited at start; see .aikom/logs/ois_gateway.log"
            )
        if http_ok(ois_gateway_url(settings) + "/health"):
            return gateway
        time.sleep(0.5)
    gateway.stop(timeout=5)
    raise RuntimeError(
        "the ОІС access decision point did not answer in time; see .aikom/logs/ois_gateway.log"
    )


def start_ois_gateway(settings: Settings, stack: Stack) -> None:
    """The ОІС access decision point, supervised."""
    stack.components.append(
        _supervised("ois-gateway", ois_gateway_url(settings), lambda: launch_ois_gateway(settings))
    )


class PortTaken(DomainError):
    """A port the stack needs is already in use (often: the system is already running)."""

    code = "port_taken"

    def __init__(self, what: str, port: int) -> None:
        super().__init__(
            f"Порт {port} ({what}) уже зайнятий: можливо, АІКОМ уже запущено (`aikom status`). "
            "Зупиніть той процес або вкажіть інший порт у налаштуваннях AIKOM_*.",
            port=port,
        )


def check_ports_free(settings: Settings) -> None:
    """Refuse to start when a port of the stack is taken, before anything is started."""
    from urllib.parse import urlsplit

    ports = [
        ("панель керування", settings.dashboard_port),
        ("сервер процесів Prefect", urlsplit(settings.prefect_api_url).port or 80),
        ("точка рішень про доступ ОІС", settings.ois_gateway_port),
    ]
    if settings.demo_mode:
        ports.append(("SMTP-скринька", settings.smtp_port))
    for what, port in ports:
        if port_open("127.0.0.1", port):
            raise PortTaken(what, port)


def start_services(settings: Settings, stack: Stack, progress: Callable[[str], None] | None = None) -> None:
    """Mail, the process engine, the dashboard and the ОІС access decision point, in that order (call
    `check_ports_free` first)."""
    steps: list[tuple[str, Callable[[Settings, Stack], None]]] = [
        ("Пошта (SMTP-скринька і доставлення)", start_mail),
        ("Сервер процесів Prefect і виконавець", start_engine_components),
        ("Панель керування", start_dashboard),
        ("Точка рішень про доступ ОІС", start_ois_gateway),
    ]
    for label, start in steps:
        if progress:
            progress(label)
        start(settings, stack)


def run_until_interrupted(stack: Stack) -> None:
    """Supervise the stack until Ctrl-C or SIGTERM, then stop it in order."""
    # A plain flag: a signal handler must not take locks (Event.set inside Event.wait deadlocks).
    stopping = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    try:
        next_check = time.monotonic() + SUPERVISE_SECONDS
        while not stopping:
            time.sleep(0.5)
            if not stopping and time.monotonic() >= next_check:
                stack.supervise()
                next_check = time.monotonic() + SUPERVISE_SECONDS
    finally:
        stack.stop_all()


# --- probes -----------------------------------------------------------------------------------


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
