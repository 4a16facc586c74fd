"""The audit log against a real database: chained appends, tampering found at the right entry, and
concurrent writers that still produce one valid chain."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aikom.core.audit import GENESIS_HASH, BreakReason
from aikom.models import AuditEntry
from aikom.services import audit
from aikom.settings import Settings


def _append(session: Session, n: int) -> AuditEntry:
    return audit.record(
        session=session,
        action="test.appended",
        object_type="test",
        object_id=n,
        details={"n": n, "примітка": "запис"},
        actor_label="test",
    )


def _unprotect(session: Session) -> None:
    # Only inside the rolled-back test transaction: the database refuses edits otherwise.
    session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))


def test_entries_link_to_their_predecessor_and_verify(session: Session) -> None:
    before = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    entries = [_append(session, n) for n in range(4)]
    expected_first_prev = before.entry_hash if before else GENESIS_HASH
    assert entries[0].prev_hash == expected_first_prev
    for prev, entry in itertools.pairwise(entries):
        assert entry.prev_hash == prev.entry_hash and entry.id > prev.id
    session.expire_all()
    report = audit.verify_chain(session=session)
    assert report.ok and report.head_id == entries[-1].id and report.head_hash == entries[-1].entry_hash
    assert [e.id for e in audit.recent_entries(session=session, limit=2)] == [e.id for e in entries[-2:]]


def test_the_database_refuses_edits_of_the_log(session: Session) -> None:
    entry = _append(session, 1)
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE audit_entry SET action = 'x' WHERE id = :id"), {"id": entry.id})


def test_an_edited_row_is_named(session: Session) -> None:
    entries = [_append(session, n) for n in range(5)]
    _unprotect(session)
    session.execute(
        text("UPDATE audit_entry SET details = '{\"n\": 99}' WHERE id = :id"), {"id": entries[2].id}
    )
    report = audit.verify_chain(session=session)
    assert report.first_broken is not None
    assert report.first_broken.id == entries[2].id
    assert report.first_broken.reason == BreakReason.HASH_MISMATCH


def test_a_deleted_row_is_detected_at_the_next_entry(session: Session) -> None:
    entries = [_append(session, n) for n in range(5)]
    _unprotect(session)
    session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[1].id})
    report = audit.verify_chain(session=session)
    assert report.first_broken is not None
    assert report.first_broken.id == entries[2].id
    assert report.first_broken.reason == BreakReason.ENTRY_MISSING


def test_appends_need_read_committed(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with Session(bind=conn) as s, pytest.raises(audit.AuditChainUnavailable):
            _append(s, 1)
        conn.rollback()


@pytest.fixture(scope="module")
def throwaway_engine(database_url: str) -> Iterator[Engine]:
    """A database of its own: these tests commit audit entries, which can never be deleted."""
    from aikom.migrate import upgrade_database

    server = make_url(database_url)
    name = f"aikom_audit_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    eng = create_engine(url, pool_size=10)
    yield eng
    eng.dispose()
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_concurrent_writers_produce_one_valid_chain(throwaway_engine: Engine) -> None:
    with Session(throwaway_engine) as s:
        start_count = audit.verify_chain(session=s).entries
    writers, per_writer = 6, 20
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(per_writer):
                with Session(throwaway_engine) as s, s.begin():
                    _append(s, worker * 1000 + n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(throwaway_engine) as s:
        report = audit.verify_chain(session=s)
    assert report.ok and report.entries == start_count + writers * per_writer


def test_a_second_writer_waits_for_the_first_to_commit(throwaway_engine: Engine) -> None:
    first = Session(throwaway_engine)
    first_entry = _append(first, 1)  # holds the chain lock until commit
    second_entry: list[AuditEntry] = []

    def second_writer() -> None:
        with Session(throwaway_engine, expire_on_commit=False) as s, s.begin():
            second_entry.append(_append(s, 2))

    thread = threading.Thread(target=second_writer)
    thread.start()
    try:
        with throwaway_engine.connect() as probe:
            for _ in range(200):
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                        "AND objid = :lo"
                    ),
                    {"lo": audit.AUDIT_CHAIN_LOCK_KEY & 0xFFFFFFFF},
                ).scalar_one()
                probe.rollback()
                if waiting:
                    break
                time.sleep(0.05)
        assert waiting == 1 and not second_entry
        first_hash = first_entry.entry_hash
        first.commit()
    finally:
        thread.join(timeout=30)
        first.close()
    assert second_entry and second_entry[0].prev_hash == first_hash
    with Session(throwaway_engine) as s:
        assert audit.verify_chain(session=s).ok


def test_a_batch_of_entries_is_chained_in_order_and_verifies(session: Session) -> None:
    from aikom.core.actor import Actor

    audit.record(session=session, action="before", object_type="t", object_id=0, actor_label="тест")
    written = audit.record_many(
        session=session,
        events=[audit.Event("batch.item", "t", i, {"n": i}) for i in range(50)],
        actor=Actor(person_id=None, label="розгортання"),
    )
    audit.record(session=session, action="after", object_type="t", object_id=99, actor_label="тест")
    assert written == 50
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(52)).all()[::-1]
    assert [r.object_id for r in rows] == ["0"] + [str(i) for i in range(50)] + ["99"]
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(rows))
    assert audit.verify_chain(session=session).ok
