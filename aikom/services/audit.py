"""Writing and verifying the audit log, always inside the caller's transaction.

Appends are serialised by a transaction-scoped advisory lock taken before the last hash is read, so
two writers can never link to the same predecessor; the lock is released when the caller's
transaction ends. The caller commits; nothing here does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.audit import (
    GENESIS_HASH,
    ChainReport,
    EntryContent,
    StoredEntry,
    entry_hash,
    normalise_details,
    verify_entries,
)
from aikom.models import AuditEntry

# Advisory lock key of the audit chain ("AIKOMAUD" as a big-endian integer).
AUDIT_CHAIN_LOCK_KEY = int.from_bytes(b"AIKOMAUD", "big")

_LINK_QUERY = text(
    "SELECT clock_timestamp() AS at, current_setting('transaction_isolation') AS isolation, "
    "(SELECT entry_hash FROM audit_entry ORDER BY id DESC LIMIT 1) AS last_hash"
)


class AuditChainUnavailable(RuntimeError):
    """The transaction cannot append safely (a programming error, not a user's)."""


def record(
    *,
    session: Session,
    action: str,
    object_type: str,
    object_id: str | int | None,
    details: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
    actor_person_id: int | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain in the caller's transaction and flush it.

    Who acted is `actor` (an action on someone's behalf records both), or `actor_person_id` + `actor_label`.
    """
    if actor is not None:
        actor_person_id, actor_label = actor.person_id, actor.label
        details = {**(details or {}), **actor.audit_details()}
    if actor_label is None:
        raise ValueError("an audit entry needs an actor")
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK_KEY})
    # A new statement after the lock: under READ COMMITTED it sees every entry committed before.
    link = session.execute(_LINK_QUERY).one()
    if link.isolation != "read committed":
        # A snapshot older than the lock could miss the last entry and fork the chain.
        raise AuditChainUnavailable(f"audit appends need READ COMMITTED, not {link.isolation}")
    prev_hash = bytes(link.last_hash) if link.last_hash is not None else GENESIS_HASH
    content = EntryContent(
        at=link.at,
        actor_person_id=actor_person_id,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=normalise_details(details),
    )
    entry = AuditEntry(
        at=content.at,
        actor_person_id=content.actor_person_id,
        actor_label=content.actor_label,
        action=content.action,
        object_type=content.object_type,
        object_id=content.object_id,
        details=dict(content.details),
        prev_hash=prev_hash,
        entry_hash=entry_hash(prev_hash, content),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Event:
    """One entry of `record_many`: what happened to which object."""

    action: str
    object_type: str
    object_id: str | int | None
    details: Mapping[str, Any] | None = None
    # Who acted, when not the batch's actor (e.g. each inbound email's sender).
    actor: Actor | None = None


def record_many(*, session: Session, events: Sequence[Event], actor: Actor | None = None) -> int:
    """Append many entries to the chain at once (one lock, one insert): what a batch of a bulk process
    writes. Each is chained to the one before it, exactly as `record` would. Who acted is the event's
    `actor`, else `actor`."""
    if not events:
        return 0
    if actor is None and any(event.actor is None for event in events):
        raise ValueError("an audit entry needs an actor")
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK_KEY})
    link = session.execute(_LINK_QUERY).one()
    if link.isolation != "read committed":
        raise AuditChainUnavailable(f"audit appends need READ COMMITTED, not {link.isolation}")
    prev_hash = bytes(link.last_hash) if link.last_hash is not None else GENESIS_HASH
    rows: list[dict[str, Any]] = []
    for event in events:
        by = event.actor or actor
        assert by is not None
        content = EntryContent(
            at=link.at,
            actor_person_id=by.person_id,
            actor_label=by.label,
            action=event.action,
            object_type=event.object_type,
            object_id=None if event.object_id is None else str(event.object_id),
            details=normalise_details({**(event.details or {}), **by.audit_details()}),
        )
        digest = entry_hash(prev_hash, content)
        rows.append(
            {
                "at": content.at,
                "actor_person_id": content.actor_person_id,
                "actor_label": content.actor_label,
                "action": content.action,
                "object_type": content.object_type,
                "object_id": content.object_id,
                "details": dict(content.details),
                "prev_hash": prev_hash,
                "entry_hash": digest,
            }
        )
        prev_hash = digest
    # Inserted in the list's order (SQLAlchemy orders the rows it inserts by their parameters here), so the
    # ids follow the chain: verification reads the chain in id order.
    session.execute(insert(AuditEntry).returning(AuditEntry.id, sort_by_parameter_order=True), rows)
    return len(rows)


def _stored_entries(session: Session, batch_size: int) -> Iterator[StoredEntry]:
    stmt = (
        select(
            AuditEntry.id,
            AuditEntry.at,
            AuditEntry.actor_person_id,
            AuditEntry.actor_label,
            AuditEntry.action,
            AuditEntry.object_type,
            AuditEntry.object_id,
            AuditEntry.details,
            AuditEntry.prev_hash,
            AuditEntry.entry_hash,
        )
        .order_by(AuditEntry.id)
        .execution_options(yield_per=batch_size)
    )
    for row in session.execute(stmt):
        yield StoredEntry(
            id=row.id,
            content=EntryContent(
                at=row.at,
                actor_person_id=row.actor_person_id,
                actor_label=row.actor_label,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                details=row.details,
            ),
            prev_hash=bytes(row.prev_hash),
            entry_hash=bytes(row.entry_hash),
        )


def verify_chain(*, session: Session, batch_size: int = 2000) -> ChainReport:
    """Stream every entry in id order and report the first broken one (or that the chain holds)."""
    return verify_entries(_stored_entries(session, batch_size))


def recent_entries(*, session: Session, limit: int = 20) -> list[AuditEntry]:
    """The last `limit` entries, oldest first."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def process_history(*, session: Session, process_id: int, limit: int = 500) -> list[AuditEntry]:
    """Every entry about a process, in order: the process itself and everything that names it."""
    from sqlalchemy import or_

    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                or_(
                    (AuditEntry.object_type == "process") & (AuditEntry.object_id == str(process_id)),
                    AuditEntry.details["process_id"].astext == str(process_id),
                )
            )
            .order_by(AuditEntry.id)
            .limit(limit)
        )
    )
