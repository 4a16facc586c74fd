"""Benchmark: the support desk — mail intake end to end, and the desk queue's server time.

On a throwaway database (the scratch server; no Prefect needed):
1. `emails_per_s`: 10,000 inbound emails — 70% new requests, 30% replies to earlier ones (threaded by
   In-Reply-To/References on the earlier message and the `[АІКОМ #N]` subject tag), one in ten with a small
   attachment — sent over SMTP (one connection, in a process of its own) to `aikom.mail.sink` (also in a
   process of its own) while this process runs the intake reader the reconciler uses
   (`aikom.mail.support_inbox.fetch`) until every message is committed as a request or a message with
   its audit entries: messages per second from the first send to the last commit;
2. `queue_p95_ms`: the desk queue's first page of 50 with its counts, default filters (every open
   request), with 50,000 requests (seeded with COPY): each of 20 samples on a new connection with
   `DISCARD ALL` (no plan or session caches), timed around `support_queue.queue_page`; the 95th percentile.
Usage: python bench/support.py [--emails 10000] [--requests 50000] [--samples 20]
Last line: RESULT emails_per_s=… queue_p95_ms=… cores=…
"""

from __future__ import annotations

import argparse
import email.policy
import io
import multiprocessing
import os
import random
import smtplib
import socket
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from aikom.core.actor import Actor
from aikom.db import scratch_server_url, unit_of_work
from aikom.mail import support_inbox
from aikom.migrate import upgrade_database
from aikom.models import (
    Account,
    AuditEntry,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    SupportAttachment,
    SupportMessage,
    SupportRequest,
)
from aikom.services import support_queue
from aikom.settings import Settings

SUPPORT = "support.aikom@iea.gov.ua"
PDF = b"%PDF-1.4\n%bench\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sink(mailbox: str, port: int) -> None:
    """The SMTP sink, alone in its process."""
    from aikom.mail.sink import start_sink

    controller = start_sink(Path(mailbox), port=port)
    try:
        while True:
            time.sleep(1)
    finally:
        controller.stop()


