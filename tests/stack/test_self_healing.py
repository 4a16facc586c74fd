"""The running stack heals itself, as `aikom up` runs it (embedded PostgreSQL, Prefect server and runner
with the reconciler on its schedule, SMTP sink, dashboard), with no manual command: the reconciler runs
every minute; a decision taken while the Prefect server is down moves its process on once the server is
back; an overdue step expires; PostgreSQL restarted under a waiting process and unsent mail loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aikom.settings import Settings
from aikom.stack.components import embedded_postgres_running
from aikom.stack.harness import System

pytestmark = pytest.mark.slow

SLOW = 300.0  # generous: the reconciler is scheduled every 60 s and the machine may be loaded


def _status(system: System) -> dict[str, Any]:
    report: dict[str, Any] = system.aikom("status", check=False)
    return report


def _start_demo(system: System, requester: str = "hromada-admin-1", due_in_seconds: int | None = None) -> int:
    person = system.persons[requester]
    args = ["process", "start", "demo-approval", "--as", str(person["person_id"]), "--org"]
    args.append(str(person["org_unit_id"]))
    if due_in_seconds:
        args += ["--due-in-seconds", str(due_in_seconds)]
    started = system.aikom(*args)
    return int(started["process_id"])


def _process(system: System, process_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = system.aikom("process", "show", str(process_id))
    return shown


def _waiting_task(system: System, process_id: int) -> int:
    """Wait until the process waits in its approval step; that step's task."""

    def waiting() -> int | None:
        view = _process(system, process_id)
        open_steps = [s for s in view["steps"] if s["state"] == "open"]
        return int(open_steps[0]["task_id"]) if view["state"] == "waiting" and open_steps else None

    task_id: int = system.wait_until(waiting, f"process {process_id} waits for a decision", timeout=SLOW)
    return task_id


def _finished(system: System, process_id: int, state: str) -> dict[str, Any]:
    view: dict[str, Any] = system.wait_until(
        lambda: (v := _process(system, process_id))["state"] == state and v,
        f"process {process_id} {state}",
        timeout=SLOW,
    )
    return view


def _decide(system: System, task_id: int, decider: str) -> dict[str, Any]:
    decided: dict[str, Any] = system.aikom(
        "tasks", "decide", str(task_id), "--as", str(system.person_id(decider)),
        "--decision", "approve", "--demo-sign",
    )  # fmt: skip
    return decided


def test_the_reconciler_runs_every_minute_on_its_own(system: System) -> None:
    status = system.wait_until(
        lambda: (s := _status(system))["components"]["reconciler"]["completed_runs"] and s,
        "a scheduled reconcile run completed",
        timeout=SLOW,
    )
    reconciler = status["components"]["reconciler"]
    assert reconciler["ok"] and reconciler["failed_runs"] == 0, reconciler
    assert status["ok"], status
    for name, component in status["components"].items():
        assert component.get("errors", {}).get("count", 0) == 0, (name, component)


# What a flow run in flight says when its Prefect server is killed under it (the test does it on purpose).
SERVER_KILLED = r"Failed to reach API|Connection refused|ConnectError|Process exited with status code: 1"


def test_a_decision_taken_while_prefect_is_down_moves_the_process_on(
    system: System, expect_stack_errors: Callable[[str], None]
) -> None:
    expect_stack_errors(SERVER_KILLED)
    process_id = _start_demo(system)
    task_id = _waiting_task(system, process_id)
    restarts_before = _status(system)["components"]["prefect_server"]["restarts"]
    with system.supervisor_paused():  # nothing brings the server back while the decision is taken
        server = system.prefect_server()
        server.terminate()
        system.wait_until(
            lambda: server.status() == "zombie" or not server.is_running(), "server gone", 60, 0.2
        )
        decided = _decide(system, task_id, "hromada-admin-2")
        assert decided["resume"] == "unavailable", decided  # committed, but nobody could be woken
    # `aikom up` starts the server again; the scheduled reconciler wakes the run.
    view = _finished(system, process_id, "completed")
    assert [s["decision"] for s in view["steps"]] == ["approve"]
    status = system.wait_until(lambda: (s := _status(system))["ok"] and s, "every component ok again", SLOW)
    assert status["components"]["prefect_server"]["restarts"] == restarts_before + 1


def test_an_overdue_step_expires_on_its_own(system: System) -> None:
    process_id = _start_demo(system, due_in_seconds=20)
    _waiting_task(system, process_id)
    view = _finished(system, process_id, "expired")
    assert [s["state"] for s in view["steps"]] == ["expired"]


# What components say while their database is down: errors, rightly, but expected in this drill.
DATABASE_DOWN = (
    r"CannotConnectNowError|ConnectionDoesNotExistError|ConnectionRefusedError|the database system is"
    r"|OperationalError|InterfaceError|connection (is bad|was closed|refused)|s\.PGSQL"
    r"|FileNotFoundError"  # asyncpg, when the server's socket file is gone
    # The restart ends the server's open connections under a request in flight (asyncpg's
    # AdminShutdownError, surfacing as the socket's reset): timing decides whether one is caught mid-use.
    r"|AdminShutdownError|terminating connection due to administrator command|ConnectionResetError"
    r"|500 Internal Server Error"  # the Prefect server, while its database is down
    # …and the records that precede such a traceback, when the guard reads them before it is written:
    # uvicorn's for a request, and the Prefect server's background task runner's (docket: "↩" marks a
    # task run that ended, here with the database's error).
    r"|Exception in ASGI application|docket\.dependencies - ↩"
)


def test_postgresql_restarted_under_a_waiting_process_and_unsent_mail_loses_nothing(
    system: System, expect_stack_errors: Callable[[str], None]
) -> None:
    expect_stack_errors(DATABASE_DOWN)
    first = _start_demo(system)
    first_task = _waiting_task(system, first)
    restarts_before = _status(system)["components"]["postgresql"]["restarts"]
    with system.supervisor_paused():  # the outbox deliverer is frozen too: new mail stays unsent
        second = _start_demo(system, requester="hromada-admin-2")
        _waiting_task(system, second)
        pending = system.aikom("mail", "outbox")["counts"]["pending"]
        assert pending > 0  # the approval emails of the second process wait in the outbox
        system.run("db", "stop")
    # `aikom up` starts PostgreSQL again (watched without a command: any `aikom` command would start the
    # embedded server itself); then every component carries on by itself.
    settings = Settings(data_dir=system.data_dir)
    system.wait_until(lambda: embedded_postgres_running(settings), "PostgreSQL started again", SLOW, 0.5)
    status = system.wait_until(lambda: (s := _status(system))["ok"] and s, "every component ok again", SLOW)
    assert status["components"]["postgresql"]["restarts"] == restarts_before + 1
    _decide(system, first_task, "hromada-admin-2")
    assert _finished(system, first, "completed")["steps"][0]["decision"] == "approve"
    outbox = system.wait_until(
        lambda: (o := system.aikom("mail", "outbox", "--limit", "1000"))["counts"]["pending"] == 0 and o,
        "the outbox delivered everything",
        timeout=SLOW,
    )
    assert outbox["counts"]["failed"] == 0
    received = [m["message_id"] for m in system.aikom("mail", "list")]
    assert sorted(set(received)) == sorted(received)  # nobody got a message twice
    assert {m["message_id"] for m in outbox["messages"]} <= set(received)  # and every message arrived
    assert not (system.data_dir / "mailbox" / "duplicates.log").exists()  # nothing was even sent twice
