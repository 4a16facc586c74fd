"""Benchmark: a human decision → the process's next step done, beside Prefect's bare suspend/resume.

Starts its own engine (a Prefect server on a fresh database + a runner) against fresh databases on a
PostgreSQL server (AIKOM_TEST_SERVER_URL, else 127.0.0.1:5432, else the embedded one), suspends N
demo-approval runs and N suspend-probe runs, then wakes them one at a time, interleaved:

- approval: decide (row lock, КЕП signature verified and stored, audit entry, commit) → resume → the
  flow re-runs, skips its cached steps, re-reads
  the decision from the database and finishes the process (`process.finished_at`, "next step done");
- probe: resume with input → the flow re-runs, skips its cached step, runs one more step.

Prints p50/p95 of each and their ratio. Usage: python bench/approval.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aikom.core import pki
from aikom.core.kep import TrustList
from aikom.db import ensure_database, start_embedded_postgres, unit_of_work
from aikom.migrate import upgrade_database
from aikom.models import Account, Decision, OrgLevel, OrgUnit, Person, PersonRole, PersonState, ProcessType
from aikom.orchestration import adapter
from aikom.orchestration.engine import running_engine
from aikom.orchestration.server import asyncpg_url
from aikom.services import approvals, processes
from aikom.services.persons import set_rnokpp
from aikom.services.reconcile import WakeResult, launch_process, wake_for_task
from aikom.settings import Settings


def _server_url(tmp: Path) -> str:
    configured = os.environ.get("AIKOM_TEST_SERVER_URL")
    if configured:
        return configured
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return start_embedded_postgres(Settings(data_dir=tmp / "embedded"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Series:
    """Latencies of one kind, in seconds."""

    name: str
    values: list[float] = field(default_factory=list)

    def line(self) -> str:
        v = self.values
        return (
            f"{self.name:<46} n={len(v):<3} p50={_percentile(v, 0.5):6.2f} s"
            f"  p95={_percentile(v, 0.95):6.2f} s"
            f"  min={min(v):5.2f}  max={max(v):5.2f}  mean={statistics.fmean(v):5.2f}"
        )


BENCH_EDRPOU = "38621185"
BENCH_RNOKPP = "1234567899"


def _approver_key(tmp: Path) -> tuple[pki.IssuedPerson, TrustList]:
    """A test PKI and the approver's КЕП (decisions are signed, as in production)."""
    pki.init(tmp / "pki")
    holder = pki.issue_person(
        tmp / "pki", name="Bench oblast_admin", edrpou=BENCH_EDRPOU, rnokpp=BENCH_RNOKPP, title="Адмін"
    )
    return holder, TrustList.load(pki.trust_dir(tmp / "pki"))


