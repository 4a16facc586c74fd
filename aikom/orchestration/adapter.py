"""The orchestration adapter: the ONLY module that calls the Prefect API.

Start a deployment run, resume a waiting run with input, read a run's state, find runs, put a run
that a shutdown left Crashed/Cancelled back on the schedule. Every function takes an optional
`api_url` (default: `settings.prefect_api_url`) and raises `OrchestratorUnavailable` when the Prefect
server cannot be reached; the domain database stays the truth either way.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from pydantic import BaseModel, Field

from aikom.settings import get_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import OrchestrationResult


class OrchestratorUnavailable(Exception):
    """The Prefect server did not answer; whatever was committed to the database stays committed."""

    code = "orchestrator_unavailable"
    message_uk = "Сервер процесів (Prefect) недоступний; процес продовжиться, щойно він запрацює."

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RunStateType(StrEnum):
    """Prefect's run state types (its engine state; the business state lives in the `process` table)."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"


FINISHED_STATES = frozenset(
    {RunStateType.COMPLETED, RunStateType.FAILED, RunStateType.CANCELLED, RunStateType.CRASHED}
)


class RunInfo(BaseModel):
    """What the rest of the system may know about a flow run."""

    id: str
    name: str
    deployment_id: str | None = None
    state_type: RunStateType | None = None
    state_name: str | None = None
    state_message: str | None = None
    pause_key: str | None = None
    run_count: int = 0
    parameters: dict[str, Any] = Field(default_factory=dict)
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def waiting(self) -> bool:
        """Paused or suspended, waiting to be resumed."""
        return self.state_type == RunStateType.PAUSED

    @property
    def finished(self) -> bool:
        """In a final state."""
        return self.state_type in FINISHED_STATES


class ResumeResult(StrEnum):
    """What a resume call achieved."""

    RESUMED = "resumed"
    NOT_WAITING = "not_waiting"  # the run is not paused (already resumed, running, finished)
    TIMED_OUT = "timed_out"  # the pause expired: the run failed and can no longer be resumed
    NOT_FOUND = "not_found"


# Prefect keeps run inputs under "<pause key>-schema"/"-response": lowercase letters, digits, dashes only.
APPROVAL_PAUSE_PREFIX = "approval-"


def approval_pause_key(step_key: str, attempt: int, wakeup: int) -> str:
    """The pause key of an approval step's n-th wait in one attempt of the run.

    The attempt (the run's run count) is part of it: a run that a crash interrupted and the reconciler
    re-ran must wait under a key of its own — Prefect forgets the fired keys of a re-run run but keeps
    their inputs, so waiting under an old key again is refused with "input already exists".
    """
    return f"{APPROVAL_PAUSE_PREFIX}{step_key}-{attempt}x{wakeup}"


def step_of_pause_key(pause_key: str | None) -> str | None:
    """The approval step a run waits in, from its pause key (None for other pauses)."""
    if not pause_key or not pause_key.startswith(APPROVAL_PAUSE_PREFIX):
        return None
    return pause_key[len(APPROVAL_PAUSE_PREFIX) :].rsplit("-", 1)[0]


def _api_url(api_url: str | None) -> str:
    return api_url or get_settings().prefect_api_url


_VERIFIED_CONTEXTS: dict[str, ssl.SSLContext] = {}


def _httpx_settings() -> dict[str, Any]:
    """The client's settings: one verified SSL context per CA bundle for every client of this process.

    Each call here opens a client of its own, and a Prefect client builds that context from the CA
    bundle unless given one (tens of milliseconds of CPU, as much as the rest of a short call); the
    context is the one Prefect would build (its CA file setting, else certifi's bundle). With TLS
    verification switched off Prefect builds its own unverified one, as before.
    """
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY

    settings: dict[str, Any] = {"timeout": 15.0}
    if not PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():
        import certifi

        cafile = PREFECT_API_SSL_CERT_FILE.value() or certifi.where()
        if cafile not in _VERIFIED_CONTEXTS:
            _VERIFIED_CONTEXTS[cafile] = ssl.create_default_context(cafile=cafile)
        settings["verify"] = _VERIFIED_CONTEXTS[cafile]
    return settings


