"""Prefect's runner, starting flow runs from the preloaded forkserver.

Prefect 3.8's runner picks a `ProcessStarter` per flow run (`prefect.runner._flow_run_executor`:
"to add a new execution mode, implement the ProcessStarter protocol and inject it into
FlowRunExecutor"). `ForkServerStarter` is such a starter, modelled on Prefect's DirectSubprocessStarter:
the child gets the environment `run_flow_in_subprocess` gives its spawned child (control-channel token,
heartbeat frequency, deployment name) and runs the flow run the way that child does
(`aikom.orchestration.flow_process`); only the process comes from the forkserver instead of a fresh
interpreter. Everything around it stays Prefect's:
`FlowRunExecutor` (Submitting → start → exit code → Crashed + hooks), the `ProcessManager` (kill on
cancel/shutdown), the `CancellationManager` and the control channel.

The patches, all in `FastStartRunner.__aenter__`: it wraps the starter resolver that
`Runner.__aenter__` hands to its `ScheduledRunPoller` (deployments it does not know keep Prefect's own
starter); it runs the poller's own poll with back-off (at 0.25 s, Prefect's loop would give up after
0.75 s of an unreachable server); and beside it a listener that polls at once when Prefect announces a
resumed run (the regular poll stays the fallback).
tests/orchestration/test_prefect_internals.py fails loudly when a Prefect upgrade moves any of this.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import anyio
import anyio.abc
import anyio.to_thread
from prefect.runner import Runner
from prefect.runner._process_manager import ProcessHandle
from prefect.settings import get_current_settings
from prefect.utilities.processutils import sanitize_subprocess_env
from prefect.utilities.services import critical_service_loop

from aikom.orchestration.forkserver import FlowForkServer

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun
    from prefect.runner._control_channel import ControlChannel
    from prefect.runner._flow_run_executor import ProcessStarter
    from prefect.runner._scheduled_run_poller import StarterResolver

log = logging.getLogger(__name__)

# Prefect's server emits it when a paused or suspended run is resumed.
RESUMING_EVENT = "prefect.flow-run.Resuming"
RESUME_EVENTS_RETRY_SECONDS = 5.0
# Failed polls in a row before the poll interval doubles, up to this many times (then the runner stops).
POLL_BACKOFF = 4


_SETTINGS_ENVIRONMENT: tuple[object, dict[str, str]] | None = None


def _settings_as_environment() -> dict[str, str]:
    """Prefect's current settings as environment variables (computed once per settings object: it costs
    tens of milliseconds, and a runner's settings do not change)."""
    global _SETTINGS_ENVIRONMENT
    settings = get_current_settings()
    if _SETTINGS_ENVIRONMENT is None or _SETTINGS_ENVIRONMENT[0] is not settings:
        _SETTINGS_ENVIRONMENT = (settings, settings.to_environment_variables(exclude_unset=True))
    return _SETTINGS_ENVIRONMENT[1]


def flow_run_env(
    flow_run_id: UUID,
    *,
    base: Mapping[str, str | None] | None = None,
    deployment_name: str | None,
    heartbeat_seconds: float | None,
    control_env: Mapping[str, str],
) -> dict[str, str]:
    """The environment of a flow-run process, merged as Prefect's `run_flow_in_subprocess` merges it:
    Prefect's settings, this process's environment, `base` (a worker's job configuration), then the
    run's own variables (DirectSubprocessStarter's deployment name, heartbeat frequency, control channel)."""
    env: dict[str, str | None] = {
        **_settings_as_environment(),
        **os.environ,
        **(base or {}),
        # The runner runs on_crashed/on_cancellation hooks itself.
        "PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false",
        "PREFECT__FLOW_RUN_ID": str(flow_run_id),
        "PREFECT__DEPLOYMENT_NAME": deployment_name,
        **control_env,
    }
    if heartbeat_seconds is not None:
        env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = str(int(heartbeat_seconds))
    return sanitize_subprocess_env(env)


