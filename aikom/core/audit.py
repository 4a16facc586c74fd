"""The audit hash chain: canonical entry content, entry hashes and chain verification (no database).

entry_hash = SHA-256(prev_hash || canonical JSON of the entry's content), where the content is
`at` (ISO 8601 UTC, microseconds), `actor_person_id`, `actor_label`, `action`, `object_type`,
`object_id` and `details`, serialised with sorted keys, no whitespace, UTF-8 (ensure_ascii=False).
The first entry links to GENESIS_HASH (32 zero bytes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from hashlib import sha256
from typing import Any

GENESIS_HASH = bytes(32)


def format_at(at: datetime) -> str:
    """The canonical spelling of an entry's time: UTC, microseconds, 'Z'."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Details as plain JSON values that survive a JSONB round trip unchanged.

    Floats, decimals, dates and enums become strings: JSONB may respell numbers (1e100 comes back as
    an integer), and the hash must be recomputable from what the database returns.
    """

    def convert(value: Any) -> Any:
        if isinstance(value, Enum):
            return convert(value.value)
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError("audit details cannot hold NaN or infinity")
            return repr(value)
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return format_at(value) if value.tzinfo else value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            items = [convert(v) for v in value]
            return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
        raise TypeError(f"audit details cannot hold {type(value).__name__}")

    normalised = convert(dict(details or {}))
    assert isinstance(normalised, dict)
    return normalised


@dataclass(frozen=True)
class EntryContent:
    """What an audit entry says; its hash covers exactly these fields and the previous hash."""

    at: datetime
    actor_person_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str | None
    details: Mapping[str, Any]

    def canonical_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no whitespace, UTF-8) of the content."""
        document = {
            "at": format_at(self.at),
            "actor_person_id": self.actor_person_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "details": self.details,
        }
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")


def entry_hash(prev_hash: bytes, content: EntryContent) -> bytes:
    """SHA-256(prev_hash || canonical content)."""
    if len(prev_hash) != 32:
        raise ValueError("prev_hash must be 32 bytes")
    return sha256(prev_hash + content.canonical_bytes()).digest()


@dataclass(frozen=True)
class StoredEntry:
    """An entry as read back from storage, for verification."""

    id: int
    content: EntryContent
    prev_hash: bytes
    entry_hash: bytes


class BreakReason(StrEnum):
    """Why the chain breaks at an entry."""

    # The entry's content or its stored hash was changed after it was written.
    HASH_MISMATCH = "hash_mismatch"
    # The entry does not link to the entry before it: that one was changed, or one was inserted.
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    # The entry does not link to the entry before it and ids are missing in between: entries were deleted.
    ENTRY_MISSING = "entry_missing"


BREAK_MESSAGES_UK: dict[BreakReason, str] = {
    BreakReason.HASH_MISMATCH: "Запис змінено після внесення: геш не відповідає його вмісту.",
    BreakReason.PREV_HASH_MISMATCH: "Запис не посилається на попередній: попередній запис змінено або "
    "цей запис вставлено поза ланцюгом.",
    BreakReason.ENTRY_MISSING: "Запис не посилається на попередній, і перед ним пропущено номери записів: "
    "ймовірно, записи журналу видалено.",
}


@dataclass(frozen=True)
class BrokenEntry:
    """The first entry at which the chain does not hold, and why."""

    id: int
    reason: BreakReason

    @property
    def message_uk(self) -> str:
        """Ukrainian explanation of the break."""
        return BREAK_MESSAGES_UK[self.reason]


@dataclass(frozen=True)
class ChainReport:
    """Result of a chain verification: entries read and the first broken one (None when intact).

    `head_id`/`head_hash` name the last entry read: keeping them outside the database lets a later
    verification notice entries deleted from the end, which the chain alone cannot reveal.
    """

    entries: int
    first_broken: BrokenEntry | None
    head_id: int | None
    head_hash: bytes | None

    @property
    def ok(self) -> bool:
        """Whether every entry verified."""
        return self.first_broken is None


def verify_entries(entries: Iterable[StoredEntry]) -> ChainReport:
    """Walk entries in id order and name the first one whose hash or link does not hold."""
    expected_prev = GENESIS_HASH
    previous_id = 0
    count = 0
    head_id: int | None = None
    head_hash: bytes | None = None
    for entry in entries:
        count += 1
        if entry_hash(entry.prev_hash, entry.content) != entry.entry_hash:
            return ChainReport(count, BrokenEntry(entry.id, BreakReason.HASH_MISMATCH), head_id, head_hash)
        if entry.prev_hash != expected_prev:
            # Sequence gaps alone prove nothing (a rolled-back append consumes an id); together with a
            # broken link they mean the missing ids were entries.
            reason = (
                BreakReason.ENTRY_MISSING if entry.id > previous_id + 1 else BreakReason.PREV_HASH_MISMATCH
            )
            return ChainReport(count, BrokenEntry(entry.id, reason), head_id, head_hash)
        expected_prev = entry.entry_hash
        previous_id = entry.id
        head_id, head_hash = entry.id, entry.entry_hash
    return ChainReport(count, None, head_id, head_hash)
