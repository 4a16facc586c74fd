"""Benchmark: a human decision → the process's next step done, beside Prefect's bare suspend/resume,
on the project's runner (flow runs forked from a preloaded forkserver) and on Prefect's default one.

Starts its own Prefect server on a fresh database of a PostgreSQL server (AIKOM_TEST_SERVER_URL, else
127.0.0.1:5432, else the embedded one), then, one runner after the other on that server:

1. the project's runner (`--starter forkserver`, the one `aikom up` starts):
   (a) approval: suspend N demo-approval runs; for each, decide (row lock, КЕП signature verified and
       stored, audit entry, commit) → resume → the flow re-runs, skips its cached steps, re-reads the
       decision from the database and finishes the process (`process.finished_at`: "next step done");
   (b) bare: N suspend-probe runs resumed with input (Prefect's own suspend/resume, one more step);
   throughput: trivial flow runs (start-probe) started and finished per second, 5 at a time;
2. a plain Prefect runner with the default starter (a fresh Python process per run, same 0.25 s poll):
   (c) the same bare suspend/resume; the same throughput.

Prints p50/p95 of each, the ratios a/c and b/c, runs/s of both, the Prefect server's CPU share, and the
memory of each runner with its forkserver and flow processes as PSS (RSS counts forked pages twice).
Usage: python bench/approval.py [--runs 20] [--throughput-runs 50] [--concurrency 5]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aikom.core import pki
from aikom.core.actor import Actor
from aikom.core.kep import TrustList
from aikom.db import ensure_database, scratch_server_url, unit_of_work
from aikom.migrate import upgrade_database
from aikom.models import Account, Decision, OrgLevel, OrgUnit, Person, PersonRole, PersonState
from aikom.orchestration import adapter
from aikom.orchestration.runner import POLL_SECONDS, RunnerProcess, Starter, start_runner
from aikom.orchestration.server import PrefectServer, asyncpg_url, start_server
from aikom.services import approvals, processes
from aikom.services.persons import set_rnokpp
from aikom.services.reconcile import WakeResult, launch_process, wake_for_task
from aikom.settings import Settings

PAUSED = [adapter.RunStateType.PAUSED]
# How often the benchmark looks. The figures are the database's and Prefect's own timestamps, so looking
# more often makes them no more exact; it only takes CPU from what is measured (each API call here
# opens a client of its own).
POLL_DB_SECONDS = 0.05
POLL_API_SECONDS = 0.25


def _server_url(tmp: Path) -> str:
    return scratch_server_url(tmp)


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

    def p(self, q: float) -> float:
        return _percentile(self.values, q)

    def line(self) -> str:
        v = self.values
        return (
            f"{self.name:<58} n={len(v):<3} p50={self.p(0.5):6.2f} s  p95={self.p(0.95):6.2f} s"
            f"  min={min(v):5.2f}  max={max(v):5.2f}  mean={statistics.fmean(v):5.2f}"
        )


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def pss_parts(pid: int) -> tuple[float, float, int]:
    """PSS of a process and all its descendants (forked pages counted once), in MB; of the process
    itself alone; how many descendants."""
    total = own = 0
    processes = _tree(pid)
    for process in processes:
        try:
            pss = process.memory_full_info().pss
        except psutil.Error:
            continue
        total += pss
        if process.pid == pid:
            own = pss
    return total / 2**20, own / 2**20, len(processes) - 1


def pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants (forked pages counted once), in MB."""
    return pss_parts(pid)[0]


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants."""
    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class CpuShare:
    """The Prefect server's share of the machine over a stretch of the benchmark."""

    pid: int
    cpu0: float = 0.0
    wall0: float = 0.0

    def __post_init__(self) -> None:
        self.cpu0, self.wall0 = cpu_seconds(self.pid), time.monotonic()

    def line(self, label: str) -> str:
        cpu, wall = cpu_seconds(self.pid) - self.cpu0, time.monotonic() - self.wall0
        cores = os.cpu_count() or 1
        return (
            f"Prefect server CPU ({label}): {cpu:.1f} CPU-s in {wall:.1f} s = {cpu / wall:.2f} cores, "
            f"{100 * cpu / (wall * cores):.0f}% of the machine's {cores}"
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


@dataclass
class Bench:
    """What every part of the benchmark needs."""

    db_url: str
    api: str
    requester: int
    approver: int
    rayon: int
    holder: pki.IssuedPerson
    trust: TrustList

    def suspended_probes(self, runs: int) -> list[str]:
        """`runs` suspend-probe runs, each waiting for its input."""
        probes = [
            adapter.start_run("suspend-probe/aikom", {"label": f"p{i}"}, api_url=self.api)
            for i in range(runs)
        ]
        for run_id in probes:
            adapter.wait_for_run(run_id, states=PAUSED, timeout=300, api_url=self.api)
        return probes

    def suspended_approvals(self, runs: int) -> list[tuple[int, str, int]]:
        """`runs` demo-approval processes, each waiting in its approval step: (process, run, task)."""
        started = []
        for _ in range(runs):
            with unit_of_work(self.db_url) as s:
                requester = s.get_one(Person, self.requester)
                process_id = processes.create_process(
                    session=s,
                    type="demo-approval",
                    actor=Actor(person_id=requester.id, label=requester.full_name),
                    subject_org_unit_id=self.rayon,
                ).id
            started.append((process_id, launch_process(process_id, db_url=self.db_url, api_url=self.api)))
        waiting = []
        for process_id, run_id in started:
            adapter.wait_for_run(run_id, states=PAUSED, timeout=300, api_url=self.api)
            with unit_of_work(self.db_url) as s:
                task_id = processes.show_process(session=s, process_id=process_id).steps[0].task_id
            waiting.append((process_id, run_id, task_id))
        return waiting

    def decide(self, process_id: int, run_id: str, task_id: int, done: Series, call: Series) -> None:
        """A decision, the way `aikom tasks decide` makes it; until the process's next step is done."""
        t0 = datetime.now(UTC)
        m0 = time.monotonic()
        with unit_of_work(self.db_url) as s:
            actor = s.get_one(Person, self.approver)
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
                    signature=pki.sign_detached(self.holder.key, self.holder.certificate, document),
                ),
                trust=self.trust,
            )
        assert wake_for_task(task_id, db_url=self.db_url, api_url=self.api) == WakeResult.RESUMED
        call.values.append(time.monotonic() - m0)
        while True:
            with unit_of_work(self.db_url) as s:
                finished = processes.get_process(session=s, process_id=process_id).finished_at
            if finished is not None:
                break
            assert time.monotonic() - m0 < 120, f"process {process_id} not finished"
            time.sleep(POLL_DB_SECONDS)  # the figure is the database's own timestamp: polling adds no error
        done.values.append((finished - t0).total_seconds())
        assert adapter.wait_for_run(run_id, timeout=120, api_url=self.api).state_type == "COMPLETED"

    def resume(self, run_id: str, series: Series) -> None:
        """The bare engine: resume with input; until the run has completed."""
        t0 = datetime.now(UTC)
        assert adapter.resume_run(run_id, {"note": "go"}, api_url=self.api) == adapter.ResumeResult.RESUMED
        info = adapter.wait_for_run(run_id, timeout=120, poll_seconds=POLL_API_SECONDS, api_url=self.api)
        assert info.state_type == "COMPLETED" and info.end_time is not None
        series.values.append((info.end_time - t0).total_seconds())

    def throughput(self, runs: int, concurrency: int, sample: Callable[[], None]) -> float:
        """Trivial flow runs started and finished per second, `concurrency` at a time (by Prefect's clock)."""
        pending: set[str] = set()
        every: list[str] = []
        finished = 0
        t0 = datetime.now(UTC)
        while finished < runs:
            while len(pending) < concurrency and len(every) < runs:
                run_id = adapter.start_run("start-probe/aikom", {"n": len(every)}, api_url=self.api)
                pending.add(run_id)
                every.append(run_id)
            time.sleep(POLL_API_SECONDS)
            done = adapter.find_runs(
                flow_run_ids=sorted(pending), states=list(adapter.FINISHED_STATES), api_url=self.api
            )
            for run in done:
                assert run.state_type == "COMPLETED", run
                pending.discard(run.id)
                finished += 1
            sample()
        ended = [run.end_time for run in adapter.find_runs(flow_run_ids=every, api_url=self.api)]
        last = max(end for end in ended if end is not None)
        return runs / (last - t0).total_seconds()