@contextmanager
def _client(api_url: str | None) -> Iterator[SyncPrefectClient]:
    """A sync Prefect client for `api_url`; connection failures become `OrchestratorUnavailable`."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.exceptions import PrefectHTTPStatusError

    url = _api_url(api_url)
    try:
        # Built directly (not `get_client`) so that an unset PREFECT_API_URL never starts an ephemeral server.
        with SyncPrefectClient(url, httpx_settings=_httpx_settings()) as client:
            yield client
    except (httpx.TransportError, OSError) as exc:
        raise OrchestratorUnavailable(f"{url}: {exc!r}") from exc
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code >= 500:
            raise OrchestratorUnavailable(f"{url}: HTTP {exc.response.status_code}") from exc
        raise


def _info(run: FlowRun) -> RunInfo:
    state = run.state
    return RunInfo(
        id=str(run.id),
        name=run.name,
        deployment_id=str(run.deployment_id) if run.deployment_id else None,
        state_type=RunStateType(state.type.value) if state else None,
        state_name=state.name if state else None,
        state_message=state.message if state else None,
        pause_key=state.state_details.pause_key if state else None,
        run_count=run.run_count,
        parameters=dict(run.parameters),
        start_time=run.start_time,
        end_time=run.end_time,
    )


def is_available(api_url: str | None = None, timeout: float = 2.0) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        response = httpx.get(_api_url(api_url).rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def start_run(
    deployment: str,
    parameters: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    api_url: str | None = None,
) -> str:
    """Create a run of `deployment` ("flow-name/deployment-name"); return its id.

    With an `idempotency_key` a second call returns the first call's run instead of creating another.
    """
    with _client(api_url) as client:
        dep = client.read_deployment_by_name(deployment)
        run = client.create_flow_run_from_deployment(
            dep.id, parameters=parameters, idempotency_key=idempotency_key
        )
    return str(run.id)


def resume_run(flow_run_id: str, run_input: dict[str, Any], *, api_url: str | None = None) -> ResumeResult:
    """Resume a waiting run with `run_input` (validated by the server against the waiting step's model)."""
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.exceptions import ObjectNotFound

    with _client(api_url) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return ResumeResult.NOT_FOUND
        if not run.state or not run.state.is_paused():
            return ResumeResult.NOT_WAITING
        try:
            response = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
        except httpx.HTTPStatusError as refused:
            if refused.response.status_code != 409:
                raise
            # Its input is already there: resumed by someone else (the reconciler, or the command that
            # committed the decision) between our read and our resume.
            log.info("flow run %s was resumed by someone else a moment ago", flow_run_id)
            return ResumeResult.NOT_WAITING
    if response.status == SetStateStatus.ACCEPT:
        return ResumeResult.RESUMED
    log.warning("resume of flow run %s refused: %s %s", flow_run_id, response.status, response.details)
    if response.state and response.state.type == StateType.FAILED:
        return ResumeResult.TIMED_OUT
    # Rejected for another reason (e.g. resumed by someone else a moment ago).
    return ResumeResult.NOT_WAITING


def read_run(flow_run_id: str, *, api_url: str | None = None) -> RunInfo | None:
    """The run's current state, or None when the server does not know it."""
    from prefect.exceptions import ObjectNotFound

    with _client(api_url) as client:
        try:
            return _info(client.read_flow_run(UUID(flow_run_id)))
        except ObjectNotFound:
            return None


class _NoSuchDeployment(Exception):
    """None of the named deployments exists: no run can match."""


def _filters(
    client: SyncPrefectClient,
    *,
    deployments: Sequence[str],
    states: Sequence[RunStateType],
    flow_run_ids: Sequence[str],
    ended_after: datetime | None,
) -> tuple[Any, Any]:
    """The flow-run and deployment filters for `find_runs` and `count_runs`."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    run_filter = FlowRunFilter()
    if states:
        run_filter.state = FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType(s.value) for s in states])
        )
    if flow_run_ids:
        run_filter.id = FlowRunFilterId(any_=[UUID(i) for i in flow_run_ids])
    if ended_after is not None:
        run_filter.end_time = FlowRunFilterEndTime(after_=ended_after)  # type: ignore[arg-type]
    deployment_filter = None
    if deployments:
        ids = []
        for name in deployments:
            try:
                ids.append(client.read_deployment_by_name(name).id)
            except ObjectNotFound:
                continue
        if not ids:
            raise _NoSuchDeployment
        deployment_filter = DeploymentFilter(id=DeploymentFilterId(any_=ids))
    return run_filter, deployment_filter


def find_runs(
    *,
    deployments: Sequence[str] = (),
    states: Sequence[RunStateType] = (),
    flow_run_ids: Sequence[str] = (),
    ended_after: datetime | None = None,
    limit: int = 200,
    api_url: str | None = None,
) -> list[RunInfo]:
    """Runs matching every given filter (deployments by "flow/deployment" name), newest first."""
    from prefect.client.schemas.sorting import FlowRunSort

    with _client(api_url) as client:
        try:
            run_filter, deployment_filter = _filters(
                client,
                deployments=deployments,
                states=states,
                flow_run_ids=flow_run_ids,
                ended_after=ended_after,
            )
        except _NoSuchDeployment:
            return []
        runs = client.read_flow_runs(
            flow_run_filter=run_filter,
            deployment_filter=deployment_filter,
            sort=FlowRunSort.START_TIME_DESC,
            limit=limit,
        )
    return [_info(r) for r in runs]


def count_runs(
    *,
    deployments: Sequence[str] = (),
    states: Sequence[RunStateType] = (),
    ended_after: datetime | None = None,
    api_url: str | None = None,
) -> int:
    """How many runs match every given filter."""
    with _client(api_url) as client:
        try:
            run_filter, deployment_filter = _filters(
                client, deployments=deployments, states=states, flow_run_ids=(), ended_after=ended_after
            )
        except _NoSuchDeployment:
            return 0
        return int(client.count_flow_runs(flow_run_filter=run_filter, deployment_filter=deployment_filter))


def reschedule_run(flow_run_id: str, *, reason: str, api_url: str | None = None) -> RunInfo | None:
    """Put a run that ended Crashed/Cancelled/Failed back on the schedule so that a runner re-runs it.

    Leaving a final state resets the run's pause keys: the re-run skips its cached steps and suspends
    again at the step it was waiting in (or goes on, when that step was decided meanwhile).
    """
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.states import Scheduled

    with _client(api_url) as client:
        response: OrchestrationResult[Any] = client.set_flow_run_state(
            UUID(flow_run_id), Scheduled(message=reason)
        )
        if response.status != SetStateStatus.ACCEPT:
            return None
        return _info(client.read_flow_run(UUID(flow_run_id)))


def mark_run_crashed(flow_run_id: str, *, reason: str, api_url: str | None = None) -> None:
    """Force a run into Crashed (a run whose process is known to be gone; tests: a runner that died)."""
    from prefect.states import Crashed

    with _client(api_url) as client:
        client.set_flow_run_state(UUID(flow_run_id), Crashed(message=reason), force=True)


def cancel_run(flow_run_id: str, *, reason: str, api_url: str | None = None) -> bool:
    """Cancel a run: Prefect marks it Cancelling, its runner stops the run's process and records it
    Cancelled (a run with no process, e.g. a waiting one, is Cancelled at once). Whether it was accepted."""
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelling

    with _client(api_url) as client:
        try:
            response: OrchestrationResult[Any] = client.set_flow_run_state(
                UUID(flow_run_id), Cancelling(message=reason)
            )
        except ObjectNotFound:
            return False
    return response.status == SetStateStatus.ACCEPT


def deployment_ready(deployment: str, *, api_url: str | None = None) -> bool:
    """Whether `deployment` exists and a runner is polling for its runs."""
    from prefect.exceptions import ObjectNotFound

    try:
        with _client(api_url) as client:
            dep = client.read_deployment_by_name(deployment)
    except (ObjectNotFound, OrchestratorUnavailable):
        return False
    return dep.status is not None and dep.status.value == "READY"


def wait_for_run(
    flow_run_id: str,
    *,
    states: Sequence[RunStateType] = tuple(FINISHED_STATES),
    timeout: float = 60.0,
    poll_seconds: float = 0.2,
    api_url: str | None = None,
) -> RunInfo:
    """Poll the run until it is in one of `states`; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        info = read_run(flow_run_id, api_url=api_url)
        if info is not None and info.state_type in states:
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"flow run {flow_run_id} not in {[s.value for s in states]} after {timeout:.0f} s "
                f"(now {info.state_type if info else None}: {info.state_name if info else None})"
            )
        time.sleep(poll_seconds)
