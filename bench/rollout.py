"""Benchmark: the national rollout of every school in the register through Prefect, then the outbox
delivered to an SMTP sink running in its own process.

On a fresh database holding the imported registers (КАТОТТГ + ЄДЕБО from ../shared/data) and no accounts:
1. `rollout_s`: from the КЕП-signed decision that approves a rollout of every school of the country to the
   last account, key and queued email committed (the database's own timestamps: the decision's and the
   last rollout item's), on a real Prefect server and the project's runner; the peak RSS of the runner
   with its forkserver and flow processes is sampled meanwhile;
2. `delivery_per_s`: every queued base-key email sent over SMTP to `aikom.mail.sink` in a process of its
   own, by the deliverer `aikom up` runs (batches of 50 per transaction);
3. the branch-linking counts on the 400-row sample (`edebo-zzso-sample.csv`) imported beside the register.
Usage: python bench/rollout.py [--batch-size 500]
Last line: RESULT rollout_s=… delivery_per_s=… rss_mb=… …
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from aikom.core import pki
from aikom.core.actor import Actor
from aikom.core.kep import TrustList
from aikom.db import ensure_database, scratch_server_url, session_factory, unit_of_work
from aikom.imports import import_registers, register_paths
from aikom.imports.schools import import_schools
from aikom.mail.delivery import deliver_pending_sync
from aikom.migrate import upgrade_database
from aikom.models import (
    Account,
    ApprovalTask,
    Decision,
    EmailMessage,
    EmailState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    RolloutItem,
)
from aikom.orchestration import adapter
from aikom.orchestration.runner import Starter, start_runner
from aikom.orchestration.server import asyncpg_url, start_server
from aikom.processes import get_spec
from aikom.services import approvals
from aikom.services.branch_linking import link_branches
from aikom.services.persons import set_rnokpp
from aikom.services.reconcile import launch_process, wake_for_task
from aikom.settings import Settings

INSTITUTE_EDRPOU = "44404415"
RNOKPP = ("1234567899", "2345678902")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in tree:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def _admins(db_url: str) -> tuple[int, int]:
    """Two institute admins at the national root (the ІОА's ЄДРПОУ), with РНОКПП to sign with."""
    with unit_of_work(db_url) as s:
        national = s.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).one()
        national.edrpou = INSTITUTE_EDRPOU
        account = Account(org_unit_id=national.id)
        s.add(account)
        s.flush()
        ids = []
        for n, rnokpp in enumerate(RNOKPP, start=1):
            person = Person(
                account_id=account.id,
                org_unit_id=national.id,
                role=PersonRole.INSTITUTE_ADMIN,
                state=PersonState.ACTIVE,
                full_name=f"Адміністратор ІОА {n}",
                email=f"ioa{n}@bench.example",
            )
            s.add(person)
            s.flush()
            set_rnokpp(session=s, person=person, rnokpp=rnokpp)
            ids.append(person.id)
        return ids[0], ids[1]


