"""Benchmark of the security core: API key checks/s, audit appends/s and chain verification entries/s.

Runs against a throwaway database on the configured PostgreSQL server (embedded when none is
configured), dropped at the end, because audit entries can never be deleted.

    .venv/bin/python bench/security_keys.py [--checks 3000] [--appends 2000] [--verify-entries 20000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aikom.core.keys import hash_secret, parse_token, pepper_bytes, secret_matches
from aikom.db import server_url
from aikom.migrate import upgrade_database
from aikom.models import Account, AccountState, OrgLevel, OrgUnit
from aikom.services import audit, keys
from aikom.settings import Settings, get_settings


def _rate(label: str, count: int, run: Callable[[], None]) -> None:
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    print(f"{label:<58} {count / elapsed:>10,.0f}/s  ({count} in {elapsed:.2f} s)")


def _school_with_keys(factory: sessionmaker[Session]) -> keys.IssuedKeys:
    with factory.begin() as session:
        national = OrgUnit(level=OrgLevel.NATIONAL, name="Україна")
        session.add(national)
        session.flush()
        school = OrgUnit(level=OrgLevel.SCHOOL, name="Ліцей №1", parent_id=national.id)
        session.add(school)
        session.flush()
        account = Account(org_unit_id=school.id, state=AccountState.ACTIVE)
        session.add(account)
        session.flush()
        return keys.issue_account_keys(session=session, account=account, actor_label="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--verify-entries", type=int, default=20000, help="chain length to verify")
    args = parser.parse_args()

    settings = get_settings()
    server = make_url(server_url(settings))
    name = f"aikom_bench_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    engine = create_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        issued = _school_with_keys(factory)
        token = issued.api.token
        pepper = pepper_bytes(settings.key_peppers, settings.key_pepper_id)
        stored = hash_secret(parse_token(token).secret, pepper)

        def pure() -> None:
            for _ in range(args.checks * 10):
                assert secret_matches(parse_token(token).secret, stored, pepper)

        def one_transaction_per_check() -> None:
            for _ in range(args.checks):
                with factory.begin() as session:
                    assert keys.check_key(session=session, token=token).valid

        def one_session() -> None:
            with factory.begin() as session:
                for _ in range(args.checks):
                    assert keys.check_key(session=session, token=token).valid

        def append_committed() -> None:
            for n in range(args.appends):
                with factory.begin() as session:
                    audit.record(
                        session=session,
                        action="bench.append",
                        object_type="bench",
                        object_id=n,
                        details={"n": n},
                        actor_label="bench",
                    )

        def append_batched() -> None:
            with factory.begin() as session:
                for n in range(args.appends):
                    audit.record(
                        session=session,
                        action="bench.append",
                        object_type="bench",
                        object_id=n,
                        details={"n": n},
                        actor_label="bench",
                    )

        print(f"PostgreSQL: {server.render_as_string(hide_password=True)}, throwaway database {name}")
        _rate("key check, pure (parse + HMAC-SHA256 + compare_digest)", args.checks * 10, pure)
        _rate("key check via check_key, one transaction per check", args.checks, one_transaction_per_check)
        _rate("key check via check_key, one session for all", args.checks, one_session)
        _rate("audit append, one committed transaction each", args.appends, append_committed)
        _rate("audit append, many in one transaction", args.appends, append_batched)

        with factory.begin() as session:
            missing = args.verify_entries - audit.verify_chain(session=session).entries
            for n in range(max(missing, 0)):
                audit.record(
                    session=session,
                    action="bench.fill",
                    object_type="bench",
                    object_id=n,
                    details={"n": n, "примітка": "заповнення"},
                    actor_label="bench",
                )
        with factory() as session:
            entries = audit.verify_chain(session=session).entries
        report_holder: list[bool] = []

        def verify() -> None:
            with factory() as session:
                report_holder.append(audit.verify_chain(session=session).ok)

        _rate("audit chain verification", entries, verify)
        print(f"chain intact: {report_holder[0]}")
    finally:
        engine.dispose()
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
