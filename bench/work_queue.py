"""Benchmark (bench/work_queue.py — not queue.py, which would shadow the standard library's `queue` for every
script in this folder): the work queue's and the processes list's server time at national scale.

Builds a throwaway database (the configured PostgreSQL server: AIKOM_TEST_SERVER_URL, else
127.0.0.1:5432, else the embedded one), imports the real registers, seeds 100,000 processes and
300,000 steps over two years (bench/seed_national.py), then times what each page asks of the services —
the first page of 50 rows with its counts and the default filters, in a fresh session each time (no
page cache) — for a hromada admin, an oblast admin and an institute admin.

    .venv/bin/python bench/work_queue.py [--runs 50] [--processes 100000] [--tasks 300000] [--keep]
Last line: RESULT p95_ms_hromada=… p95_ms_oblast=… p95_ms_institute=… cores=…
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import seed_national  # bench/seed_national.py, beside this script (shared with the monitor's bench)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aikom.db import scratch_server_url
from aikom.migrate import upgrade_database
from aikom.models import Person
from aikom.settings import Settings


def prepare(url: str, processes: int, tasks: int) -> object:
    """Migrate, import the registers, seed the workload."""
    from aikom.imports import import_registers

    settings = Settings(database_url=url)
    upgrade_database(settings, url)
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        import_registers(session=session, settings=settings)
        session.commit()
    engine.dispose()
    print(f"registers imported in {time.perf_counter() - started:.1f} s", flush=True)
    seeded = seed_national.seed(url, processes=processes, tasks=tasks)
    print(
        f"seeded {seeded.processes} processes, {seeded.tasks} steps ({seeded.open_tasks} open) "
        f"in {seeded.seconds:.1f} s",
        flush=True,
    )
    return seeded


def _reuse(url: str) -> object | None:
    """The viewers of an already seeded database (None when it does not exist or holds no processes)."""
    try:
        found = seed_national.viewers(url)
    except Exception:
        return None
    print(f"reusing {found.processes} processes, {found.tasks} steps ({found.open_tasks} open)", flush=True)
    return found


def timed(
    engine: object, person_id: int, call: Callable[[Session, Person], object], runs: int
) -> list[float]:
    """Milliseconds of `call` in a fresh session each run (the person loaded inside the timing)."""
    samples = []
    for _ in range(runs):
        with Session(engine) as session:  # type: ignore[call-overload]
            started = time.perf_counter()
            person = session.get_one(Person, person_id)
            call(session, person)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    """The 95th percentile."""
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--processes", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=300_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="reuse this (seeded) database, or create it under this name")
    args = parser.parse_args()

    from aikom.services.process_list import list_processes
    from aikom.services.queue import queue_page

    server = make_url(scratch_server_url(Path(tempfile.mkdtemp())))
    name = args.database or f"aikom_bench_queue_{uuid.uuid4().hex[:8]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    print(f"cores={os.cpu_count()} database={name}", flush=True)
    seeded = _reuse(url) if args.database else None
    if seeded is None:
        seeded = prepare(url, args.processes, args.tasks)
    engine = create_engine(url)
    viewers = {
        "hromada": seeded.hromada_admin,  # type: ignore[attr-defined]
        "oblast": seeded.oblast_admin,  # type: ignore[attr-defined]
        "institute": seeded.institute_admin,  # type: ignore[attr-defined]
    }
    pages: dict[str, Callable[[Session, Person], object]] = {
        "queue": lambda s, p: queue_page(session=s, actor=p, limit=50),
        "processes": lambda s, p: list_processes(session=s, viewer=p, limit=50),
    }
    result: dict[str, float] = {}
    try:
        for who, person_id in viewers.items():
            worst = 0.0
            for page, call in pages.items():
                timed(engine, person_id, call, 3)  # connections and plans warm, no page cache
                samples = timed(engine, person_id, call, args.runs)
                with Session(engine) as session:
                    shown = call(session, session.get_one(Person, person_id))
                total = getattr(shown, "total", "?")
                print(
                    f"{who:<9} {page:<9} rows_total={total:<6} p50={statistics.median(samples):6.1f} ms "
                    f"p95={p95(samples):6.1f} ms",
                    flush=True,
                )
                worst = max(worst, p95(samples))
            result[who] = worst
    finally:
        engine.dispose()
        if not args.keep and not args.database:
            admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(
        f"RESULT p95_ms_hromada={result['hromada']:.1f} p95_ms_oblast={result['oblast']:.1f} "
        f"p95_ms_institute={result['institute']:.1f} cores={os.cpu_count()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