def _emails(count: int, seed: int = 11) -> list[bytes]:
    """The inbound mail: new requests, and replies to earlier ones by the same sender (the request numbers
    are known in advance: on a fresh database the n-th new request is #n)."""
    rng = random.Random(seed)
    opened: list[tuple[int, str, str, str]] = []  # (number, sender, message-id, subject)
    out = []
    for i in range(count):
        message = MimeMessage()
        reply = opened and rng.random() < 0.3
        message_id = f"<bench-{i}-{uuid.uuid4().hex[:8]}@school.example>"
        if reply:
            number, sender, parent, subject = rng.choice(opened)
            message["Subject"] = f"Re: [АІКОМ #{number}] {subject}"
            message["In-Reply-To"] = parent
            message["References"] = parent
            body = f"Доповнюю звернення: ще відомості ({i})."
        else:
            sender = f"school{rng.randint(1, 3000)}@school.example"
            subject = rng.choice(
                ["Не можу увійти з КЕП", "Новий заклад: ЄДРПОУ", "Виправити дані закладу", "Доступ до ОІС"]
            )
            message["Subject"] = f"{subject} ({i})"
            opened.append((len(opened) + 1, sender, message_id, f"{subject} ({i})"))
            body = f"Доброго дня! Прошу допомогти. Лист №{i}.\nЗ повагою, директор."
        message["From"] = f"Заявник {i} <{sender}>"
        message["To"] = SUPPORT
        message["Message-ID"] = message_id
        message.set_content(body)
        if rng.random() < 0.1:
            size = rng.randint(2_000, 20_000)
            if rng.random() < 0.5:
                message.add_attachment(
                    PDF + rng.randbytes(size), maintype="application", subtype="pdf", filename=f"scan-{i}.pdf"
                )
            else:
                message.add_attachment(
                    ("рядок даних\n" * (size // 24)).encode(),
                    maintype="text",
                    subtype="plain",
                    filename=f"data-{i}.txt",
                )
        out.append(message.as_bytes(policy=email.policy.SMTP))  # CRLF line ends, as on the wire
    return out


def _sender(port: int, count: int, started: Any, finished: Any) -> None:
    """Send the inbound mail over one SMTP connection; record when the first send began and the last ended."""
    mails = _emails(count)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        started.value = time.time()
        for raw in mails:
            smtp.sendmail("requester@school.example", [SUPPORT], raw)
    finished.value = time.time()


def intake(db_url: str, settings: Settings, emails: int) -> float:
    """(1): messages per second from the first send to the last commit."""
    port = settings.smtp_port
    spawn = multiprocessing.get_context("spawn")
    sink = spawn.Process(target=_sink, args=(str(settings.mailbox_dir), port), daemon=True)
    sink.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the SMTP sink did not start"
                time.sleep(0.2)
        started, finished = spawn.Value("d", 0.0), spawn.Value("d", 0.0)
        sender = spawn.Process(target=_sender, args=(port, emails, started, finished))
        sender.start()
        read = 0
        outcomes: dict[str, int] = {}
        phases: dict[str, float] = {}
        failed = 0
        deadline = time.monotonic() + 1800
        cpu = time.process_time()
        while read + failed < emails:
            report = support_inbox.fetch(db_url=db_url, settings=settings)
            read += report.read
            failed += len(report.failed)
            for key, value in report.outcomes.items():
                outcomes[key] = outcomes.get(key, 0) + value
            if report.read:  # a pass that found nothing is waiting, not working
                for key, seconds in report.seconds.items():
                    phases[key] = phases.get(key, 0.0) + seconds
            if report.read == 0:
                if not sender.is_alive() and sender.exitcode:
                    raise RuntimeError("the sender failed")
                assert time.monotonic() < deadline, "the intake did not finish in 30 minutes"
                time.sleep(0.05)
        last_commit = time.time()
        cpu = time.process_time() - cpu
        sender.join()
    finally:
        sink.terminate()
    elapsed = last_commit - started.value
    with unit_of_work(db_url) as s:
        requests = s.scalar(select(func.count()).select_from(SupportRequest)) or 0
        inbound = s.scalar(select(func.count()).where(SupportMessage.direction == "in")) or 0
        files = s.scalar(select(func.count()).select_from(SupportAttachment)) or 0
        audits = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    print(
        f"intake: {read} messages ({outcomes}; failed {failed}) in {elapsed:.1f} s from the first send to "
        f"the last commit (sending took {finished.value - started.value:.1f} s); {requests} requests, "
        f"{inbound} inbound messages, {files} attachments, {audits} audit entries",
        flush=True,
    )
    print(
        "intake phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()) + f"; the rest (waiting "
        f"for mail) {max(0.0, elapsed - sum(phases.values())):.1f}; the intake's own CPU time {cpu:.1f} s "
        f"({cpu / max(read, 1) * 1000:.2f} ms a message)",
        flush=True,
    )
    return read / elapsed if elapsed > 0 else 0.0


def _desk_agent(db_url: str) -> int:
    with unit_of_work(db_url) as s:
        national = s.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).first()
        if national is None:
            national = OrgUnit(level=OrgLevel.NATIONAL, name="Україна")
            s.add(national)
            s.flush()
        account = Account(org_unit_id=national.id)
        s.add(account)
        s.flush()
        agent = Person(
            account_id=account.id,
            org_unit_id=national.id,
            role=PersonRole.SUPPORT_AGENT,
            state=PersonState.ACTIVE,
            full_name="Агент Служби Бенч",
            email="agent@bench.example",
        )
        s.add(agent)
        s.flush()
        return agent.id


def seed_requests(db_url: str, total: int, agent_id: int, seed: int = 7) -> None:
    """`total` more requests over the last 120 days, with COPY: a quarter open, the rest finished."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    buffer = io.StringIO()
    types = ["question", "kep_trouble", "data_fix", "new_school", "ois_access", "other"]
    for i in range(total):
        created = now - timedelta(minutes=rng.randint(1, 120 * 24 * 60))
        state = rng.choices(
            ["new", "accepted", "info_requested", "in_progress", "done", "closed", "rejected"],
            weights=[8, 5, 4, 8, 15, 55, 5],
        )[0]
        finished = state in ("done", "closed", "rejected")
        responded = finished or rng.random() < 0.6
        first = created + timedelta(hours=rng.uniform(0.1, 30)) if responded else None
        resolved = created + timedelta(hours=rng.uniform(1, 200)) if finished else None
        closed = resolved + timedelta(days=1) if state == "closed" and resolved else None
        assignee = str(agent_id) if rng.random() < 0.5 else "\\N"
        row = [
            rng.choice(types),
            state,
            rng.choices(["low", "normal", "high", "urgent"], weights=[10, 70, 15, 5])[0],
            "email",
            f"seed{rng.randint(1, 20000)}@school.example",
            assignee,
            f"Звернення {i}",
            "Текст звернення",
            "{}",
            created.isoformat(),
            first.isoformat() if first else "\\N",
            resolved.isoformat() if resolved else "\\N",
            closed.isoformat() if closed else "\\N",
        ]
        buffer.write("\t".join(row) + "\n")
    engine = create_engine(db_url, poolclass=NullPool)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(  # type: ignore[attr-defined]
            "COPY support_request (type, state, priority, channel, requester_email, assignee_id, subject, "
            "body, payload, created_at, first_response_at, resolved_at, closed_at) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        raw.commit()
        cursor.execute("ANALYZE support_request")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def queue_samples(db_url: str, agent_id: int, samples: int) -> list[float]:
    """(2): server time of the first page of 50 with counts, cold (new connection, DISCARD ALL)."""
    times = []
    actor = Actor(person_id=agent_id, label="Агент Служби Бенч")
    for _ in range(samples):
        engine = create_engine(db_url, poolclass=NullPool)
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("DISCARD ALL"))
            connection.commit()
            connection.execution_options(isolation_level="READ COMMITTED")
            with Session(bind=connection) as session:
                t0 = time.perf_counter()
                page = support_queue.queue_page(session=session, actor=actor, limit=50)
                times.append((time.perf_counter() - t0) * 1000)
                assert len(page.rows) == 50
        engine.dispose()
    print(f"queue: {page.total} open of the requests; first page of {len(page.rows)}", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aikom-bench-support-"))
    server_url = make_url(scratch_server_url(tmp))
    name = f"aikom_bench_support_{uuid.uuid4().hex[:8]}"
    db_url = server_url.set(database=name).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp, database_url=db_url, smtp_port=_free_port(), support_address=SUPPORT)
    upgrade_database(settings, db_url)
    os.environ["AIKOM_DATABASE_URL"] = db_url
    print(f"cores={os.cpu_count()}; database {name}", flush=True)
    try:
        emails_per_s = intake(db_url, settings, args.emails)
        agent = _desk_agent(db_url)
        with unit_of_work(db_url) as s:
            have = s.scalar(select(func.count()).select_from(SupportRequest)) or 0
        t0 = time.monotonic()
        seed_requests(db_url, max(0, args.requests - have), agent)
        print(f"seeded {max(0, args.requests - have)} requests in {time.monotonic() - t0:.1f} s", flush=True)
        times = queue_samples(db_url, agent, args.samples)
        p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]
        print(f"queue page ms: median {statistics.median(times):.1f}, max {max(times):.1f}", flush=True)
    finally:
        admin = create_engine(server_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"RESULT emails_per_s={emails_per_s:.0f} queue_p95_ms={p95:.1f} cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