def _people(db_url: str) -> tuple[int, int, int]:
    with unit_of_work(db_url) as s:
        national = OrgUnit(level=OrgLevel.NATIONAL, name="Україна (bench)")
        s.add(national)
        s.flush()
        oblast = OrgUnit(
            level=OrgLevel.OBLAST, name="Область (bench)", parent_id=national.id, edrpou=BENCH_EDRPOU
        )
        s.add(oblast)
        s.flush()
        rayon = OrgUnit(level=OrgLevel.RAYON, name="Район (bench)", parent_id=oblast.id, oblast_id=oblast.id)
        s.add(rayon)
        s.flush()
        ids = []
        for unit, role in ((rayon, PersonRole.RAYON_ADMIN), (oblast, PersonRole.OBLAST_ADMIN)):
            account = Account(org_unit_id=unit.id)
            s.add(account)
            s.flush()
            person = Person(
                account_id=account.id,
                org_unit_id=unit.id,
                role=role,
                state=PersonState.ACTIVE,
                full_name=f"Bench {role.value}",
                email=f"{role.value}@bench.example",
            )
            s.add(person)
            s.flush()
            set_rnokpp(session=s, person=person, rnokpp=BENCH_RNOKPP)
            ids.append(person.id)
        return ids[0], ids[1], rayon.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aikom-bench-"))
    server = make_url(_server_url(tmp))
    suffix = uuid.uuid4().hex[:8]
    db_url = server.set(database=f"aikom_bench_{suffix}").render_as_string(hide_password=False)
    prefect_sync = server.set(database=f"prefect_bench_{suffix}").render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=db_url), db_url)
    ensure_database(prefect_sync)
    settings = Settings(
        data_dir=tmp, database_url=db_url, prefect_api_url=f"http://127.0.0.1:{_free_port()}/api"
    )
    requester, approver, rayon = _people(db_url)
    holder, trust = _approver_key(tmp)

    approval_done = Series("approval: decision → next step done")
    approval_run = Series("approval: decision → run completed")
    decide_call = Series("approval: decide + commit + resume call")
    probe_run = Series("bare suspend/resume: resume → run completed")
    resume_call = Series("bare suspend/resume: resume call")
    try:
        t_engine = time.monotonic()
        with running_engine(
            settings, db_url=asyncpg_url(prefect_sync), ui=False, with_schedules=False
        ) as eng:
            api = eng.api_url
            print(
                f"engine up in {time.monotonic() - t_engine:.1f} s; "
                f"suspending {args.runs} + {args.runs} runs …"
            )
            demo: list[tuple[int, str, int]] = []
            for _ in range(args.runs):
                with unit_of_work(db_url) as s:
                    process_id = processes.create_process(
                        session=s,
                        type=ProcessType.SUPPORT_REQUEST,
                        flow="demo-approval",
                        requester=s.get_one(Person, requester),
                        subject_org_unit_id=rayon,
                    ).id
                demo.append((process_id, launch_process(process_id, db_url=db_url, api_url=api), 0))
            probes = [
                adapter.start_run("suspend-probe/aikom", {"label": f"p{i}"}, api_url=api)
                for i in range(args.runs)
            ]
            paused = [adapter.RunStateType.PAUSED]
            for _, run_id, _ in demo:
                adapter.wait_for_run(run_id, states=paused, timeout=300, api_url=api)
            for run_id in probes:
                adapter.wait_for_run(run_id, states=paused, timeout=300, api_url=api)
            with unit_of_work(db_url) as s:
                demo = [
                    (pid, rid, processes.show_process(session=s, process_id=pid).steps[0].task_id)
                    for pid, rid, _ in demo
                ]
            print("all suspended; waking them one at a time …")

            for (process_id, run_id, task_id), probe_id in zip(demo, probes, strict=True):
                # A decision, the way `aikom tasks decide` makes it.
                t0 = datetime.now(UTC)
                m0 = time.monotonic()
                with unit_of_work(db_url) as s:
                    actor = s.get_one(Person, approver)
                    document = approvals.decision_document(
                        task=approvals.get_task(session=s, task_id=task_id),
                        actor=actor,
                        decision=Decision.APPROVE,
                        comment=None,
                    )
                    approvals.decide(
                        session=s,
                        task_id=task_id,
                        actor=actor,
                        decision=Decision.APPROVE,
                        signed=approvals.SignedPayload(
                            document=document,
                            signature=pki.sign_detached(holder.key, holder.certificate, document),
                        ),
                        trust=trust,
                    )
                assert wake_for_task(task_id, db_url=db_url, api_url=api) == WakeResult.RESUMED
                decide_call.values.append(time.monotonic() - m0)
                info = adapter.wait_for_run(run_id, timeout=120, poll_seconds=0.05, api_url=api)
                with unit_of_work(db_url) as s:
                    finished = processes.get_process(session=s, process_id=process_id).finished_at
                assert finished is not None and info.end_time is not None
                approval_done.values.append((finished - t0).total_seconds())
                approval_run.values.append((info.end_time - t0).total_seconds())

                # The bare engine: resume with input, nothing else.
                t0 = datetime.now(UTC)
                m0 = time.monotonic()
                assert (
                    adapter.resume_run(probe_id, {"note": "go"}, api_url=api) == adapter.ResumeResult.RESUMED
                )
                resume_call.values.append(time.monotonic() - m0)
                info = adapter.wait_for_run(probe_id, timeout=120, poll_seconds=0.05, api_url=api)
                assert info.end_time is not None
                probe_run.values.append((info.end_time - t0).total_seconds())
    finally:
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (f"aikom_bench_{suffix}", f"prefect_bench_{suffix}"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    print()
    for series in (approval_done, approval_run, decide_call, probe_run, resume_call):
        print(series.line())
    ratio50 = _percentile(approval_run.values, 0.5) / _percentile(probe_run.values, 0.5)
    ratio95 = _percentile(approval_run.values, 0.95) / _percentile(probe_run.values, 0.95)
    print(f"\nratio approval/bare (run completed): p50 ×{ratio50:.2f}, p95 ×{ratio95:.2f}")
    print(f"({os.cpu_count()} CPUs, runner poll 1 s, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
