"""The runner: one process serving every deployment of `aikom.deployments`, polling every 0.25 s.

Run it as `python -m aikom.orchestration.runner` (the stack starts it with `start_runner`). Flow runs
are started from a preloaded forkserver (`aikom.orchestration.starter`), so a resumed run does not
pay Prefect's import cost again; `--starter default` keeps Prefect's own (the benchmark's baseline).

Shutdown is orderly: on SIGTERM/SIGINT it stops taking new runs, waits for the flow processes it
started to exit (up to `--drain-seconds`; forked ones are the forkserver's children), stops, and
stops the forkserver last — stopping a runner while a flow process is still exiting turns that run
into Crashed/Cancelled.
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
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aikom.orchestration.child import ChildProcess, spawn
from aikom.orchestration.environment import logs_dir, prefect_env, result_storage_dir
from aikom.settings import Settings

if TYPE_CHECKING:
    from prefect.runner import Runner

    from aikom.deployments import DeploymentSpec
    from aikom.orchestration.forkserver import FlowForkServer

log = logging.getLogger(__name__)

# Prefect's setting for this is an integer; the `Runner` itself takes a float.
POLL_SECONDS = 0.25
DRAIN_SECONDS = 60.0
READY_TIMEOUT_SECONDS = 90.0
# How often the serving loop looks after the forkserver (restart when dead) and the code (restart when stale).
WATCH_SECONDS = 0.5
CODE_CHECK_SECONDS = 5.0
# Registering again includes preloading a new forkserver beside the old one.
REGISTER_TIMEOUT = 180.0
# After the Prefect runner stopped on errors, wait this long (doubling while it keeps failing) to serve again.
RETRY_SECONDS = 1.0


class Starter(StrEnum):
    """How the runner starts flow-run processes."""

    FORKSERVER = "forkserver"  # forked from a preloaded forkserver (the default)
    DEFAULT = "default"  # Prefect's own: a fresh Python process per run (benchmark baseline)


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
    starter: Starter = Starter.FORKSERVER,
    with_probes: bool = False,
    wait: bool = True,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> RunnerProcess:
    """Start the runner subprocess (log in `<data_dir>/logs/runner.log`); wait until it serves.

    `with_probes` also serves the engine probes of `aikom.orchestration.probes` (benchmarks, tests).
    """
    api_url = api_url or settings.prefect_api_url
    result_storage_dir(settings).mkdir(parents=True, exist_ok=True)
    log_path = logs_dir(settings) / "runner.log"
    command = [sys.executable, "-m", "aikom.orchestration.runner", "--starter", starter.value]
    if not with_schedules:
        command.append("--without-schedules")
    if limit is not None:
        command += ["--limit", str(limit)]
    if with_probes:
        command.append("--with-probes")
    process = spawn(command, env=prefect_env(settings, api_url), log_path=log_path)
    runner = RunnerProcess(process=process, api_url=api_url, log_path=log_path)
    if wait:
        try:
            wait_until_serving(
                [spec.full_name for spec in served_specs(with_probes=with_probes)],
                api_url=api_url,
                timeout=timeout,
                process=process,
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


def served_specs(*, with_probes: bool = False) -> list[DeploymentSpec]:
    """The deployments a runner serves: every process flow and the reconciler (plus the engine probes)."""
    from aikom.deployments import all_deployments

    specs = list(all_deployments())
    if with_probes:
        from aikom.orchestration.probes import PROBE_DEPLOYMENTS

        specs += PROBE_DEPLOYMENTS
    return specs


# --- inside the runner process ------------------------------------------------------------------


def build_deployments(specs: Sequence[DeploymentSpec], *, version: str, with_schedules: bool) -> list[Any]:
    """The runner deployments of `specs`, each carrying its flow's version — the package version and a
    hash of the flow module's source (`DeploymentSpec.version`): what a process records its run started
    on. (`version`, the whole code's hash, is what the forkserver's preload goes stale with.)"""
    from prefect._internal.versioning import VersionType

    deployments = []
    for spec in specs:
        deployment = spec.build(with_schedule=with_schedules)
        # An explicit simple version: Prefect would otherwise ask git on every registration.
        deployment.version = spec.version
        deployment.version_type = VersionType.SIMPLE
        deployments.append(deployment)
    return deployments


class _RunnerThread:
    """One Prefect `Runner` on its own event loop in a background thread."""

    def __init__(
        self,
        *,
        with_schedules: bool,
        limit: int | None,
        specs: Sequence[DeploymentSpec],
        forkserver: FlowForkServer | None,
    ) -> None:
        from aikom.orchestration.forkserver import code_version

        self.specs = list(specs)
        self.with_schedules = with_schedules
        self.forkserver = forkserver
        self.version = code_version()
        self.deployments = build_deployments(self.specs, version=self.version, with_schedules=with_schedules)
        self.runner = self._new_runner(limit)
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

    def _new_runner(self, limit: int | None) -> Runner:
        from prefect.runner import Runner

        options: dict[str, Any] = {
            "name": f"aikom-{socket.gethostname()}-{os.getpid()}",
            "query_seconds": POLL_SECONDS,
            "limit": limit,
            # Keep the reconciler's schedule active; its concurrency limit collapses a backlog into one run.
            "pause_on_shutdown": False,
        }
        if self.forkserver is None:
            return Runner(**options)
        from aikom.orchestration.starter import FastStartRunner

        return FastStartRunner(forkserver=self.forkserver, **options)

    async def _register(self) -> None:
        """Register (or re-register) every deployment; the forkserver preloads their current code."""
        from aikom.orchestration.forkserver import preload_modules
        from aikom.orchestration.starter import FastStartRunner

        for spec, deployment in zip(self.specs, self.deployments, strict=True):
            deployment_id = await self.runner.aadd_deployment(deployment)
            if isinstance(self.runner, FastStartRunner):
                self.runner.fast_start(
                    deployment_id, entrypoint=spec.flow_path, deployment_name=deployment.name
                )
        if self.forkserver is not None:
            modules = preload_modules(spec.flow_path for spec in self.specs)
            await asyncio.to_thread(self.forkserver.ensure_version, self.version, modules)

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._register()
        log.info("serving %d deployments (code version %s)", len(self.specs), self.version)
        await self.runner.start()

    def reregister(self, version: str) -> None:
        """The code changed on disk: register the deployments again with the new version (and forkserver)."""
        if self.loop is None or version == self.version:
            return
        self.version = version
        self.deployments = build_deployments(self.specs, version=version, with_schedules=self.with_schedules)
        asyncio.run_coroutine_threadsafe(self._register(), self.loop).result(timeout=REGISTER_TIMEOUT)

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


class CodeWatch:
    """Notices when the sources flow runs use change on disk and then stay put (an edit or a deploy done)."""

    def __init__(self) -> None:
        from aikom.orchestration.forkserver import code_signature

        self.signature = code_signature()
        self.pending: tuple[tuple[str, int, int], ...] | None = None
        self.checked = time.monotonic()

    def changed_version(self) -> str | None:
        """The new code version once the sources changed and were left alone for a check, else None."""
        from aikom.orchestration.forkserver import code_signature, code_version

        if time.monotonic() - self.checked < CODE_CHECK_SECONDS:
            return None
        self.checked = time.monotonic()
        signature = code_signature()
        if signature == self.signature:
            self.pending = None
            return None
        if signature != self.pending:
            self.pending = signature  # still changing: look again at the next check
            return None
        self.signature, self.pending = signature, None
        return code_version()


def _watch(served: _RunnerThread, code: CodeWatch) -> None:
    """Keep the forkserver alive and its preloaded code current."""
    if served.forkserver is None:
        return
    served.forkserver.check()
    version = code.changed_version()
    if version is not None and version != served.version:
        log.info("the code changed (version %s): registering the deployments again", version)
        try:
            served.reregister(version)
        except Exception:
            log.exception("could not register the deployments of version %s", version)


def drain(forkserver: FlowForkServer | None, drain_seconds: float) -> list[Any]:
    """Wait up to `drain_seconds` for the flow processes to exit; those still running."""
    from aikom.orchestration.forkserver import flow_processes

    deadline = time.monotonic() + drain_seconds
    while flow_processes(forkserver) and time.monotonic() < deadline:
        time.sleep(0.2)
    return flow_processes(forkserver)


def serve(
    *,
    with_schedules: bool,
    limit: int | None,
    drain_seconds: float,
    starter: Starter = Starter.FORKSERVER,
    with_probes: bool = False,
) -> None:
    """Serve every deployment until SIGTERM/SIGINT, then drain and stop.

    Prefect's runner gives up after a few failed polls; when the Prefect server is down this process
    waits for it to come back and serves again, so a server restart needs no runner restart.
    """
    from aikom.orchestration.forkserver import code_version, flow_forkserver, preload_modules
    from aikom.orchestration.server import is_healthy

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    api_url = os.environ.get("PREFECT_API_URL", "")
    specs = served_specs(with_probes=with_probes)
    forkserver = flow_forkserver() if starter == Starter.FORKSERVER else None
    if forkserver is not None:
        # Preloading takes seconds: start it now, beside the runner's own start.
        forkserver.ensure_version(code_version(), preload_modules(spec.flow_path for spec in specs))
    code = CodeWatch()
    served: _RunnerThread | None = None
    retry_seconds = RETRY_SECONDS
    try:
        while not stop_requested.is_set():
            if not is_healthy(api_url):
                stop_requested.wait(1.0)
                continue
            started = time.monotonic()
            served = _RunnerThread(
                with_schedules=with_schedules, limit=limit, specs=specs, forkserver=forkserver
            )
            while served.alive() and not stop_requested.wait(WATCH_SECONDS):
                _watch(served, code)
            if not stop_requested.is_set():
                # A server that answers its health check may still fail (its database is down):
                # try again, less and less often while it keeps failing.
                retry_seconds = (
                    RETRY_SECONDS if time.monotonic() - started > 60 else min(2 * retry_seconds, 30)
                )
                log.warning(
                    "runner stopped (%r); serving again in %.0f s once the Prefect server answers",
                    served.failure,
                    retry_seconds,
                )
                served.stop()
                served = None
                stop_requested.wait(retry_seconds)
        if served is None:
            return
        log.info(
            "stop requested: no new runs; waiting up to %.0f s for flow processes to exit", drain_seconds
        )
        served.stop_polling()
        left = drain(forkserver, drain_seconds)
        if left:
            log.warning(
                "%d flow process(es) still running after %.0f s; cancelling them", len(left), drain_seconds
            )
        served.stop()
    finally:
        if forkserver is not None:
            # Last: the forked flow processes are its children.
            forkserver.stop()
        log.info("runner stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry of the runner process."""
    parser = argparse.ArgumentParser(description="АІКОМ: виконавець процесів (Prefect runner)")
    parser.add_argument("--without-schedules", action="store_true", help="не запускати процеси за розкладом")
    parser.add_argument("--limit", type=int, default=None, help="найбільше одночасних запусків")
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS)
    parser.add_argument(
        "--starter", choices=[s.value for s in Starter], default=Starter.FORKSERVER.value,
        help="як запускати процеси потоків: з попередньо завантаженого forkserver чи як Prefect типово",
    )  # fmt: skip
    parser.add_argument("--with-probes", action="store_true", help="обслуговувати також рушійні проби")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from aikom.orchestration import prefect_fixes

    prefect_fixes.apply()
    serve(
        with_schedules=not args.without_schedules,
        limit=args.limit,
        drain_seconds=args.drain_seconds,
        starter=Starter(args.starter),
        with_probes=args.with_probes,
    )


if __name__ == "__main__":
    main()