# How long the runner keeps the flow and deployment it hands to flow processes (see `RelatedObjects`).
RELATED_REFRESH_SECONDS = 60.0


class RelatedObjects:
    """The flow, deployment (and work queue and pool) of a deployment's runs, read by the runner or
    worker once a minute.

    Prefect attaches them as related resources to every event a flow run's process emits (its
    heartbeat, at the least), reading each from the API in every new process (two requests per run on
    a runner, four on a worker). A forked process is given them instead, in the form Prefect's
    related-resource cache keeps (`flow_process.seed_related_resources`): its events name the same
    objects, as current as the last minute (a long-lived Prefect process keeps them for its whole life).
    """

    def __init__(self, refresh_seconds: float = RELATED_REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self._read: dict[tuple[object, ...], tuple[float, dict[str, Any]]] = {}

    async def of(self, client: PrefectClient, flow_run: FlowRun) -> dict[str, Any]:
        """{"flow.<id>": flow, "deployment.<id>": deployment, …} of this run, keyed as Prefect's cache
        keys them (empty when unreadable: the flow process then reads them itself, as Prefect does)."""
        if flow_run.deployment_id is None:
            return {}
        key = (flow_run.deployment_id, flow_run.flow_id, flow_run.work_queue_id, flow_run.work_pool_name)
        read = self._read.get(key)
        if read is not None and time.monotonic() - read[0] < self.refresh_seconds:
            return read[1]
        try:
            objects: dict[str, Any] = {
                f"flow.{flow_run.flow_id}": await client.read_flow(flow_run.flow_id),
                f"deployment.{flow_run.deployment_id}": await client.read_deployment(flow_run.deployment_id),
            }
            if flow_run.work_queue_id:
                objects[f"work-queue.{flow_run.work_queue_id}"] = await client.read_work_queue(
                    flow_run.work_queue_id
                )
            if flow_run.work_pool_name:
                objects[f"work-pool.{flow_run.work_pool_name}"] = await client.read_work_pool(
                    flow_run.work_pool_name
                )
        except Exception as exc:
            log.debug("objects related to %s not read (%r); its process reads them", flow_run.id, exc)
            return {}
        self._read[key] = (time.monotonic(), objects)
        return objects


class ForkServerStarter:
    """Prefect `ProcessStarter`: the flow run's process is forked from the preloaded forkserver."""

    def __init__(
        self,
        *,
        forkserver: FlowForkServer,
        entrypoint: str,
        deployment_name: str | None,
        heartbeat_seconds: float | None = None,
        control_channel: ControlChannel | None = None,
        env: Mapping[str, str | None] | None = None,
        related: Callable[[FlowRun], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self._forkserver = forkserver
        self._related = related
        self._entrypoint = entrypoint
        self._deployment_name = deployment_name
        self._heartbeat_seconds = heartbeat_seconds
        self._control_channel = control_channel
        self._env = env

    async def start(
        self,
        flow_run: FlowRun,
        task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start the process, hand its handle over, block until it exits (the ProcessStarter contract)."""
        control_env: dict[str, str] = {}
        control_registered = False
        if self._control_channel is not None:
            try:
                port, token = self._control_channel.register(flow_run.id)
                control_env = {"PREFECT__CONTROL_PORT": str(port), "PREFECT__CONTROL_TOKEN": token}
                control_registered = True
            except RuntimeError:
                # No loopback listener: Prefect's kill-only cancellation, as in its own starters.
                pass
        env = flow_run_env(
            flow_run.id,
            base=self._env,
            deployment_name=self._deployment_name,
            heartbeat_seconds=self._heartbeat_seconds,
            control_env=control_env,
        )
        handed_off = False
        try:
            related = await self._related(flow_run) if self._related is not None else {}
            # In a thread: the first start after a forkserver (re)start waits for its preload.
            process = await anyio.to_thread.run_sync(
                lambda: self._forkserver.start_flow_process(
                    flow_run=flow_run, entrypoint=self._entrypoint, env=env, related=related
                )
            )
            task_status.started(ProcessHandle(cast(Any, process)))
            handed_off = True
            await anyio.to_thread.run_sync(self._forkserver.wait, process)
        except BaseException:
            if control_registered and not handed_off and self._control_channel is not None:
                self._control_channel.unregister(flow_run.id)
            raise


class FastStartRunner(Runner):
    """Prefect's `Runner`; runs of deployments registered with `fast_start` start from the forkserver."""

    def __init__(self, *, forkserver: FlowForkServer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forkserver = forkserver
        self._entrypoints: dict[UUID, tuple[str, str]] = {}
        self._related_objects = RelatedObjects()

    def fast_start(self, deployment_id: UUID, *, entrypoint: str, deployment_name: str) -> None:
        """Start runs of this deployment from the forkserver (`entrypoint`: "package.module:flow")."""
        self._entrypoints[deployment_id] = (entrypoint, deployment_name)

    def _resolve_fast_starter(self, prefect_resolver: StarterResolver) -> StarterResolver:
        def resolve(flow_run: FlowRun) -> ProcessStarter:
            known = self._entrypoints.get(flow_run.deployment_id) if flow_run.deployment_id else None
            if known is None:
                return prefect_resolver(flow_run)
            entrypoint, deployment_name = known
            return ForkServerStarter(
                forkserver=self.forkserver,
                entrypoint=entrypoint,
                deployment_name=deployment_name,
                heartbeat_seconds=self._heartbeat_seconds,
                control_channel=self._control_channel,
                related=self._related,
            )

        return resolve

    async def _related(self, flow_run: FlowRun) -> dict[str, Any]:
        return await self._related_objects.of(self._client, flow_run)

    async def __aenter__(self) -> FastStartRunner:
        await super().__aenter__()
        poller = self._scheduled_run_poller
        poller._resolve_starter = self._resolve_fast_starter(poller._resolve_starter)
        prefect_loops = poller.run

        async def poll() -> None:
            # Prefect's poll loop gives up after 3 failed polls in a row: 0.75 s of an unreachable
            # server at this pace, and a runner that gives up stops its flow processes. Backing off
            # as Prefect's own workers do, it rides out some 10 s of outage.
            await critical_service_loop(
                workload=poller._get_and_submit_flow_runs,
                interval=self.query_seconds,
                run_once=False,
                jitter_range=0.3,
                backoff=POLL_BACKOFF,
                printer=lambda *lines: log.debug("poll: %s", " ".join(map(str, lines))),
            )

        async def run_polling_and_resume_events() -> None:
            async with anyio.create_task_group() as loops:
                # Prefect's loops also pull deployment storage; this runner's deployments have none.
                loops.start_soon(prefect_loops if self._storage_objs else poll)
                loops.start_soon(self._poll_on_resumes)

        poller.run = run_polling_and_resume_events  # type: ignore[method-assign]
        return self

    async def _poll_on_resumes(self) -> None:
        """Poll at once when a flow run is resumed (Prefect's `prefect.flow-run.Resuming` event).

        Only a shortcut: the regular poll finds every resumed run anyway, also while events are lost.
        """
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
        from prefect.types._datetime import now

        poller = self._scheduled_run_poller
        while not poller.stopping:
            resumes = EventFilter(
                occurred=EventOccurredFilter(since=now("UTC")),  # type: ignore[arg-type]
                event=EventNameFilter(name=[RESUMING_EVENT]),
            )
            try:
                async with get_events_subscriber(filter=resumes) as subscriber:
                    log.info("listening for resumed flow runs")
                    async for _event in subscriber:
                        await poller._get_and_submit_flow_runs()
            except Exception as exc:
                log.warning("resume events unavailable (%r); the poll goes on", exc)
            await anyio.sleep(RESUME_EVENTS_RETRY_SECONDS)
