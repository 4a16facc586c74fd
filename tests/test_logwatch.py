"""The log watch counts what a person would call one error: a record with its traceback, once."""

from __future__ import annotations

import re
from pathlib import Path

from aikom.logwatch import errors_since

PREFECT_SERVER_LOG = """\
05:10:29.001 | INFO    | prefect.server - started
05:11:29.512 | ERROR   | prefect.server.services.scheduler - Unexpected error in: schedule_deployments
Traceback (most recent call last):
  File "/x/prefect/server/models/deployments.py", line 880, in _insert_scheduled_flow_runs
    await session.execute(insert)
sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a bulk_dml function
05:11:30.000 | INFO    | prefect.server - fine again
"""

RUNNER_LOG = """\
2026-11-30 05:09:51,310 prefect.FlowRunCancellingObserver WARNING The websocket failed. Polling now.
Traceback (most recent call last):
  File "/x/prefect/_internal/observers.py", line 250, in _consume_events
ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 60125)
2026-11-30 05:09:53,536 prefect.FlowRunCancellingObserver ERROR Cancellation polling task failed.
Traceback (most recent call last):
  File "/x/prefect/utilities/services.py", line 64, in critical_service_loop
    await workload()

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/y.py", line 1, in z
prefect.exceptions.PrefectHTTPStatusError: Client error '422 Unprocessable Entity'
2026-11-30 05:09:54,000 aikom.runner INFO serving
Exception in thread aikom-runner:
Traceback (most recent call last):
  File "/x/aikom/flows/approval.py", line 92, in request_approval
KeyError: 'school_name'
"""


def test_a_record_and_its_traceback_count_once_with_the_exception_as_message(tmp_path: Path) -> None:
    log = tmp_path / "prefect-server.log"
    log.write_text(PREFECT_SERVER_LOG)
    found = errors_since(log)
    assert found.count == 1
    assert found.last is not None and found.last.startswith(
        "sqlalchemy.exc.InvalidRequestError: Can't evaluate"
    )


def test_a_warning_with_a_traceback_is_not_an_error_but_a_bare_traceback_is(tmp_path: Path) -> None:
    log = tmp_path / "runner.log"
    log.write_text(RUNNER_LOG)
    found = errors_since(log)
    assert [e.message for e in found.errors] == [
        "prefect.exceptions.PrefectHTTPStatusError: Client error '422 Unprocessable Entity'",
        "KeyError: 'school_name'",
    ]


def test_only_what_was_logged_after_the_offset_counts(tmp_path: Path) -> None:
    log = tmp_path / "prefect-server.log"
    log.write_text(PREFECT_SERVER_LOG)
    before = log.stat().st_size
    assert errors_since(log, before).count == 0
    with log.open("a") as handle:
        handle.write("05:12:00.000 | CRITICAL | prefect.server - database gone\n")
    later = errors_since(log, before)
    assert later.count == 1 and later.last == "05:12:00.000 | CRITICAL | prefect.server - database gone"
    assert errors_since(tmp_path / "missing.log").count == 0


def test_expected_patterns_leave_only_the_unexpected(tmp_path: Path) -> None:
    log = tmp_path / "runner.log"
    log.write_text(RUNNER_LOG)
    left = errors_since(log).unexpected([re.compile(r"KeyError")])
    assert [e.exception for e in left] == [
        "prefect.exceptions.PrefectHTTPStatusError: Client error '422 Unprocessable Entity'"
    ]
