"""The local stack started by `aikom up`: database, migrations, registers, demo data and services.

Services are started in dependency order and stopped in the reverse order DESIGN §6 gives:
dashboard, runner (after its flow processes have exited), Prefect server, mail, PostgreSQL.
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

from sqlalchemy import func, select, text

from aikom.core.errors import DomainError
from aikom.db import database_url, session_factory, stop_embedded_postgres, unit_of_work
from aikom.migrate import upgrade_database
from aikom.models import OrgLevel, OrgUnit
from aikom.settings import Settings

log = logging.getLogger(__name__)

DASHBOARD_APP = Path(__file__).resolve().parent / "dashboard" / "app.py"


@dataclass
class Component:
    """A long-running part of the stack: its name, where it answers, how to stop it."""

    name: str
    stop: Callable[[], None]
    url: str | None = None


@dataclass
class Stack:
    """The running components, in start order."""

    settings: Settings
    components: list[Component] = field(default_factory=list)

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
        from aikom.services.demo import seed_demo

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
        while not stopping.is_set():
            try:
                deliver_pending_sync(settings, sessions)
            except Exception:  # keep delivering; the outbox keeps what was not sent
                log.exception("outbox delivery pass failed")
            stopping.wait(2.0)

    worker = threading.Thread(target=deliver_forever, name="outbox-delivery", daemon=True)
    worker.start()

    def stop_worker() -> None:
        stopping.set()
        worker.join(timeout=15)

    stack.components.append(Component("outbox-delivery", stop_worker))


def start_engine_components(settings: Settings, stack: Stack) -> None:
    """The Prefect server, then the runner serving every deployment."""
    from aikom.orchestration.runner import start_runner
    from aikom.orchestration.server import start_server
    from aikom.services.reconcile import crash_orphaned_runs

    server = start_server(settings)
    stack.components.append(
        Component("prefect-server", server.stop, settings.prefect_api_url.removesuffix("/api"))
    )
    # Runs a crash left "running" are put where the reconciler repairs them (this runner is the only one).
    orphans = crash_orphaned_runs(api_url=settings.prefect_api_url)
    if orphans:
        print(f"Перервані аварійною зупинкою запуски: {len(orphans)}; їх буде відновлено.", flush=True)
    runner = start_runner(settings)
    stack.components.append(Component("runner", runner.stop))


def dashboard_url(settings: Settings) -> str:
    """Where the dashboard answers."""
    return f"http://127.0.0.1:{settings.dashboard_port}"


def start_dashboard(settings: Settings, stack: Stack, timeout: float = 60.0) -> None:
    """The Streamlit dashboard as a subprocess; wait until it answers its health check."""
    from aikom.orchestration.child import ChildProcess, spawn
    from aikom.orchestration.environment import logs_dir, prefect_env

    command = [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.address", "127.0.0.1", "--server.port", str(settings.dashboard_port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    log_path = logs_dir(settings) / "dashboard.log"
    dashboard = ChildProcess(
        process=spawn(command, env=prefect_env(settings, settings.prefect_api_url), log_path=log_path),
        log_path=log_path,
        stop_timeout=15,
    )
    process = dashboard.process
    stack.components.append(Component("dashboard", dashboard.stop, dashboard_url(settings)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the dashboard exited at start; see .aikom/logs/dashboard.log")
        if http_ok(dashboard_url(settings) + "/_stcore/health"):
            return
        time.sleep(0.5)
    raise RuntimeError("the dashboard did not answer in time; see .aikom/logs/dashboard.log")


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
    ]
    if settings.demo_mode:
        ports.append(("SMTP-скринька", settings.smtp_port))
    for what, port in ports:
        if port_open("127.0.0.1", port):
            raise PortTaken(what, port)


def start_services(settings: Settings, stack: Stack, progress: Callable[[str], None] | None = None) -> None:
    """Mail, the process engine and the dashboard, in that order (call `check_ports_free` first)."""
    steps: list[tuple[str, Callable[[Settings, Stack], None]]] = [
        ("Пошта (SMTP-скринька і доставлення)", start_mail),
        ("Сервер процесів Prefect і виконавець", start_engine_components),
        ("Панель керування", start_dashboard),
    ]
    for label, start in steps:
        if progress:
            progress(label)
        start(settings, stack)


def run_until_interrupted(stack: Stack) -> None:
    """Block until Ctrl-C or SIGTERM, then stop the stack in order."""
    # A plain flag: a signal handler must not take locks (Event.set inside Event.wait deadlocks).
    stopping = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    try:
        while not stopping:
            time.sleep(0.5)
    finally:
        stack.stop_all()


# --- status -----------------------------------------------------------------------------------


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


def status(settings: Settings) -> dict[str, Any]:
    """The state of each component, as far as it can be seen from outside."""
    components: dict[str, Any] = {}
    try:
        with unit_of_work() as session:
            session.execute(text("SELECT 1"))
        components["postgresql"] = {"ok": True, "url": database_url(settings).split("?")[0]}
    except Exception as error:
        components["postgresql"] = {"ok": False, "error": type(error).__name__}
    api = settings.prefect_api_url
    components["prefect_server"] = {"ok": http_ok(api + "/health"), "url": api.removesuffix("/api")}
    runner_ok = False
    if components["prefect_server"]["ok"]:
        from aikom.deployments import DEPLOYMENTS
        from aikom.orchestration.adapter import OrchestratorUnavailable, deployment_ready

        try:
            runner_ok = all(deployment_ready(spec.full_name) for spec in DEPLOYMENTS)
        except OrchestratorUnavailable:
            runner_ok = False
    components["runner"] = {"ok": runner_ok}
    components["smtp"] = {
        "ok": port_open(settings.smtp_host, settings.smtp_port),
        "url": f"smtp://{settings.smtp_host}:{settings.smtp_port}",
    }
    components["dashboard"] = {
        "ok": http_ok(dashboard_url(settings) + "/_stcore/health"),
        "url": dashboard_url(settings),
    }
    return {"ok": all(c["ok"] for c in components.values()), "components": components}
