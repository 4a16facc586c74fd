"""`aikom worker`: more machines for the same processes, on Prefect's own scale-out — a work pool.

A worker is Prefect's `ProcessWorker` (type "process": a stock `prefect worker start` can serve the
pool too) that starts the runs of this project's deployments from the same preloaded forkserver as
the one-machine runner, through the same `ForkServerStarter` and one `FlowRunExecutorContext` for
the worker's life (Prefect's executor: Crashed on a bad exit, cancellation over the control channel).

Every worker registers the deployments into its pool (same names as the runner's, with the code
version) and polls the pool every 0.25 s; the server hands each run to one of them. A run suspended
on one worker is resumed on whichever polls first, so flow results must live where every worker
reads them: `--results` names a shared folder or a Prefect filesystem block.

Shutdown is the runner's: SIGTERM/SIGINT stops taking runs, waits for the flow processes, stops the
worker, then the forkserver. Run it as `aikom worker` (which starts `python -m aikom.orchestration.worker`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aikom.orchestration.environment import prefect_env
from aikom.settings import Settings

if TYPE_CHECKING:
    from aikom.deployments import DeploymentSpec
    from aikom.orchestration.forkserver import FlowForkServer

log = logging.getLogger(__name__)

DEFAULT_POOL = "aikom"
QUERY_SECONDS = 0.25
DRAIN_SECONDS = 60.0
BLOCK_PREFIX = "block:"


def result_storage_env(results: str) -> dict[str, str]:
    """Prefect's result settings for `results`: a folder path, or `block:<type>/<name>` of a saved block."""
    if results.startswith(BLOCK_PREFIX):
        return {"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": results[len(BLOCK_PREFIX) :]}
    return {"PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(Path(results).expanduser().resolve())}


def worker_env(settings: Settings, api_url: str, *, results: str) -> dict[str, str]:
    """The environment of a worker process: a runner's, with the shared result store and 0.25 s polling."""
    env = prefect_env(settings, api_url)
    env.pop("PREFECT_RESULTS_LOCAL_STORAGE_PATH", None)
    env.update(result_storage_env(results))
    env["PREFECT_WORKER_QUERY_SECONDS"] = str(QUERY_SECONDS)
    return env


def worker_command(
    *,
    pool: str,
    name: str | None = None,
    limit: int | None = None,
    with_schedules: bool = True,
    with_probes: bool = False,
    drain_seconds: float = DRAIN_SECONDS,
) -> list[str]:
    """The command line of a worker process (after `python`)."""
    command = ["-m", "aikom.orchestration.worker", "--pool", pool, "--drain-seconds", str(drain_seconds)]
    if name:
        command += ["--name", name]
    if limit is not None:
        command += ["--limit", str(limit)]
    if not with_schedules:
        command.append("--without-schedules")
    if with_probes:
        command.append("--with-probes")
    return command


# --- inside the worker process --------------------------------------------------------------------


def _fast_start_worker_class() -> type[Any]:
    """The worker class (built on first use: it imports Prefect's worker machinery)."""
    import anyio
    import anyio.abc
    from prefect.flows import load_flow_from_flow_run
    from prefect.runner._flow_run_executor import FlowRunExecutionResult, FlowRunExecutorContext
    from prefect.runner._process_manager import ProcessHandle
    from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult

    from aikom.orchestration.runner import build_deployments
    from aikom.orchestration.starter import ForkServerStarter, RelatedObjects

    class FastStartWorker(ProcessWorker):
        """Prefect's process worker; runs of the deployments it registered start from the forkserver."""

        @classmethod
        def __dispatch_key__(cls) -> str:
            # Pools of type "process" as Prefect's own worker's; registered under a key of its own,
            # so that Prefect's lookup of the "process" type still finds Prefect's worker.
            return "aikom-fast-start"

        def __init__(
            self,
            *,
            forkserver: FlowForkServer,
            specs: Sequence[DeploymentSpec],
            version: str,
            with_schedules: bool,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.forkserver = forkserver
            self.specs = list(specs)
            # Read by the polling loop: the watcher sets a new one when the code changes on disk.
            self.version = version
            self.with_schedules = with_schedules
            self.draining = False
            self._registered: str | None = None
            self._entrypoints: dict[UUID, tuple[str, str]] = {}
            self._executions: FlowRunExecutorContext | None = None
            self._related_objects = RelatedObjects()

        async def setup(self) -> None:
            # One executor context (client, process manager, control channel, cancellation observer) for
            # the worker's life, as the runner has; Prefect's ProcessWorker opens one per run.
            self._executions = FlowRunExecutorContext()
            await self._executions.__aenter__()
            try:
                await super().setup()
            except BaseException as exc:
                await self._executions.__aexit__(type(exc), exc, exc.__traceback__)
                raise

        async def teardown(self, *exc_info: Any) -> None:
            try:
                await super().teardown(*exc_info)
            finally:
                if self._executions is not None:
                    await self._executions.__aexit__(*exc_info)

        async def get_and_submit_flow_runs(self) -> list[Any]:
            if self.draining:
                return []
            if self._registered != self.version and self._pool_known():
                await self._register()
            runs: list[Any] = await super().get_and_submit_flow_runs()
            return runs

        def _pool_known(self) -> bool:
            try:
                self.work_pool  # noqa: B018 — raises until the worker has synced with its pool
            except RuntimeError:
                return False
            return True

        async def _register(self) -> None:
            """Register every deployment into the pool with the code version; preload that code."""
            from aikom.orchestration.forkserver import preload_modules

            version = self.version
            # Built outside this event loop: Prefect's `to_deployment` returns a coroutine inside one.
            deployments = await asyncio.to_thread(
                build_deployments, self.specs, version=version, with_schedules=self.with_schedules
            )
            for spec, deployment in zip(self.specs, deployments, strict=True):
                deployment_id = await deployment.aapply(work_pool_name=self._work_pool_name)
                self._entrypoints[deployment_id] = (spec.flow_path, deployment.name)
            modules = preload_modules(spec.flow_path for spec in self.specs)
            await asyncio.to_thread(self.forkserver.ensure_version, version, modules)
            self._registered = version
            log.info(
                "deployments of code version %s registered in work pool %r", version, self._work_pool_name
            )

        async def run(
            self,
            flow_run: Any,
            configuration: ProcessJobConfiguration,
            task_status: anyio.abc.TaskStatus[int] | None = None,
        ) -> ProcessWorkerResult:
            known = self._entrypoints.get(flow_run.deployment_id) if flow_run.deployment_id else None
            if known is None or self._executions is None:
                result: ProcessWorkerResult = await super().run(flow_run, configuration, task_status)
                return result
            status = task_status if task_status is not None else anyio.TASK_STATUS_IGNORED
            entrypoint, deployment_name = known
            executions = self._executions
            starter = ForkServerStarter(
                forkserver=self.forkserver,
                entrypoint=entrypoint,
                deployment_name=deployment_name,
                control_channel=executions.control_channel,
                env=configuration.env,
                related=lambda run: self._related_objects.of(executions.client, run),
            )
            executor = executions.create_executor(
                flow_run, starter, resolve_flow=load_flow_from_flow_run, propose_submitting=False
            )
            execution: FlowRunExecutionResult | None = None

            async def execute(
                *, task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED
            ) -> None:
                nonlocal execution
                execution = await executor.submit(task_status=task_status)

            async with anyio.create_task_group() as group:
                handle = await group.start(execute)
                if handle.pid is None:
                    raise RuntimeError("Flow run process has no PID")
                status.started(handle.pid)
            if execution is None or execution.status_code is None:
                raise RuntimeError("Failed to start flow run process.")
            return ProcessWorkerResult(
                status_code=execution.status_code, identifier=str(execution.handle.pid)
            )

    return FastStartWorker


class _WorkerThread:
    """One worker on its own event loop in a background thread (the main thread handles signals)."""

    def __init__(
        self,
        *,
        pool: str,
        name: str,
        limit: int | None,
        with_schedules: bool,
        specs: Sequence[DeploymentSpec],
        forkserver: FlowForkServer,
        version: str,
    ) -> None:
        worker_class = _fast_start_worker_class()
        self.worker = worker_class(
            work_pool_name=pool,
            name=name,
            limit=limit,
            forkserver=forkserver,
            specs=specs,
            version=version,
            with_schedules=with_schedules,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="aikom-worker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.failure = exc

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        await self.worker.start(printer=log.info)

    def alive(self) -> bool:
        """Whether the worker still runs."""
        return self.thread.is_alive()

    def stop(self) -> None:
        """Stop the worker (its in-flight runs are cancelled by Prefect) and wait for its thread."""
        if self.loop is not None and self.task is not None and self.alive():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=60)


def serve_pool(
    *,
    pool: str,
    name: str,
    limit: int | None,
    with_schedules: bool,
    with_probes: bool,
    drain_seconds: float,
) -> None:
    """Serve the work pool until SIGTERM/SIGINT, then drain (flow processes first, forkserver last)."""
    from aikom.orchestration.forkserver import code_version, flow_forkserver, preload_modules
    from aikom.orchestration.runner import CodeWatch, drain, served_specs

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    specs = served_specs(with_probes=with_probes)
    forkserver = flow_forkserver()
    version = code_version()
    forkserver.ensure_version(version, preload_modules(spec.flow_path for spec in specs))
    code = CodeWatch()
    served = _WorkerThread(
        pool=pool,
        name=name,
        limit=limit,
        with_schedules=with_schedules,
        specs=specs,
        forkserver=forkserver,
        version=version,
    )
    try:
        while served.alive() and not stop_requested.wait(0.5):
            forkserver.check()
            changed = code.changed_version()
            if changed is not None:
                log.info("the code changed (version %s): registering the deployments again", changed)
                served.worker.version = changed
        if not stop_requested.is_set():
            log.error("worker stopped: %r", served.failure)
            return
        log.info(
            "stop requested: no new runs; waiting up to %.0f s for flow processes to exit", drain_seconds
        )
        served.worker.draining = True
        left = drain(forkserver, drain_seconds)
        if left:
            log.warning(
                "%d flow process(es) still running after %.0f s; cancelling them", len(left), drain_seconds
            )
        served.stop()
    finally:
        forkserver.stop()
        log.info("worker stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry of the worker process."""
    parser = argparse.ArgumentParser(description="АІКОМ: виконавець процесів у пулі Prefect (worker)")
    parser.add_argument("--pool", default=DEFAULT_POOL, help="пул виконавців Prefect")
    parser.add_argument("--name", default=None, help="назва виконавця (типово: машина і номер процесу)")
    parser.add_argument("--limit", type=int, default=None, help="найбільше одночасних запусків")
    parser.add_argument("--without-schedules", action="store_true", help="не запускати процеси за розкладом")
    parser.add_argument("--with-probes", action="store_true", help="обслуговувати також рушійні проби")
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from aikom.orchestration import prefect_fixes

    prefect_fixes.apply()
    serve_pool(
        pool=args.pool,
        name=args.name or f"aikom-{socket.gethostname()}-{os.getpid()}",
        limit=args.limit,
        with_schedules=not args.without_schedules,
        with_probes=args.with_probes,
        drain_seconds=args.drain_seconds,
    )


def worker_environment_summary(env: Mapping[str, str]) -> dict[str, str]:
    """What a person starting a worker should see: API, pool store (no secrets)."""
    keys = ("PREFECT_API_URL", "PREFECT_RESULTS_LOCAL_STORAGE_PATH", "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK")
    return {key: env[key] for key in keys if key in env}


if __name__ == "__main__":
    main()
