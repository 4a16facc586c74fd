"""The runner: one process serving every deployment of `aikom.deployments`, polling every second.

Run it as `python -m aikom.orchestration.runner` (the stack starts it with `start_runner`). Shutdown is
orderly: on SIGTERM/SIGINT it stops taking new runs, waits for the flow processes it started to exit
(up to `--drain-seconds`), and only then stops — stopping a runner while a flow process is still
exiting turns that run into Crashed/Cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aikom.orchestration.child import ChildProcess, spawn
from aikom.orchestration.environment import logs_dir, prefect_env, result_storage_dir
from aikom.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
DRAIN_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 90.0


class RunnerNotReady(RuntimeError):
    """The runner did not register and poll its deployments in time (or exited while starting)."""


@dataclass(kw_only=True)
class RunnerProcess(ChildProcess):
    """A running runner subprocess; SIGTERM drains its flow processes before it exits."""

    api_url: str
    stop_timeout: float = DRAIN_SECONDS + 15


def start_runner(
    settings: Settings,
    *,
    api_url: str | None = None,
    with_schedules: bool = True,
    limit: int | None = None,
    wait: bool = True,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> RunnerProcess:
    """Start the runner subprocess (log in `<data_dir>/logs/runner.log`); wait until it serves."""
    from aikom.deployments import DEPLOYMENTS

    api_url = api_url or settings.prefect_api_url
    result_storage_dir(settings).mkdir(parents=True, exist_ok=True)
    log_path = logs_dir(settings) / "runner.log"
    command = [sys.executable, "-m", "aikom.orchestration.runner"]
    if not with_schedules:
        command.append("--without-schedules")
    if limit is not None:
        command += ["--limit", str(limit)]
    process = spawn(command, env=prefect_env(settings, api_url), log_path=log_path)
    runner = RunnerProcess(process=process, api_url=api_url, log_path=log_path)
    if wait:
        try:
            wait_until_serving(
                [spec.full_name for spec in DEPLOYMENTS], api_url=api_url, timeout=timeout, process=process
            )
        except RunnerNotReady:
            runner.kill()
            raise
    return runner


def wait_until_serving(
    deployments: Sequence[str],
    *,
    api_url: str,
    timeout: float = READY_TIMEOUT_SECONDS,
    process: subprocess.Popen[bytes] | None = None,
) -> float:
    """Wait until every deployment is registered and polled by a runner; return the seconds waited."""
    from aikom.orchestration import adapter

    started = time.monotonic()
    while True:
        if all(adapter.deployment_ready(name, api_url=api_url) for name in deployments):
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise RunnerNotReady(f"runner exited with code {process.returncode} while starting")
        if time.monotonic() - started > timeout:
            raise RunnerNotReady(f"deployments {list(deployments)} not served after {timeout:.0f} s")
        time.sleep(0.25)


# --- inside the runner process ------------------------------------------------------------------


def _flow_processes() -> list[Any]:
    """The flow processes this runner started (its live child processes)."""
    import psutil

    return [c for c in psutil.Process().children(recursive=False) if c.is_running()]


class _RunnerThread:
    """One Prefect `Runner` on its own event loop in a background thread."""

    def __init__(self, *, with_schedules: bool, limit: int | None) -> None:
        from prefect.runner import Runner

        from aikom.deployments import DEPLOYMENTS

        self.deployments = [spec.build(with_schedule=with_schedules) for spec in DEPLOYMENTS]
        self.runner = Runner(
            name=f"aikom-{socket.gethostname()}-{os.getpid()}",
            query_seconds=POLL_SECONDS,
            limit=limit,
            # Keep the reconciler's schedule active; its concurrency limit collapses a backlog into one run.
            pause_on_shutdown=False,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failure: BaseException | None = None
        # Not the main thread: Prefect's own SIGTERM handler (cancel every run at once) stays out.
        self.thread = threading.Thread(target=self._run, name="aikom-runner", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.failure = exc

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        for deployment in self.deployments:
            await self.runner.aadd_deployment(deployment)
        await self.runner.start()

    def alive(self) -> bool:
        """Whether the runner is still serving."""
        return self.thread.is_alive()

    def stop_polling(self) -> None:
        """Take no new runs; the runs in flight go on."""
        # No public switch stops only the polling; the poller checks this flag before every poll.
        poller = getattr(self.runner, "_scheduled_run_poller", None)
        if poller is not None:
            poller.stopping = True

    def stop(self) -> None:
        """Stop the runner (cancels whatever still runs) and wait for its thread."""
        if self.loop is not None and self.runner.started and self.alive():
            try:
                asyncio.run_coroutine_threadsafe(self.runner.astop(), self.loop).result(timeout=30)
            except Exception:
                log.exception("runner did not stop cleanly")
        self.thread.join(timeout=30)


def serve(*, with_schedules: bool, limit: int | None, drain_seconds: float) -> None:
    """Serve every deployment until SIGTERM/SIGINT, then drain and stop.

    Prefect's runner gives up after a few failed polls; when the Prefect server is down this process
    waits for it to come back and serves again, so a server restart needs no runner restart.
    """
    from aikom.orchestration.server import is_healthy

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    api_url = os.environ.get("PREFECT_API_URL", "")
    served: _RunnerThread | None = None
    while not stop_requested.is_set():
        if not is_healthy(api_url):
            stop_requested.wait(1.0)
            continue
        served = _RunnerThread(with_schedules=with_schedules, limit=limit)
        while served.alive() and not stop_requested.wait(0.5):
            pass
        if not stop_requested.is_set():
            log.warning("runner stopped (%r); serving again once the Prefect server answers", served.failure)
            served.stop()
            served = None
    if served is None:
        log.info("runner stopped")
        return
    log.info("stop requested: no new runs; waiting up to %.0f s for flow processes to exit", drain_seconds)
    served.stop_polling()
    deadline = time.monotonic() + drain_seconds
    while _flow_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _flow_processes()
    if left:
        log.warning(
            "%d flow process(es) still running after %.0f s; cancelling them", len(left), drain_seconds
        )
    served.stop()
    log.info("runner stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry of the runner process."""
    parser = argparse.ArgumentParser(description="АІКОМ: виконавець процесів (Prefect runner)")
    parser.add_argument("--without-schedules", action="store_true", help="не запускати процеси за розкладом")
    parser.add_argument("--limit", type=int, default=None, help="найбільше одночасних запусків")
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from aikom.orchestration import prefect_fixes

    prefect_fixes.apply()
    serve(with_schedules=not args.without_schedules, limit=args.limit, drain_seconds=args.drain_seconds)


if __name__ == "__main__":
    main()
