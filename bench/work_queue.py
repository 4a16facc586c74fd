"""Benchmark (bench/work_queue.py — not queue.py, which would shadow the standard library's `queue` for every
script in this folder): the work queue's and the processes list's server time at national scale.

Builds a throwaway database (the configured PostgreSQL server: AIKOM_TEST_SERVER_URL, else
127.0.0.1:5432, else the embedded one), imports the real registers, seeds 100,000 processes and
300,000 steps over two years (bench/seed_national.py), then times what each page asks of the services —
the first page of 50 rows with its counts and the default filters, in a fresh session each time (no
page cache) — for a hromada admin, an oblast admin and an institute admin.

    .venv/bin/python bench/work_queue.py [--runs 50] [--processes 100000] [--tasks 300000] [--keep]
        [--database NAME]   (reuse a seeded database, or create it under this name and keep it)
Last line: RESULT p95_ms_hromada=… p95_ms_oblast=… p95_ms_institute=… cores=…
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable

import seed_national  # bench/seed_national.py, beside this script (shared with the monitor's bench)
from seed_national import p95, timed
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from aikom.models import Person


def main() -> None:
    args = seed_national.bench_arguments(__doc__)

    from aikom.services.process_list import list_processes
    from aikom.services.queue import queue_page

    print(f"cores={os.cpu_count()}", flush=True)
    pages: dict[str, Callable[[Session, Person], object]] = {
        "queue": lambda s, p: queue_page(session=s, actor=p, limit=50),
        "processes": lambda s, p: list_processes(session=s, viewer=p, limit=50),
    }
    result: dict[str, float] = {}
    with seed_national.national_database(args, prefix="aikom_bench_queue") as (url, seeded):
        engine = create_engine(url)
        viewers = {
            "hromada": seeded.hromada_admin,
            "oblast": seeded.oblast_admin,
            "institute": seeded.institute_admin,
        }
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
    print(
        f"RESULT p95_ms_hromada={result['hromada']:.1f} p95_ms_oblast={result['oblast']:.1f} "
        f"p95_ms_institute={result['institute']:.1f} cores={os.cpu_count()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
