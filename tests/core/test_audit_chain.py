"""The audit hash chain as pure rules: canonical content, hashes and where verification stops."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

import pytest

from aikom.core.audit import (
    GENESIS_HASH,
    BreakReason,
    EntryContent,
    StoredEntry,
    entry_hash,
    format_at,
    normalise_details,
    verify_entries,
)

T0 = datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)


def _content(n: int, **changes: object) -> EntryContent:
    fields: dict[str, object] = {
        "at": T0 + timedelta(seconds=n),
        "actor_person_id": None,
        "actor_label": "тест",
        "action": "access_key.issued",
        "object_type": "account",
        "object_id": str(n),
        "details": {"n": n, "назва": "Школа №1"},
    }
    fields.update(changes)
    return EntryContent(**fields)  # type: ignore[arg-type]


def _chain(count: int, first_id: int = 1) -> list[StoredEntry]:
    entries, prev = [], GENESIS_HASH
    for i in range(count):
        content = _content(i)
        h = entry_hash(prev, content)
        entries.append(StoredEntry(id=first_id + i, content=content, prev_hash=prev, entry_hash=h))
        prev = h
    return entries


def test_canonical_content_is_sorted_compact_utf8_json() -> None:
    raw = _content(1).canonical_bytes()
    text = raw.decode("utf-8")
    assert "Школа №1" in text and " " not in text.replace("Школа №1", "")
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert doc["at"] == "2026-01-05T09:30:01.123456Z"


def test_time_is_spelled_in_utc_whatever_the_zone() -> None:
    kyiv = T0.astimezone(timezone(timedelta(hours=2)))
    assert format_at(kyiv) == format_at(T0)
    assert _content(0, at=kyiv).canonical_bytes() == _content(0).canonical_bytes()
    with pytest.raises(ValueError):
        format_at(datetime(2026, 1, 1))


def test_hash_covers_previous_hash_and_every_field() -> None:
    base = entry_hash(GENESIS_HASH, _content(1))
    assert len(base) == 32
    assert entry_hash(b"\x01" * 32, _content(1)) != base
    for change in (
        {"actor_label": "інший"},
        {"action": "x"},
        {"object_type": "x"},
        {"object_id": "2"},
        {"actor_person_id": 7},
        {"details": {"n": 2, "назва": "Школа №1"}},
        {"at": T0 + timedelta(seconds=1, microseconds=1)},
    ):
        assert entry_hash(GENESIS_HASH, _content(1, **change)) != base, change


def test_details_are_normalised_to_values_that_survive_jsonb() -> None:
    class Colour(StrEnum):
        RED = "red"

    details = normalise_details(
        {"f": 1e100, "d": date(2026, 1, 2), "e": Colour.RED, "b": b"\x01", "l": (1, 2), "n": None}
    )
    assert details == {"f": "1e+100", "d": "2026-01-02", "e": "red", "b": "01", "l": [1, 2], "n": None}
    with pytest.raises(TypeError):
        normalise_details({"x": object()})
    with pytest.raises(ValueError):
        normalise_details({"x": float("nan")})


def test_an_intact_chain_verifies_and_names_its_head() -> None:
    entries = _chain(5)
    report = verify_entries(entries)
    assert report.ok and report.entries == 5
    assert (report.head_id, report.head_hash) == (5, entries[-1].entry_hash)
    assert verify_entries([]).ok


def test_an_edited_entry_is_named_with_hash_mismatch() -> None:
    entries = _chain(5)
    edited = entries[2]
    entries[2] = StoredEntry(
        edited.id, _content(2, actor_label="зловмисник"), edited.prev_hash, edited.entry_hash
    )
    report = verify_entries(entries)
    assert not report.ok
    assert report.first_broken is not None
    assert (report.first_broken.id, report.first_broken.reason) == (3, BreakReason.HASH_MISMATCH)
    assert report.first_broken.message_uk


def test_an_edited_entry_with_recomputed_hash_breaks_the_next_link() -> None:
    entries = _chain(5)
    forged = _content(2, actor_label="зловмисник")
    entries[2] = StoredEntry(3, forged, entries[2].prev_hash, entry_hash(entries[2].prev_hash, forged))
    report = verify_entries(entries)
    assert report.first_broken is not None
    assert (report.first_broken.id, report.first_broken.reason) == (4, BreakReason.PREV_HASH_MISMATCH)


def test_a_deleted_entry_is_named_at_the_entry_after_the_gap() -> None:
    entries = _chain(5)
    del entries[1]
    report = verify_entries(entries)
    assert report.first_broken is not None
    assert (report.first_broken.id, report.first_broken.reason) == (3, BreakReason.ENTRY_MISSING)


def test_a_deleted_first_entry_is_detected() -> None:
    report = verify_entries(_chain(3)[1:])
    assert report.first_broken is not None and report.first_broken.id == 2


def test_id_gaps_alone_are_not_a_break() -> None:
    entries = _chain(3)
    # A rolled-back append consumes an id: the chain still holds.
    entries = [StoredEntry(e.id * 10, e.content, e.prev_hash, e.entry_hash) for e in entries]
    assert verify_entries(entries).ok
