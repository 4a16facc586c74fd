"""Benchmark: the directory («Довідник», `aikom org search|card`) on the real national tree.

Imports the real registers (the КАТОТТГ codifier and the ЄДЕБО register: ~15,000 schools, ~2,000 ОУО
units) into a database of the configured PostgreSQL server (AIKOM_TEST_SERVER_URL, else 127.0.0.1:5432,
else the embedded one) — or reuses `--database` when it already holds them — then times, in a fresh
session each run, searches by each code kind and by name (with and without filters) as an institute
admin and as a hromada admin, and the cards of the national root, an oblast and a school.
Prints p50/p95 in milliseconds and the rows found.

    .venv/bin/python bench/directory.py [--runs 30] [--database aikom_dir] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from aikom.models import Account, OrgLevel, OrgUnit, Person, PersonRole, PersonState
from aikom.services import directory


def _prepare(url: str) -> None:
    from aikom.imports import import_registers
    from aikom.migrate import upgrade_database
    from aikom.settings import Settings

    settings = Settings(database_url=url)
    upgrade_database(settings, url)
    engine = create_engine(url)
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(OrgUnit)):
            print("reusing the imported registers", flush=True)
            return
        started = time.perf_counter()
        import_registers(session=session, settings=settings)
        session.commit()
    engine.dispose()
    print(f"registers imported in {time.perf_counter() - started:.1f} s", flush=True)


def _person(session: Session, unit: OrgUnit, role: PersonRole) -> int:
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    if account is None:
        account = Account(org_unit_id=unit.id)
        session.add(account)
        session.flush()
    person = Person(
        account_id=account.id,
        org_unit_id=unit.id,
        role=role,
        state=PersonState.ACTIVE,
        full_name=f"Бенчмарк {role.value}",
        email=f"bench-{role.value}-{uuid.uuid4().hex[:6]}@example.org",
    )
    session.add(person)
    session.flush()
    return person.id


def _timed(
    engine: Engine, person_id: int, call: Callable[[Session, Person], object], runs: int
) -> list[float]:
    samples = []
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            call(session, session.get_one(Person, person_id))
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", help="reuse (or create and keep) this database")
    parser.add_argument("--keep", action="store_true", help="keep a throwaway database afterwards")
    args = parser.parse_args()
    from aikom.db import scratch_server_url

    server = make_url(scratch_server_url(Path(tempfile.mkdtemp())))
    database = args.database or f"aikom_dir_{uuid.uuid4().hex[:8]}"
    url = server.set(database=database).render_as_string(hide_password=False)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    print(f"database={database}", flush=True)
    try:
        _prepare(url)
        engine = create_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            national = session.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).one()
            school = (
                session.scalars(
                    select(OrgUnit)
                    .where(
                        OrgUnit.level == OrgLevel.SCHOOL,
                        OrgUnit.edrpou.is_not(None),
                        OrgUnit.edebo_id.is_not(None),
                    )
                    .order_by(OrgUnit.id)
                    .limit(1)
                ).first()
                or session.scalars(
                    select(OrgUnit)
                    .where(OrgUnit.level == OrgLevel.SCHOOL, OrgUnit.edrpou.is_not(None))
                    .limit(1)
                ).one()
            )
            hromada = session.get_one(OrgUnit, school.parent_id)
            oblast = session.get_one(OrgUnit, school.lineage[1])
            institute_admin = _person(session, national, PersonRole.INSTITUTE_ADMIN)
            hromada_admin = _person(session, hromada, PersonRole.HROMADA_ADMIN)
            counts = dict(session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all())
            session.commit()
        print("units: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)

        def search(query: str, **filters: object) -> Callable[[Session, Person], object]:
            def call(session: Session, person: Person) -> object:
                found = directory.search_units(session=session, viewer=person, query=query, **filters)  # type: ignore[arg-type]
                call.rows = len(found.rows)  # type: ignore[attr-defined]
                return found

            return call

        def card(unit_id: int) -> Callable[[Session, Person], object]:
            return lambda session, person: directory.unit_card(
                session=session, viewer=person, unit_id=unit_id
            )

        cases: list[tuple[str, int, Callable[[Session, Person], object]]] = [
            ("search ЄДРПОУ", institute_admin, search(school.edrpou or "")),
            ("search КАТОТТГ", institute_admin, search(hromada.katottg or "")),
            ("search name: «ліцей»", institute_admin, search("ліцей")),
            ("search name: «загальноосвітня школа 2»", institute_admin, search("загальноосвітня школа 2")),
            ("search «ліцей», school, one oblast", institute_admin,
             search("ліцей", level=OrgLevel.SCHOOL, oblast_id=oblast.id)),
            ("search needs placement (filter only)", institute_admin, search("", needs_placement=True)),
            ("search name as hromada admin", hromada_admin, search("гімназія")),
            ("card: national root", institute_admin, card(national.id)),
            ("card: oblast", institute_admin, card(oblast.id)),
            ("card: school", institute_admin, card(school.id)),
            ("card: school as hromada admin", hromada_admin, card(school.id)),
        ]  # fmt: skip
        if school.edebo_id:  # (the register with ЄДРПОУ carries no ЄДЕБО ids)
            cases.insert(2, ("search ЄДЕБО id", institute_admin, search(school.edebo_id)))
        for label, person_id, call in cases:
            samples = _timed(engine, person_id, call, args.runs)
            rows = getattr(call, "rows", None)
            found = f", rows {rows}" if rows is not None else ""
            print(f"{label}: p50 {statistics.median(samples):.1f} ms, p95 {_p95(samples):.1f} ms{found}")
        engine.dispose()
    finally:
        if not (args.keep or args.database):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
