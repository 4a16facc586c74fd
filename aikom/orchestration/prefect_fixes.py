"""Fixes for Prefect 3.8.8 defects that make a healthy runner log errors. Applied in the runner process.

1. `FlowRunCancellingObserver` / `FlowRunSuspendingObserver` fall back to polling when their events
   websocket drops (every Prefect server restart). When the runner then stops, the polling task is
   cancelled and its done-callback calls `task.exception()` on a cancelled task, which raises
   `CancelledError` inside the callback: asyncio logs "ERROR Exception in callback … _handle_polling_
   task_done" on every orderly stop after a server restart. The fix: a cancelled polling task is a
   normal end of polling.
2. In polling mode, three failed polls in a row (a Prefect server restart of a few seconds, at one
   poll per second) end the polling loop for good: the runner logs "Cancellation polling task failed …
   flow run cancellation will fail" and never notices a cancellation again. The fix: a poll that cannot
   reach the server is not a failure — it is skipped (one warning per outage) and the next poll tries
   again.
3. A flow process whose Prefect server restarts under it logs "ERROR … Service 'EventsWorker' failed to
   process item Event(… heartbeat …)": a telemetry event that could not be sent while the server was
   away (Prefect logs no cause unless in debug). It is logged as a WARNING: events are best effort, and
   an outage that lasts shows in the components that need the server.
4. A synchronous flow run ends by joining its heartbeat thread, which sleeps in one-second steps: every
   flow process outlives its final state by up to a second (measured: 0.98 s of a trivial run's 1.3 s),
   holding its memory and its place among the processes alive at once. The fix: the synchronous engine
   leaves the thread as the asynchronous one does (Prefect's own `join_on_exit=False`). The thread is a
   daemon that sees the stop at its next step and sends nothing once the run's state is final.

`tests/orchestration/test_prefect_fixes.py` fails loudly if a Prefect upgrade moves what this patches.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PATCHED_FLAG = "_aikom_cancel_safe"


def _cancel_safe(done_callback: Callable[[Any, asyncio.Task[None]], None]) -> Callable[..., None]:
    @functools.wraps(done_callback)
    def handle(self: Any, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return  # polling stopped because the runner stops: nothing failed
        done_callback(self, task)

    setattr(handle, PATCHED_FLAG, True)
    return handle


def _unreachable(error: BaseException) -> bool:
    """Whether `error` only says the Prefect server cannot be reached right now."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(error, httpx.TransportError | OSError):
        return True
    return isinstance(error, PrefectHTTPStatusError) and error.response.status_code >= 500


def _outage_tolerant(poll: Callable[[Any], Any]) -> Callable[..., Any]:
    @functools.wraps(poll)
    async def check(self: Any) -> None:
        try:
            await poll(self)
        except Exception as error:
            if not _unreachable(error):
                raise
            if not getattr(self, "_aikom_outage", False):
                self.logger.warning("Prefect server unreachable (%s); polling again until it answers", error)
            self._aikom_outage = True
            return
        if getattr(self, "_aikom_outage", False):
            self.logger.warning("Prefect server answers again; polling goes on")
        self._aikom_outage = False

    setattr(check, PATCHED_FLAG, True)
    return check


PATCHES: dict[str, dict[str, Callable[[Any], Callable[..., Any]]]] = {
    "FlowRunCancellingObserver": {
        "_handle_polling_task_done": _cancel_safe,
        "_check_for_cancelled_flow_runs": _outage_tolerant,
    },
    "FlowRunSuspendingObserver": {
        "_handle_polling_task_done": _cancel_safe,
        "_check_for_suspended_flow_runs": _outage_tolerant,
    },
}


class LostEventIsAWarning(logging.Filter):
    """Fix 3: an event the EventsWorker could not send is a warning, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Lower the record; keep it."""
        if record.levelno >= logging.ERROR and record.getMessage().startswith(
            "Service 'EventsWorker' failed"
        ):
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


EVENTS_LOGGER = "prefect._internal.concurrency"


def _heartbeats_not_joined(original: Callable[..., Any]) -> Callable[..., Any]:
    """Fix 4: `_send_heartbeats` without waiting for its thread on exit."""

    @functools.wraps(original)
    def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Any:
        return original(engine, join_on_exit=False)

    setattr(send_heartbeats, PATCHED_FLAG, True)
    return send_heartbeats


def apply() -> list[str]:
    """Apply every fix (idempotent); the names of what was patched."""
    from prefect import flow_engine
    from prefect._internal import observers

    events_logger = logging.getLogger(EVENTS_LOGGER)
    if not any(isinstance(f, LostEventIsAWarning) for f in events_logger.filters):
        events_logger.addFilter(LostEventIsAWarning())

    patched = []
    for class_name, methods in PATCHES.items():
        observer = getattr(observers, class_name)
        for method_name, fix in methods.items():
            original = getattr(observer, method_name)
            if not getattr(original, PATCHED_FLAG, False):
                setattr(observer, method_name, fix(original))
            patched.append(f"{class_name}.{method_name}")
    if not getattr(flow_engine._send_heartbeats, PATCHED_FLAG, False):
        flow_engine._send_heartbeats = _heartbeats_not_joined(flow_engine._send_heartbeats)
    patched.append("flow_engine._send_heartbeats")
    return patched
