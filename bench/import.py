"""Benchmark of the register imports: the КАТОТТГ codifier, then the whole ЄДЕБО register.

Runs against a throwaway database on the configured PostgreSQL server (embedded when none is
configured), dropped at the end. Prints wall time per step, the Python heap peak (tracemalloc), the
process's peak resident memory (getrusage), and what was imported and refused.

    .venv/bin/python bench/import.py [--data-dir /work/shared/data] [--twice]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from aikom.db import server_url
from aikom.imports import CODIFIER_FILE, COMPARISON_FILE, REGISTER_FILE, import_katottg, import_schools
from aikom.imports.report import ImportReport
from aikom.migrate import upgrade_database
from aikom.settings import Settings, get_settings


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _print_report(report: ImportReport, seconds: float) -> None:
    print(
        f"  {report.kind:<8} {seconds:6.2f} s   rows {report.rows:>6}   created {report.created:>6}   "
        f"updated {report.updated:>4}   unchanged {report.unchanged:>6}   refused {report.refused:>4}"
    )
    if report.counts:
        print("           counts: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    if report.refused_rows:
        print("           refused: " + ", ".join(f"{k} {v}" for k, v in report.refused_by_code().items()))
    if report.placement and report.kind == "schools":
        print("           placed by: " + ", ".join(f"{k} {v}" for k, v in report.placement.items()))
        print(f"           needs placement: {len(report.needs_placement)}")


def _run(url: str, data: Path) -> float:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            katottg = import_katottg(session=session, path=data / CODIFIER_FILE)
            after_katottg = time.perf_counter()
            schools = import_schools(
                session=session,
                path=data / REGISTER_FILE,
                codifier_path=data / CODIFIER_FILE,
                comparison_path=data / COMPARISON_FILE,
            )
            after_schools = time.perf_counter()
            session.commit()
            finished = time.perf_counter()
    finally:
        engine.dispose()
    _print_report(katottg, after_katottg - started)
    _print_report(schools, after_schools - after_katottg)
    print(f"  commit   {finished - after_schools:6.2f} s")
    return finished - started


@contextmanager
def _fresh_database(server: URL) -> Iterator[str]:
    name = f"aikom_bench_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    try:
        yield url
    finally:
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the register files")
    parser.add_argument("--twice", action="store_true", help="import a second time (idempotent re-run)")
    parser.add_argument("--no-heap", action="store_true", help="skip the (slower) tracemalloc run")
    args = parser.parse_args()

    settings = get_settings()
    data = args.data_dir or settings.shared_data_dir
    missing = [n for n in (CODIFIER_FILE, COMPARISON_FILE, REGISTER_FILE) if not (data / n).is_file()]
    if missing:
        raise SystemExit(f"Немає файлів реєстрів у {data}: {', '.join(missing)}")
    server = make_url(server_url(settings))

    with _fresh_database(server) as url:
        print(f"Import into an empty database from {data}")
        total = _run(url, data)
        print(f"  total    {total:6.2f} s   peak RSS {_peak_rss_mb():.1f} MiB")
        if args.twice:
            print("Second run (nothing should change)")
            print(f"  total    {_run(url, data):6.2f} s")
    if not args.no_heap:
        # tracemalloc slows Python several times over: its run measures memory only, not time.
        with _fresh_database(server) as url:
            print("Again into another empty database, measuring the Python heap (tracemalloc)")
            tracemalloc.start()
            _run(url, data)
            _current, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  Python heap peak {heap_peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
