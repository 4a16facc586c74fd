"""Soak: the whole stack as `aikom up` runs it, under steady use for a while, with a Prefect server restart
in the middle. Does it stay clean (no error logged), keep the reconciler running every minute, lose no
decision and send no email twice?

Starts `aikom up` on a fresh data folder (embedded PostgreSQL, real registers, demo persons), then every
`--interval` seconds: starts a demo-approval process, signs a demo person in with КЕП, and approves (КЕП-
signed) every step the previous rounds opened — as the dashboard does: commit, then wake the run. Half-way
the Prefect server is stopped; `aikom up` starts it again by itself. At the end it waits for every decided
process to finish and reads `aikom status`.

Usage: python bench/soak.py [--minutes 10] [--interval 15] [--keep]
Last line: RESULT minutes=… errors=… reconcile_runs=… lost_decisions=… duplicate_emails=… cores=…
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aikom.stack.harness import System, start_system, stop_system

FINISH_TIMEOUT = 300.0


def _configure(system: System) -> None:
    """Point this process at the running stack (its database, data folder and Prefect API)."""
    url = system.run("db", "url").stdout.strip()
    os.environ.update({k: v for k, v in system.env.items() if k.startswith("AIKOM_")})
    os.environ["AIKOM_DATABASE_URL"] = url
    from aikom.settings import get_settings

    get_settings.cache_clear()


def _start_process(requester_id: int, org_unit_id: int) -> int:
    """A demo request about the requester's unit, started as the dashboard does (commit, then launch)."""
    from aikom import commands

    outcome = commands.start_process(
        process_type="demo-approval",
        params={"org": org_unit_id, "title": "Навантажувальна перевірка"},
        actor=commands.actor_of(requester_id),
    )
    return outcome.process_id


def _decide_open(process_ids: list[int], decider: dict[str, Any]) -> dict[int, int]:
    """Approve (КЕП-signed) every open step of these processes, as the dashboard does (commit, then wake);
    {task id: process id} of those decided."""
    from sqlalchemy import select

    from aikom import commands
    from aikom.db import unit_of_work
    from aikom.demo import persons as demo
    from aikom.models import ApprovalTask, Decision, Person, TaskState
    from aikom.services import approvals
    from aikom.services.approvals import SignedPayload
    from aikom.settings import get_settings

    if not process_ids:
        return {}
    settings = get_settings()
    comment = "Погоджено (навантаження)"
    actor = commands.actor_of(int(decider["person_id"]))
    with unit_of_work() as session:
        open_tasks = session.execute(
            select(ApprovalTask.id, ApprovalTask.process_id).where(
                ApprovalTask.process_id.in_(process_ids), ApprovalTask.state == TaskState.OPEN
            )
        ).all()
    decided: dict[int, int] = {}
    for task_id, process_id in open_tasks:
        with unit_of_work() as session:
            task = approvals.get_task(session=session, task_id=task_id)
            person = session.get_one(Person, int(decider["person_id"]))
            document = approvals.decision_document(
                task=task, actor=person, decision=Decision.APPROVE, comment=comment
            )
        signature = demo.demo_sign(settings, decider["key"], document)
        commands.decide_task(
            task_id=task_id,
            actor=actor,
            decision=Decision.APPROVE,
            comment=comment,
            signed=SignedPayload(document=document, signature=signature),
        )
        decided[task_id] = process_id
    return decided


def _sign_in(person: dict[str, Any]) -> bool:
    from aikom.db import unit_of_work
    from aikom.demo import persons as demo
    from aikom.services import signin
    from aikom.services.trust import current_trust_list
    from aikom.settings import get_settings

    settings = get_settings()
    with unit_of_work() as session:
        challenge = signin.issue_challenge(session=session, settings=settings)
    with unit_of_work() as session:
        result = signin.sign_in(
            session=session,
            settings=settings,
            trust=current_trust_list(settings),
            nonce=challenge.nonce,
            signature=demo.demo_sign(settings, person["key"], challenge.content),
            client_key="bench-soak",
        )
    return bool(result.ok)


