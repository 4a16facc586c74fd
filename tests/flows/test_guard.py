"""A refused step is reported by Prefect as a failure; in our logs it is a warning, a fault stays an error."""

from __future__ import annotations

import logging

from aikom.core.errors import NotInScope
from aikom.flows.guard import RefusalIsAWarning, is_refusal


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, message, args, exc_info)


def test_prefect_records_of_a_refusal_become_warnings() -> None:
    refusal = NotInScope("Заклад поза вашою зоною відповідальності.")
    records = [
        _record("Finished in state Failed('Task run encountered an exception NotInScope: Заклад поза…')"),
        _record("Encountered exception during execution: %r", refusal),
        _record("Engine execution exited with unexpected exception", exc=refusal),
    ]
    for record in records:
        assert is_refusal(record)
        assert RefusalIsAWarning().filter(record)
        assert record.levelname == "WARNING" and record.levelno == logging.WARNING


def test_a_fault_stays_an_error() -> None:
    faults = [
        _record("Finished in state Failed('Task run encountered an exception OperationalError: gone')"),
        _record("Encountered exception during execution: %r", KeyError("school_name")),
        _record("Engine execution exited with unexpected exception", exc=RuntimeError("boom")),
    ]
    for record in faults:
        assert not is_refusal(record)
        RefusalIsAWarning().filter(record)
        assert record.levelname == "ERROR"


def test_the_version_check_rides_out_a_prefect_restart_but_not_a_changed_flow() -> None:
    """Reading the deployment's version needs the Prefect API: a refused connection (its server
    restarting) is retried — seen in the soak, a run started just before a restart failed there — while
    a flow changed under the run stops at once."""
    import httpx

    from aikom.tasks.processes import API_RETRIES, FlowChangedUnderTheRun, retry_if_unreachable

    class State:
        def __init__(self, data: BaseException) -> None:
            self.data = data

    assert retry_if_unreachable(None, None, State(httpx.ConnectError("All connection attempts failed")))
    assert not retry_if_unreachable(None, None, State(FlowChangedUnderTheRun("process 1")))
    assert sum(API_RETRIES["retry_delay_seconds"]) >= 60  # a supervised restart takes seconds, not minutes