def _sink(mailbox: str, port: int) -> None:
    """The SMTP sink, alone in its process (as a real relay would be)."""
    from aikom.mail.sink import start_sink

    controller = start_sink(Path(mailbox), port=port)
    try:
        while True:
            time.sleep(1)
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aikom-bench-rollout-"))
    server_url = make_url(scratch_server_url(tmp))
    suffix = uuid.uuid4().hex[:8]
    db_url = server_url.set(database=f"aikom_bench_{suffix}").render_as_string(hide_password=False)
    prefect_sync = server_url.set(database=f"prefect_bench_{suffix}").render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=db_url), db_url)
    ensure_database(prefect_sync)
    smtp_port = _free_port()
    settings = Settings(
        data_dir=tmp,
        database_url=db_url,
        prefect_api_url=f"http://127.0.0.1:{_free_port()}/api",
        smtp_port=smtp_port,
        shared_data_dir=SHARED,
    )
    os.environ["AIKOM_DATABASE_URL"] = db_url
    print(f"cores={os.cpu_count()}; importing the registers …", flush=True)
    t0 = time.monotonic()
    with unit_of_work(db_url) as s:
        import_registers(session=s, settings=settings)
    with unit_of_work(db_url) as s:
        schools = s.scalar(select(func.count()).where(OrgUnit.level == OrgLevel.SCHOOL)) or 0
        accounts = s.scalar(select(func.count()).select_from(Account)) or 0
    print(f"imported in {time.monotonic() - t0:.1f} s: {schools} schools, {accounts} accounts", flush=True)
    starter, approver = _admins(db_url)
    pki.init(tmp / "pki")
    holder = pki.issue_person(
        tmp / "pki",
        name="Адміністратор ІОА 2",
        edrpou=INSTITUTE_EDRPOU,
        rnokpp=RNOKPP[1],
        title="Адміністратор",
    )
    trust = TrustList.load(pki.trust_dir(tmp / "pki"))

    server = start_server(settings, db_url=asyncpg_url(prefect_sync), ui=False)
    runner = None
    sink = None
    try:
        runner = start_runner(settings, with_schedules=False, starter=Starter.FORKSERVER)
        log_path = settings.data_dir / "logs" / "runner.log"
        while not log_path.exists() or "serving " not in log_path.read_text():
            time.sleep(0.2)
        time.sleep(3)

        # 1. The rollout: started by one institute admin, approved (signed) by another.
        spec = get_spec("rollout", demo=False)
        with unit_of_work(db_url) as s:
            admin = s.get_one(Person, starter)
            process = spec.start_service()(
                session=s,
                actor=Actor(person_id=admin.id, label=admin.full_name),
                params=spec.parse({"level": "school", "batch_size": args.batch_size}),
            )
            process_id, total = process.id, int(process.parameters["total"])
        run_id = launch_process(process_id, db_url=db_url, api_url=settings.prefect_api_url)
        adapter.wait_for_run(
            run_id, states=[adapter.RunStateType.PAUSED], timeout=300, api_url=settings.prefect_api_url
        )
        with unit_of_work(db_url) as s:
            task = s.scalars(select(ApprovalTask).where(ApprovalTask.process_id == process_id)).one()
            actor = s.get_one(Person, approver)
            document = approvals.decision_document(
                task=task, actor=actor, decision=Decision.APPROVE, comment=None
            )
            approvals.decide(
                session=s,
                task_id=task.id,
                actor=actor,
                decision=Decision.APPROVE,
                signed=approvals.SignedPayload(
                    document=document, signature=pki.sign_detached(holder.key, holder.certificate, document)
                ),
                trust=trust,
            )
            task_id = task.id
        wake_for_task(task_id, db_url=db_url, api_url=settings.prefect_api_url)
        print(f"approved: rolling out {total} schools in batches of {args.batch_size} …", flush=True)
        peak_rss = 0.0
        deadline = time.monotonic() + 1800
        while True:
            peak_rss = max(peak_rss, _rss_mb(runner.pid))
            with unit_of_work(db_url) as s:
                finished = s.get_one(Process, process_id).finished_at
            if finished is not None:
                break
            assert time.monotonic() < deadline, "the rollout did not finish in 30 minutes"
            time.sleep(0.2)
        with unit_of_work(db_url) as s:
            decided_at = s.get_one(ApprovalTask, task_id).decided_at
            last_item = s.scalar(select(func.max(RolloutItem.at)).where(RolloutItem.process_id == process_id))
            state = s.get_one(Process, process_id).state
            handled = s.scalar(select(func.count()).where(RolloutItem.process_id == process_id)) or 0
            queued = s.scalar(select(func.count()).where(EmailMessage.state == EmailState.PENDING)) or 0
            opened = s.scalar(select(func.count()).select_from(Account)) or 0
        assert decided_at is not None and last_item is not None
        rollout_s = (last_item - decided_at).total_seconds()
        print(
            f"rollout {state}: {handled}/{total} schools handled, {opened - 1} accounts opened, "
            f"{queued} emails queued; {rollout_s:.1f} s from the signed decision to the last commit; "
            f"peak RSS {peak_rss:.0f} MB",
            flush=True,
        )

        # 2. Delivery to the sink in its own process.
        sink = multiprocessing.get_context("spawn").Process(
            target=_sink, args=(str(tmp / "mailbox"), smtp_port), daemon=True
        )
        sink.start()
        deadline = time.monotonic() + 60
        while True:  # until the sink accepts connections
            try:
                socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the SMTP sink did not start"
                time.sleep(0.2)
        sessions = session_factory(db_url)
        t1 = datetime.now(UTC)
        m1 = time.monotonic()
        sent = 0
        while True:
            report = deliver_pending_sync(settings, sessions)
            sent += report.sent
            if report.handled == 0:
                break
        delivery_s = time.monotonic() - m1
        delivery_per_s = sent / delivery_s if delivery_s else 0.0
        print(f"delivered {sent} messages in {delivery_s:.1f} s (since {t1:%H:%M:%S})", flush=True)
    finally:
        if sink is not None:
            sink.terminate()
        if runner is not None:
            runner.stop()
        server.stop()

    # 3. Branch linking on the sample, beside the register.
    with unit_of_work(db_url) as s:
        paths = register_paths(settings)
        import_schools(
            session=s,
            path=SHARED / "edebo-zzso-sample.csv",
            codifier_path=paths["codifier"],
            comparison_path=paths["comparison"],
        )
        links = link_branches(session=s)
    print(f"branch linking on the sample: {links.summary_uk()}")

    admin_engine = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        for name in (f"aikom_bench_{suffix}", f"prefect_bench_{suffix}"):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()
    counts = links.to_json()
    print(
        f"RESULT rollout_s={rollout_s:.1f} delivery_per_s={delivery_per_s:.0f} rss_mb={peak_rss:.0f} "
        f"schools={handled} emails={sent} branches_linked={counts.get('linked')} "
        f"branches_queued={counts.get('queued')} branches_no_candidate={counts.get('no_candidate')} "
        f"cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
