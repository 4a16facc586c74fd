"""Inside a flow-run process forked from the preloaded forkserver: become the process Prefect's
`run_flow_in_subprocess` would have spawned, then run the flow run.

What that child does, in order (prefect/flow_engine.py, 3.8.8): consume the control-channel
bootstrap (`configure_from_env`), take the runner's environment, read Prefect's settings from it,
and run the flow run under `handle_engine_signals` (exit 0 on pause/abort/acknowledged cancel, 1 on
an error, a crash state otherwise). What differs, none of it visible to the flow run:
- the flow comes from its entrypoint (already imported by the forkserver), not pickled, so a forkserver
  started on new code runs new code;
- Prefect's settings are read again only when the environment states them differently from the
  forkserver's, and no serialized context of the runner is passed (it holds those same settings);
- Prefect's API clients share one verified SSL context per CA bundle (`share_prefect_ssl_contexts`);
- the flow and deployment its events name come from the runner, which reads them once a minute
  (`seed_related_resources`, `starter.RelatedObjects`), instead of two API reads in every process;
- the process ends as an interpreter does (threading's exit hooks, then `atexit`), which a forked
  child otherwise skips.

This module is preloaded by the forkserver, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import ssl
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.flows import Flow

# Exit code of a warm-up child whose forkserver lacks some of the modules it was asked to preload.
PRELOAD_INCOMPLETE = 3
# Read once by `configure_from_env`: they must reach the child only through its startup.
CONTROL_ENV_KEYS = frozenset({"PREFECT__CONTROL_PORT", "PREFECT__CONTROL_TOKEN"})


def run_flow_process(
    flow_run: FlowRun, entrypoint: str, env: Mapping[str, str], related: Mapping[str, Any] | None = None
) -> None:
    """Run one flow run in this (forked) process, as Prefect's `run_flow_in_subprocess` child does."""
    from prefect._internal.control_listener import configure_from_env
    from prefect._internal.metrics import RunMetrics
    from prefect.context import refresh_global_settings_context
    from prefect.engine import handle_engine_signals
    from prefect.flow_engine import run_flow
    from prefect.flows import load_flow_from_entrypoint
    from prefect.logging.loggers import flow_run_logger

    from aikom.orchestration.preload import FORKSERVER_SETTINGS_ENV, VERIFIED_SSL_CONTEXTS

    # The environment the runner computed for this run (as a spawned process would inherit it), not
    # the forkserver's. The control-channel variables first, consumed before anything else runs.
    os.environ.clear()
    os.environ.update({key: value for key, value in env.items() if key in CONTROL_ENV_KEYS})
    configure_from_env()
    os.environ.update({key: value for key, value in env.items() if key not in CONTROL_ENV_KEYS})
    # Prefect read its settings when the forkserver imported it; read them again only if this
    # environment sets them differently (reading them costs more than the rest of the start).
    if settings_env(os.environ) != FORKSERVER_SETTINGS_ENV:
        refresh_global_settings_context()
    share_prefect_ssl_contexts(VERIFIED_SSL_CONTEXTS)
    seed_related_resources(related or {})
    wait_for_api(
        os.environ.get("PREFECT_API_URL", ""), verify=next(iter(VERIFIED_SSL_CONTEXTS.values()), True)
    )
    try:
        with handle_engine_signals(flow_run.id):
            try:
                flow: Flow[..., Any] = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
            except Exception:
                flow_run_logger(flow_run=flow_run).error(
                    "Unexpected exception encountered when trying to load flow", exc_info=True
                )
                raise
            with RunMetrics(flow_run, flow):
                result = run_flow(flow, flow_run=flow_run)
                if asyncio.iscoroutine(result):
                    asyncio.run(result)
    finally:
        _exit_like_an_interpreter()


API_WAIT_SECONDS = 120.0


def wait_for_api(
    api_url: str, timeout: float = API_WAIT_SECONDS, *, verify: ssl.SSLContext | bool = True
) -> bool:
    """Wait (up to `timeout`) until the Prefect API answers: a run picked up just before its server
    restarted starts once the server is back, instead of failing at Prefect's first API check (which
    does not retry). Whether it answered.

    `verify`: the preloaded verified SSL context; a client building its own loads the CA bundle again
    (tens of milliseconds on the way to the run's first state change)."""
    import time

    import httpx

    if not api_url:
        return False
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        try:
            if httpx.get(api_url.rstrip("/") + "/health", timeout=2.0, verify=verify).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return False
        if not warned:
            logging.getLogger(__name__).warning(
                "Prefect API %s unreachable; the flow run waits for it", api_url
            )
            warned = True
        time.sleep(0.5)


def share_prefect_ssl_contexts(built: dict[str, ssl.SSLContext] | None = None) -> None:
    """Give Prefect one verified SSL context per CA bundle in this process.

    Prefect builds a context from the CA bundle for every API client and events connection it opens
    (five in a trivial flow run, ~30 ms of CPU each: half the CPU of such a run) and never changes it
    afterwards (tests/orchestration/test_prefect_internals.py checks each place). Other code keeps
    `ssl.create_default_context` as it is.
    """
    contexts = dict(built or {})
    create = ssl.create_default_context
    if getattr(create, "_aikom_shared", False):
        return

    def create_default_context(
        purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
        *,
        cafile: str | None = None,
        capath: str | None = None,
        cadata: str | bytes | None = None,
    ) -> ssl.SSLContext:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if (
            cafile is None
            or capath
            or cadata
            or purpose != ssl.Purpose.SERVER_AUTH
            or not caller.startswith("prefect.")
        ):
            return create(purpose, cafile=cafile, capath=capath, cadata=cadata)
        if cafile not in contexts:
            contexts[cafile] = create(purpose, cafile=cafile)
        return contexts[cafile]

    create_default_context._aikom_shared = True  # type: ignore[attr-defined]
    ssl.create_default_context = create_default_context  # type: ignore[assignment]


def seed_related_resources(objects: Mapping[str, Any]) -> None:
    """Put the objects the runner read for this run ("flow.<id>", "deployment.<id>") where Prefect's
    events worker looks before reading them from the API (`prefect.events.related.RESOURCE_CACHE`,
    in the form `_get_and_cache_related_object` stores; tests/orchestration/test_prefect_internals.py)."""
    from prefect.events.related import RESOURCE_CACHE
    from prefect.types._datetime import now

    for key, obj in objects.items():
        # The stamp Prefect gives an entry (its cache annotation names an older datetime type).
        entry: Any = ({"kind": key.partition(".")[0], "object": obj}, now("UTC"))
        RESOURCE_CACHE[key] = entry


def settings_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of `env` that Prefect reads as settings (`PREFECT__*` ones are per-run data)."""
    return {key: value for key, value in env.items() if key.startswith("PREFECT_") and key[7:8] != "_"}


def _exit_like_an_interpreter() -> None:
    """What interpreter shutdown does and a forked child's `os._exit` skips: threading's exit hooks
    (Prefect drains its log and event workers there), then the `atexit` functions."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def check_preloaded(modules: Sequence[str]) -> None:
    """Warm-up child: exit PRELOAD_INCOMPLETE when the forkserver failed to import any of `modules`."""
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        logging.getLogger(__name__).error("the forkserver did not preload %s", missing)
        sys.exit(PRELOAD_INCOMPLETE)
