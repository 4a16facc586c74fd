"""A national-scale workload for the benchmarks: processes and their human steps over two years across
the real tree (the КАТОТТГ codifier and the ЄДЕБО register), written with COPY.

- one admin (with an account) per oblast, rayon and hromada, plus institute admins and managers;
- `--processes` processes (default 100,000) of the declared types, created uniformly over two years,
  each about a school (its managing ОУО decides) or an ОУО unit; 20% still open (waiting);
- `--tasks` human steps (default 300,000): every process has one or more, 10% of all steps open —
  the last step of each open process (most at the hromada level; some escalated to the rayon, oblast or
  institute; some assigned to a school's director), with due dates around now (some overdue).

Used by bench/work_queue.py (the work queue and processes list) and bench/monitor.py (the managers'
monitor), with the database plumbing they share (`national_database`, `timed`, `p95`).

    .venv/bin/python bench/seed_national.py --url postgresql+psycopg://postgres@127.0.0.1:5432/aikom_bench
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from aikom.models import OrgLevel, OrgUnit, Person, PersonRole

ADMIN_OF = {
    OrgLevel.OBLAST: PersonRole.OBLAST_ADMIN,
    OrgLevel.RAYON: PersonRole.RAYON_ADMIN,
    OrgLevel.HROMADA: PersonRole.HROMADA_ADMIN,
}
FINAL = ("completed", "rejected", "expired", "failed", "cancelled")
FINAL_WEIGHTS = (80, 8, 6, 3, 3)
YEARS = 2


@dataclass
class Seeded:
    """What the benches need to know about the seeded world."""

    processes: int
    tasks: int
    open_tasks: int
    hromada_admin: int  # person ids of typical viewers
    oblast_admin: int
    institute_admin: int
    oblast_manager: int
    institute_manager: int
    seconds: float


def _copy(session: Session, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    """COPY rows into a table (NULL as \\N, tab-separated)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else _escape(v) for v in row) + "\n")
    buffer.seek(0)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buffer.read())


def _escape(value: object) -> str:
    text_value = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    return text_value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _next_id(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one())


TASK_COLUMNS = [
    "id", "process_id", "step_key", "title", "allowed_roles", "scope_org_unit_id", "state", "decision",
    "decided_by_id", "decided_at", "due_at", "details", "created_at", "escalation_level",
]  # fmt: skip
DECISIONS = json.dumps({"decisions": ["approve", "reject"]})


def _task_row(
    task_id: int,
    process_id: int,
    k: int,
    roles: list[str],
    scope: int,
    decider: int,
    is_open: bool,
    created: datetime,
    due: datetime,
    level: int,
) -> tuple[object, ...]:
    decided = (None, None, None) if is_open else ("approve", decider, created + timedelta(hours=5))
    title = f"Крок {k + 1} процесу {process_id}"
    state = "open" if is_open else "decided"
    row = (task_id, process_id, f"step-{k}", title, json.dumps(roles), scope, state, *decided, due)
    return (*row, DECISIONS, created, level)


def _roles(
    rng: random.Random, body: int, lineage: list[int], levels_of: dict[int, OrgLevel], *, escalate: bool
) -> tuple[list[str], int]:
    """The roles that may decide a step of the ОУО `body`; an open step may have escalated up to 3 levels."""
    chain = [ADMIN_OF[levels_of[u]].value for u in reversed(lineage) if levels_of.get(u) in ADMIN_OF]
    roles = [ADMIN_OF[levels_of[body]].value] if levels_of.get(body) in ADMIN_OF else []
    level = 0
    if escalate:
        r = rng.random()
        level = 3 if r < 0.05 else 2 if r < 0.12 else 1 if r < 0.27 else 0
    above = [c for c in chain if c not in roles]
    roles += above[:level]
    if level > len(above) or not roles:
        roles.append(PersonRole.INSTITUTE_ADMIN.value)
    return roles, level


