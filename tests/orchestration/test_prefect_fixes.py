"""The Prefect defects `aikom.orchestration.prefect_fixes` mends are still where it mends them; an upgrade
that moves them fails here, loudly, instead of the runner logging errors again."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid

import pytest

from aikom.orchestration import prefect_fixes


@pytest.mark.parametrize("name", ["FlowRunCancellingObserver", "FlowRunSuspendingObserver"])
def test_a_cancelled_polling_task_ends_polling_without_an_error(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect._internal import observers

    assert prefect_fixes.apply() == [
        "FlowRunCancellingObserver._handle_polling_task_done",
        "FlowRunCancellingObserver._check_for_cancelled_flow_runs",
        "FlowRunSuspendingObserver._handle_polling_task_done",
        "FlowRunSuspendingObserver._check_for_suspended_flow_runs",
        "flow_engine._send_heartbeats",
    ]
    observer_class = getattr(observers, name)
    observer = observer_class.__new__(observer_class)  # only the callback is exercised
    observer.logger = logging.getLogger("observer-under-test")
    observer.on_failure = None

    async def cancelled_polling() -> None:
        task = asyncio.create_task(asyncio.sleep(60))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        observer._handle_polling_task_done(task)  # Prefect's own callback raised CancelledError here

    with caplog.at_level(logging.DEBUG):
        asyncio.run(cancelled_polling())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_failed_polling_task_is_still_reported() -> None:
    from prefect._internal import observers

    prefect_fixes.apply()
    failures: list[object] = []
    observer = observers.FlowRunCancellingObserver.__new__(observers.FlowRunCancellingObserver)
    observer.logger = logging.getLogger("observer-under-test")
    observer.on_failure = failures.append
    observer._in_flight_flow_run_ids = set()

    async def failed_polling() -> None:
        async def fail() -> None:
            raise RuntimeError("polling broke")

        task = asyncio.create_task(fail())
        with pytest.raises(RuntimeError):
            await task
        observer._handle_polling_task_done(task)

    asyncio.run(failed_polling())
    assert failures == [set()]


def test_polling_outlives_a_server_outage_and_finds_the_cancellation_after_it() -> None:
    """Prefect's own polling loop, three polls failing (the server restarting), then a cancelled run."""
    import httpx
    from prefect._internal import observers
    from prefect.utilities.services import critical_service_loop

    prefect_fixes.apply()
    cancelled: list[object] = []
    observer = observers.FlowRunCancellingObserver.__new__(observers.FlowRunCancellingObserver)
    observer.logger = logging.getLogger("observer-under-test")
    observer.on_cancelling = cancelled.append
    observer._is_shutting_down = False
    run_id = uuid.uuid4()
    observer._in_flight_flow_run_ids = {run_id}
    observer._cancelling_flow_run_ids = set()
    polls = {"n": 0}

    class Client:
        async def read_flow_runs(self, **kwargs: object) -> list[object]:
            polls["n"] += 1
            if polls["n"] <= 8:  # four polls of two requests each: the server is down
                raise httpx.ConnectError("Connection refused")

            class Run:
                id = run_id

            return [Run()] if polls["n"] == 9 else []

    observer._client = Client()

    async def poll() -> None:
        await critical_service_loop(
            workload=observer._check_for_cancelled_flow_runs, interval=0.01, run_once=False
        )

    async def until_found() -> None:
        task = asyncio.create_task(poll())
        for _ in range(500):
            await asyncio.sleep(0.01)
            if cancelled or task.done():
                break
        assert not task.done(), "the polling loop gave up"
        task.cancel()

    asyncio.run(until_found())
    assert cancelled == [run_id]


def test_an_event_lost_while_the_server_is_away_is_a_warning() -> None:
    prefect_fixes.apply()
    logger = logging.getLogger(prefect_fixes.EVENTS_LOGGER)
    record = logger.makeRecord(
        logger.name,
        logging.ERROR,
        __file__,
        1,
        "Service %r failed to process item %r",
        ("EventsWorker", "Event()"),
        None,
    )
    assert all(f.filter(record) for f in logger.filters if isinstance(f, prefect_fixes.LostEventIsAWarning))
    assert record.levelname == "WARNING"
    other = logger.makeRecord(
        logger.name,
        logging.ERROR,
        __file__,
        1,
        "Service %r failed to process item %r",
        ("APILogWorker", "x"),
        None,
    )
    for log_filter in logger.filters:
        log_filter.filter(other)  # type: ignore[union-attr]
    assert other.levelname == "ERROR"


class _HeartbeatEngine:
    """What `_send_heartbeats` reads of a flow run engine."""

    heartbeat_seconds = 30

    def __init__(self) -> None:
        self.flow_run = None
        self.logger = logging.getLogger("engine-under-test")
        self.sent = 0

    def _build_heartbeat_event_template(self) -> tuple[None, None]:
        return None, None

    def _emit_flow_run_heartbeat(self, resource: object, related: object) -> None:
        self.sent += 1


def test_a_synchronous_flow_run_does_not_wait_for_its_heartbeat_thread_at_its_end() -> None:
    from prefect import flow_engine

    prefect_fixes.apply()
    # Where Prefect 3.8.8 has it: the synchronous engine enters it with the default (joining) exit.
    assert "join_on_exit" in inspect.signature(flow_engine._send_heartbeats).parameters
    assert "with _send_heartbeats(self):" in inspect.getsource(flow_engine.FlowRunEngine.run_context)

    before = set(threading.enumerate())
    engine = _HeartbeatEngine()
    with flow_engine._send_heartbeats(engine):  # type: ignore[arg-type]
        started = set(threading.enumerate()) - before
        assert len(started) == 1  # the heartbeat thread
    (thread,) = started
    # Not joined: the thread is still in its one-second sleep when the run's end goes on …
    assert thread.is_alive() and thread.daemon
    # … and ends by itself at its next step, having sent the first heartbeat only.
    deadline = time.monotonic() + 10
    while thread.is_alive():
        assert time.monotonic() < deadline, "the heartbeat thread never stopped"
        time.sleep(0.05)
    assert engine.sent == 1
