"""Benchmark: the managers' monitor («Моніторинг», `aikom monitor`) at national scale.

On a database seeded by bench/seed_national.py (the real registers; 100,000 processes and 300,000 steps
over two years across the national tree; 20% of processes and 10% of steps open), after the reconciler's
monitor work (durations in business days measured per row, the summaries for the country and the oblasts
built — timed: the first pass after an import, then a steady pass), times what one page load asks of
the server — `monitor()` with the default filters (the last 30 days, by day), in a fresh session each
time, no page cache — and each of its queries, for an institute manager (the whole country, from the
summaries), an oblast manager (the summaries) and a hromada admin (the live tables). For comparison it
also times the country and the oblast read live (the summaries ignored).

    .venv/bin/python bench/monitor.py [--runs 50] [--processes 100000] [--tasks 300000] [--keep]
        [--database NAME]   (reuse a seeded database, or create it under this name and keep it)
Last line: RESULT p95_ms_institute=… p95_ms_oblast=… p95_ms_hromada=… cores=…
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime

import seed_national  # bench/seed_national.py, beside this script
from seed_national import p95, timed
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV, BusinessCalendar
from aikom.models import Person
from aikom.services import monitor_rollup as rollup
from aikom.services.monitor import Monitor, measure_durations, monitor


def reconciler_pass(engine: Engine, name: str) -> None:
    """The reconciler's monitor work, timed: durations measured, summaries refreshed."""
    with Session(engine) as session:
        started = time.perf_counter()
        days = measure_durations(session, BusinessCalendar())
        now = datetime.now(UTC)
        refreshed = rollup.refresh(session, now=now, dirty_days=days or {now.astimezone(KYIV).date()})
        session.commit()
    print(
        f"reconciler monitor pass ({name}): {len(days)} days measured, {refreshed.days} days summarised, "
        f"{refreshed.open_rows} open rows, in {time.perf_counter() - started:.2f} s",
        flush=True,
    )


def page_loads(engine: Engine, who: str, person_id: int, *, live: bool, runs: int) -> float:
    """Time `runs` cold page loads; print the page's and each query's figures; the page's p95."""
    queries: dict[str, list[float]] = {}

    def page(session: Session, person: Person) -> Monitor:
        figures = monitor(session, person, live=live)
        for name, ms in figures.timings_ms.items():
            queries.setdefault(name, []).append(ms)
        return figures

    timed(engine, person_id, page, 3)  # connections and plans warm, no page cache
    queries.clear()
    samples = timed(engine, person_id, page, runs)
    with Session(engine) as session:
        shown = monitor(session, session.get_one(Person, person_id), live=live)
    per_query = " ".join(f"{name}={p95(ms):.1f}" for name, ms in queries.items())
    source = "live" if shown.as_of is None else "summaries"
    open_steps = sum(s.open for s in shown.steps)
    print(
        f"{who:<9} {source:<9} {shown.scope.unit_name[:24]:<24} open steps {open_steps:<6}"
        f" page p50={statistics.median(samples):6.1f} ms p95={p95(samples):6.1f} ms | p95 per query (ms): "
        f"{per_query}",
        flush=True,
    )
    return p95(samples)


def main() -> None:
    args = seed_national.bench_arguments(__doc__)

    print(f"cores={os.cpu_count()}", flush=True)
    result: dict[str, float] = {}
    with seed_national.national_database(args, prefix="aikom_bench_monitor") as (url, seeded):
        engine = create_engine(url)
        try:
            reconciler_pass(engine, "first after the import")
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            reconciler_pass(engine, "steady")
            viewers = {
                "institute": seeded.institute_manager,
                "oblast": seeded.oblast_manager,
                "hromada": seeded.hromada_admin,
            }
            for who, person_id in viewers.items():
                result[who] = page_loads(engine, who, person_id, live=False, runs=args.runs)
            for who in ("institute", "oblast"):  # the same scopes read live, for comparison
                page_loads(engine, who, viewers[who], live=True, runs=max(5, args.runs // 5))
        finally:
            engine.dispose()
    print(
        f"RESULT p95_ms_institute={result['institute']:.1f} p95_ms_oblast={result['oblast']:.1f} "
        f"p95_ms_hromada={result['hromada']:.1f} cores={os.cpu_count()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