def seed(url: str, *, processes: int = 100_000, tasks: int = 300_000, rng_seed: int = 1) -> Seeded:
    """Write the workload into the (migrated, registers imported) database at `url`."""
    from aikom.processes import all_specs

    started = time.perf_counter()
    rng = random.Random(rng_seed)
    engine = create_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        units = session.execute(
            select(OrgUnit.id, OrgUnit.level, OrgUnit.lineage, OrgUnit.managing_body_id)
        ).all()
        by_level: dict[OrgLevel, list[tuple[int, list[int], int | None]]] = {}
        for unit_id, level, lineage, managing in units:
            by_level.setdefault(level, []).append((unit_id, list(lineage), managing))
        national = by_level[OrgLevel.NATIONAL][0][0]

        # Accounts and admins: one per ОУО unit; institute admins and managers; a director per school used.
        account_id, person_id = _next_id(session, "account"), _next_id(session, "person")
        accounts: list[tuple[object, ...]] = []
        persons: list[tuple[object, ...]] = []
        admin_of_unit: dict[int, int] = {}

        def add_person(unit: int, role: PersonRole, name: str) -> int:
            nonlocal person_id
            email = f"p{person_id}@bench.local"
            persons.append((person_id, account_of[unit], unit, role.value, "active", name, email, "false"))
            person_id += 1
            return person_id - 1

        account_of: dict[int, int] = {}
        existing = dict(session.execute(text("SELECT org_unit_id, id FROM account")).all())
        for level in (OrgLevel.NATIONAL, OrgLevel.OBLAST, OrgLevel.RAYON, OrgLevel.HROMADA):
            for unit_id, _, _ in by_level.get(level, []):
                if unit_id in existing:
                    account_of[unit_id] = existing[unit_id]
                    continue
                accounts.append((account_id, unit_id, "active"))
                account_of[unit_id] = account_id
                account_id += 1
        _copy(session, "account", ["id", "org_unit_id", "state"], accounts)
        institute_admins = [
            add_person(national, PersonRole.INSTITUTE_ADMIN, f"Адміністратор ІОА {i}") for i in range(3)
        ]
        add_person(national, PersonRole.MANAGER, "Аналітик ІОА")
        for level, role in ADMIN_OF.items():
            for unit_id, _, _ in by_level.get(level, []):
                admin_of_unit[unit_id] = add_person(unit_id, role, f"Адміністратор {unit_id}")
        oblasts = [u for u, _, _ in by_level[OrgLevel.OBLAST]]
        add_person(oblasts[0], PersonRole.MANAGER, "Аналітик області")
        _copy(
            session,
            "person",
            ["id", "account_id", "org_unit_id", "role", "state", "full_name", "email", "is_former"],
            persons,
        )

        # Processes and their steps.
        types = [spec.type for spec in all_specs(demo=True)]
        schools = [s for s in by_level.get(OrgLevel.SCHOOL, []) if s[2] is not None and s[2] in admin_of_unit]
        hromadas = by_level[OrgLevel.HROMADA]
        levels_of = {unit_id: level for unit_id, level, _, _ in units}
        process_id, task_id = _next_id(session, "process"), _next_id(session, "approval_task")
        process_rows: list[tuple[object, ...]] = []
        task_rows: list[tuple[object, ...]] = []
        open_processes = int(processes * 0.2)
        extra_tasks = max(0, tasks - processes)  # beyond one step per process
        for n in range(processes):
            is_open = n < open_processes
            created = now - timedelta(seconds=rng.uniform(0, YEARS * 365 * 86400))
            if is_open:  # open work is recent: within the last 30 days
                created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            if rng.random() < 0.8 and schools:
                subject, lineage, managing = rng.choice(schools)
            else:
                subject, lineage, managing = rng.choice(hromadas)
                managing = subject
            body = managing if managing in admin_of_unit else lineage[-2]
            requester = admin_of_unit.get(body) or institute_admins[0]
            ptype = types[n % len(types)]
            state = "waiting" if is_open else rng.choices(FINAL, FINAL_WEIGHTS)[0]
            finished = None if is_open else created + timedelta(hours=rng.uniform(2, 24 * 30))
            steps = 1 + (1 if rng.random() < extra_tasks / max(1, processes) else 0)
            steps += 1 if rng.random() < max(0.0, extra_tasks / max(1, processes) - 1) else 0
            process_rows.append(
                (process_id, ptype, f"Процес {process_id}", state, subject, requester, requester, "approve",
                 json.dumps({}), created, created, finished)
            )  # fmt: skip
            open_steps = (1 + (rng.random() < 0.5)) if is_open else 0  # parallel steps (deputies) stay open
            for k in range(steps):
                step_open = k >= steps - open_steps
                roles, level = _roles(rng, body, lineage, levels_of, escalate=step_open)
                step_created = created + timedelta(hours=k * 24)
                due = (
                    now + timedelta(hours=rng.uniform(-72, 240))
                    if step_open
                    else step_created + timedelta(days=7)
                )
                task_rows.append(
                    _task_row(
                        task_id, process_id, k, roles, body, requester, step_open, step_created, due, level
                    )
                )
                task_id += 1
            process_id += 1
        _copy(
            session,
            "process",
            ["id", "type", "title", "state", "subject_org_unit_id", "requester_person_id", "started_by_id",
             "current_step", "parameters", "created_at", "updated_at", "finished_at"],
            process_rows,
        )  # fmt: skip
        _copy(
            session,
            "approval_task",
            TASK_COLUMNS,
            task_rows,
        )
        for table in ("account", "person", "process", "approval_task"):
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
        session.commit()
        # Statistics for the planner; ANALYZE is transactional (pg_statistic), so it is committed too —
        # without it the first plans scan every open step per row.
        session.execute(text("ANALYZE"))
        session.commit()
    engine.dispose()
    found = viewers(url)
    found.seconds = time.perf_counter() - started
    return found