@dataclass
class Memory:
    """PSS of a runner's process tree: idle, and the most seen while it worked."""

    pid: int
    idle: float = 0.0
    peak: float = 0.0
    # At the peak: the runner process's own PSS, and how many processes it had below it.
    peak_runner: float = 0.0
    peak_processes: int = 0

    def sample(self) -> None:
        total, own, processes = pss_parts(self.pid)
        if total > self.peak:
            self.peak, self.peak_runner, self.peak_processes = total, own, processes


def _runner(settings: Settings, starter: Starter) -> RunnerProcess:
    """A runner of this kind, serving (the deployments may look served already: another one just did)."""
    log_path = settings.data_dir / "logs" / "runner.log"
    served_before = log_path.read_text().count("serving ") if log_path.exists() else 0
    runner = start_runner(settings, with_schedules=False, with_probes=True, starter=starter)
    while log_path.read_text().count("serving ") <= served_before:
        assert runner.running(), log_path.read_text()
        time.sleep(0.2)
    time.sleep(5)  # the forkserver preloads beside the runner's start: let both settle before measuring
    return runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--throughput-runs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aikom-bench-"))
    server_url = make_url(_server_url(tmp))
    suffix = uuid.uuid4().hex[:8]
    db_url = server_url.set(database=f"aikom_bench_{suffix}").render_as_string(hide_password=False)
    prefect_sync = server_url.set(database=f"prefect_bench_{suffix}").render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=db_url), db_url)
    ensure_database(prefect_sync)
    settings = Settings(
        data_dir=tmp, database_url=db_url, prefect_api_url=f"http://127.0.0.1:{_free_port()}/api"
    )
    requester, approver, rayon = _people(db_url)
    holder, trust = _approver_key(tmp)

    approval_done = Series("(a) approval: decision → next step done [project runner]")
    decide_call = Series("    approval: decide + commit + resume call")
    bare_project = Series("(b) bare suspend/resume: resume → completed [project runner]")
    bare_default = Series("(c) bare suspend/resume: resume → completed [default starter]")
    server: PrefectServer | None = None
    lines: list[str] = []
    try:
        server = start_server(settings, db_url=asyncpg_url(prefect_sync), ui=False)
        bench = Bench(db_url, settings.prefect_api_url, requester, approver, rayon, holder, trust)

        # 1. The project's runner.
        runner = _runner(settings, Starter.FORKSERVER)
        project_memory = Memory(runner.pid, idle=pss_mb(runner.pid))
        print(f"project runner up; suspending {args.runs} approvals + {args.runs} probes …", flush=True)
        waiting = bench.suspended_approvals(args.runs)
        probes = bench.suspended_probes(args.runs)
        print("all suspended; waking them one at a time …", flush=True)
        share = CpuShare(server.pid)
        for (process_id, run_id, task_id), probe_id in zip(waiting, probes, strict=True):
            bench.decide(process_id, run_id, task_id, approval_done, decide_call)
            bench.resume(probe_id, bare_project)
            project_memory.sample()
        lines.append(share.line("project runner, decisions and resumes"))
        print(f"throughput: {args.throughput_runs} runs, {args.concurrency} at a time …", flush=True)
        share = CpuShare(server.pid)
        project_rate = bench.throughput(args.throughput_runs, args.concurrency, project_memory.sample)
        lines.append(share.line("project runner, throughput"))
        runner.stop()

        # 2. A plain Prefect runner with the default starter.
        runner = _runner(settings, Starter.DEFAULT)
        default_memory = Memory(runner.pid, idle=pss_mb(runner.pid))
        print(f"default runner up; suspending {args.runs} probes …", flush=True)
        probes = bench.suspended_probes(args.runs)
        share = CpuShare(server.pid)
        for probe_id in probes:
            bench.resume(probe_id, bare_default)
            default_memory.sample()
        lines.append(share.line("default starter, resumes"))
        print(f"throughput: {args.throughput_runs} runs, {args.concurrency} at a time …", flush=True)
        share = CpuShare(server.pid)
        default_rate = bench.throughput(args.throughput_runs, args.concurrency, default_memory.sample)
        lines.append(share.line("default starter, throughput"))
        runner.stop()
    finally:
        if server is not None:
            server.stop()
        admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (f"aikom_bench_{suffix}", f"prefect_bench_{suffix}"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    print()
    for series in (approval_done, decide_call, bare_project, bare_default):
        print(series.line())
    ratio_a = approval_done.p(0.5) / bare_default.p(0.5)
    ratio_b = bare_project.p(0.5) / bare_default.p(0.5)
    print(
        f"\nratios at p50: a/c ×{ratio_a:.2f}, b/c ×{ratio_b:.2f}"
        f"   (p95: a/c ×{approval_done.p(0.95) / bare_default.p(0.95):.2f},"
        f" b/c ×{bare_project.p(0.95) / bare_default.p(0.95):.2f})"
    )
    print(
        f"throughput ({args.throughput_runs} trivial runs, {args.concurrency} at a time): "
        f"project {project_rate:.2f} runs/s, default {default_rate:.2f} runs/s,"
        f" ×{project_rate / default_rate:.1f}"
    )
    for line in lines:
        print(line)
    print(
        "memory (PSS of the runner + forkserver + flow processes):"
        f" project idle {project_memory.idle:.0f} MB,"
        f" peak {project_memory.peak:.0f} MB; default idle {default_memory.idle:.0f} MB,"
        f" peak {default_memory.peak:.0f} MB\n"
        f"  at the project's peak: the runner itself {project_memory.peak_runner:.0f} MB, "
        f"{project_memory.peak_processes} processes below it; at the default's: the runner itself "
        f"{default_memory.peak_runner:.0f} MB, {default_memory.peak_processes} below it"
    )
    # What the fast start adds to a bare runner at its worst moment: forkserver, its flow processes.
    extra = project_memory.peak - default_memory.idle
    cores = os.cpu_count() or 1
    print(f"({cores} CPUs, runner poll {POLL_SECONDS} s, Python {sys.version.split()[0]})")
    print(
        f"RESULT p50_s={approval_done.p(0.5):.2f} p95_s={approval_done.p(0.95):.2f} ratio_plain={ratio_a:.2f}"
        f" runs_per_s={project_rate:.2f} runs_ratio={project_rate / default_rate:.1f} pss_mb={extra:.0f}"
        f" cores={cores}"
    )


if __name__ == "__main__":
    main()