def _states(process_ids: list[int]) -> dict[int, str]:
    from aikom.db import unit_of_work
    from aikom.models import Process

    with unit_of_work() as session:
        rows = session.query(Process.id, Process.state).filter(Process.id.in_(process_ids)).all()
    return {pid: str(state) for pid, state in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep the data folder (logs) afterwards")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="aikom-soak-"))
    print(f"cores={os.cpu_count()} data={data_dir}", flush=True)
    started = time.monotonic()
    system = start_system(data_dir)
    print(f"aikom up ready in {time.monotonic() - started:.0f} s", flush=True)
    try:
        result = soak(system, args.minutes, args.interval)
    finally:
        stopped = stop_system(system)
    print(f"stopped in order: {stopped}", flush=True)
    if not args.keep:
        print(f"(logs kept under {data_dir} — remove it when done)")
    line = " ".join(f"{k}={v}" for k, v in result.items())
    print(f"RESULT {line} cores={os.cpu_count()}", flush=True)
    if not stopped:
        sys.exit(1)


def soak(system: System, minutes: float, interval: float) -> dict[str, Any]:
    """Steady use for `minutes`, a Prefect server restart half-way; the figures."""
    _configure(system)
    requesters = [system.persons["hromada-admin-1"], system.persons["hromada-admin-2"]]
    signers = [system.persons[k] for k in ("director", "rayon-admin", "oblast-admin", "ioa-admin-1")]
    started: dict[int, dict[str, Any]] = {}  # process id -> its requester
    decided: dict[int, int] = {}  # task id -> process id
    sign_ins = failed_sign_ins = rounds = 0
    restarted = False
    begin = time.monotonic()
    end = begin + minutes * 60
    while time.monotonic() < end:
        round_start = time.monotonic()
        rounds += 1
        requester = requesters[rounds % 2]
        try:
            started[_start_process(int(requester["person_id"]), int(requester["org_unit_id"]))] = requester
            for other in requesters:  # each approves what the other one started (four-eyes)
                theirs = [pid for pid, who in started.items() if who["key"] != other["key"]]
                decided.update(_decide_open(theirs, other))
            if _sign_in(signers[rounds % len(signers)]):
                sign_ins += 1
            else:
                failed_sign_ins += 1
        except Exception as error:  # keep soaking; a failure shows in the figures
            print(f"round {rounds}: {type(error).__name__}: {error}", flush=True)
        if not restarted and time.monotonic() - begin > minutes * 30:
            print("stopping the Prefect server half-way; aikom up starts it again", flush=True)
            system.prefect_server().terminate()
            restarted = True
        elapsed = time.monotonic() - begin
        if rounds % max(1, int(60 / interval)) == 0:
            print(
                f"{elapsed / 60:5.1f} min: processes={len(started)} decided={len(decided)} "
                f"sign_ins={sign_ins}",
                flush=True,
            )
        time.sleep(max(0.0, interval - (time.monotonic() - round_start)))
    soaked_minutes = (time.monotonic() - begin) / 60
    decided_processes = sorted(set(decided.values()))
    deadline = time.monotonic() + FINISH_TIMEOUT
    while time.monotonic() < deadline:
        states = _states(decided_processes)
        if all(state == "completed" for state in states.values()):
            break
        time.sleep(2)
    states = _states(decided_processes)
    lost = [pid for pid, state in states.items() if state != "completed"]
    status = system.aikom("status", check=False)
    received = [m["message_id"] for m in system.aikom("mail", "list")]
    mailbox = system.data_dir / "mailbox" / "duplicates.log"
    duplicates = (len(received) - len(set(received))) + (
        len(mailbox.read_text().split()) if mailbox.exists() else 0
    )
    for name, component in status["components"].items():
        errors = component.get("errors") or {}
        if errors.get("count"):
            print(f"{name}: {errors['count']} error(s), last: {errors['last']}", flush=True)
    print(
        f"processes={len(started)} decided_processes={len(decided_processes)} sign_ins={sign_ins} "
        f"failed_sign_ins={failed_sign_ins} lost={lost}",
        flush=True,
    )
    return {
        "minutes": round(soaked_minutes, 1),
        "errors": status["errors"],
        "reconcile_runs": status["components"]["reconciler"].get("completed_runs"),
        "lost_decisions": len(lost),
        "duplicate_emails": duplicates,
    }


if __name__ == "__main__":
    main()