def viewers(url: str) -> Seeded:
    """The typical viewers of a seeded database: the admins of the busiest hromada and oblast, an
    institute admin, an oblast and an institute manager (the figures describe the database)."""
    engine = create_engine(url)
    with Session(engine) as session:

        def one(sql: str) -> int:
            return int(session.execute(text(sql)).scalar_one())

        busiest_hromada = one(
            "SELECT scope_org_unit_id FROM approval_task t JOIN org_unit u ON u.id = t.scope_org_unit_id "
            "WHERE t.state = 'open' AND u.level = 'hromada' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        busiest_oblast = one(
            "SELECT u.lineage[2] FROM approval_task t JOIN org_unit u ON u.id = t.scope_org_unit_id "
            "WHERE t.state = 'open' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )

        def admin(unit: int, role: str) -> int:
            return one(f"SELECT min(id) FROM person WHERE org_unit_id = {unit} AND role = '{role}'")

        national = one("SELECT id FROM org_unit WHERE level = 'national'")
        found = Seeded(
            processes=one("SELECT count(*) FROM process"),
            tasks=one("SELECT count(*) FROM approval_task"),
            open_tasks=one("SELECT count(*) FROM approval_task WHERE state = 'open'"),
            hromada_admin=admin(busiest_hromada, "hromada_admin"),
            oblast_admin=admin(busiest_oblast, "oblast_admin"),
            institute_admin=admin(national, "institute_admin"),
            oblast_manager=one("SELECT min(id) FROM person WHERE role = 'manager' AND org_unit_id <> "
                               f"{national}"),
            institute_manager=admin(national, "manager"),
            seconds=0.0,
        )  # fmt: skip
    engine.dispose()
    return found


def prepare(url: str, processes: int, tasks: int) -> Seeded:
    """Migrate, import the real registers, seed the workload."""
    from aikom.imports import import_registers
    from aikom.migrate import upgrade_database
    from aikom.settings import Settings

    settings = Settings(database_url=url)
    upgrade_database(settings, url)
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        import_registers(session=session, settings=settings)
        session.commit()
    engine.dispose()
    print(f"registers imported in {time.perf_counter() - started:.1f} s", flush=True)
    seeded = seed(url, processes=processes, tasks=tasks)
    print(
        f"seeded {seeded.processes} processes, {seeded.tasks} steps ({seeded.open_tasks} open) "
        f"in {seeded.seconds:.1f} s",
        flush=True,
    )
    return seeded


def bench_arguments(doc: str | None) -> argparse.Namespace:
    """The arguments every national-scale bench takes: --runs, --processes, --tasks, --keep, --database."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--processes", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=300_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="reuse this (seeded) database, or create it under this name")
    return parser.parse_args()


@contextmanager
def national_database(args: argparse.Namespace, *, prefix: str) -> Iterator[tuple[str, Seeded]]:
    """A seeded national database on the configured PostgreSQL server (AIKOM_TEST_SERVER_URL, else
    127.0.0.1:5432, else the embedded one): `--database` reused when it is already seeded (and migrated
    to the newest schema), else created; a throwaway one is dropped afterwards unless `--keep`."""
    from aikom.db import scratch_server_url
    from aikom.migrate import upgrade_database
    from aikom.settings import Settings

    name, processes, tasks, keep = args.database, args.processes, args.tasks, args.keep
    server = make_url(scratch_server_url(Path(tempfile.mkdtemp())))
    database = name or f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = server.set(database=database).render_as_string(hide_password=False)
    print(f"database={database}", flush=True)
    seeded: Seeded | None = None
    if name:
        try:
            seeded = viewers(url)
            upgrade_database(Settings(database_url=url), url)
            print(f"reusing {seeded.processes} processes, {seeded.tasks} steps ({seeded.open_tasks} open)")
        except Exception:
            seeded = None
    if seeded is None:
        if name:  # half-made: start again
            _drop(server.set(database="postgres").render_as_string(hide_password=False), database)
        seeded = prepare(url, processes, tasks)
    try:
        yield url, seeded
    finally:
        if not keep and not name:
            _drop(server.set(database="postgres").render_as_string(hide_password=False), database)


def _drop(admin_url: str, database: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def timed(
    engine: Engine, person_id: int, call: Callable[[Session, Person], object], runs: int
) -> list[float]:
    """Milliseconds of `call` in a fresh session each run (the person loaded inside the timing)."""
    samples = []
    for _ in range(runs):
        with Session(engine) as session:
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
    parser.add_argument("--url", required=True, help="a migrated database with the registers imported")
    parser.add_argument("--processes", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=300_000)
    args = parser.parse_args()
    seeded = seed(args.url, processes=args.processes, tasks=args.tasks)
    print(seeded)


if __name__ == "__main__":
    main()
