"""Writing imported org units in batches: one savepoint per batch, one per row when a batch fails.

A row the database refuses is reported and skipped; the rows around it are written. Everything stays
inside the caller's transaction, so an import that crashes leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from aikom.imports.report import ImportReport, Progress
from aikom.models import OrgUnit

ORG_UNIT = cast(Table, OrgUnit.__table__)
BATCH_SIZE = 1000

# Ukrainian reasons for the constraints an imported row can still run into.
_CONSTRAINT_REASONS = {
    "uq_org_unit_active_edrpou": "код ЄДРПОУ вже має інший діючий заклад у базі",
    "uq_org_unit_edebo_id": "код ЄДЕБО вже має інший заклад у базі",
    "uq_org_unit_katottg": "код КАТОТТГ вже має інша одиниця в базі",
    "org_unit_level_below_parent": "рівень одиниці не відповідає рівню батьківської",
    "fk_org_unit_parent_id_org_unit": "батьківську одиницю не записано",
    "fk_org_unit_managing_body_id_org_unit": "орган управління не записано",
    "fk_org_unit_oblast_id_org_unit": "область не записано",
}


@dataclass(slots=True)
class PendingWrite:
    """One org unit to insert or update (values carry every column the statement sets, `id` included)."""

    line: int
    name: str
    values: dict[str, Any]


def allocate_ids(session: Session, count: int) -> list[int]:
    """Take `count` ids from the org_unit sequence, so parents and children can be linked before insert."""
    if count == 0:
        return []
    rows = session.execute(
        text("SELECT nextval(pg_get_serial_sequence('org_unit', 'id')) FROM generate_series(1, :n)"),
        {"n": count},
    )
    return [int(v) for v in rows.scalars()]


def _reason(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint in _CONSTRAINT_REASONS:
        return f"База даних відхилила рядок: {_CONSTRAINT_REASONS[constraint]}"
    detail = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    return f"База даних відхилила рядок: {detail}"


def write_units(
    session: Session,
    *,
    writes: Sequence[PendingWrite],
    mode: str,
    report: ImportReport,
    progress: Progress,
    stage: str,
) -> set[int]:
    """Insert (mode="insert") or update (mode="update") the units; return the ids that were written."""
    if not writes:
        return set()
    columns = [c for c in writes[0].values if c != "id"]
    if mode == "insert":
        statement: Any = insert(ORG_UNIT)
    else:
        statement = (
            update(ORG_UNIT)
            .where(ORG_UNIT.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
        )

    def params(batch: Iterable[PendingWrite]) -> list[dict[str, Any]]:
        if mode == "insert":
            return [w.values for w in batch]
        return [{**{c: w.values[c] for c in columns}, "_id": w.values["id"]} for w in batch]

    written: set[int] = set()
    total = len(writes)
    for start in range(0, total, BATCH_SIZE):
        batch = writes[start : start + BATCH_SIZE]
        try:
            with session.begin_nested():
                session.execute(statement, params(batch))
            written.update(w.values["id"] for w in batch)
        except DBAPIError:
            for w in batch:
                try:
                    with session.begin_nested():
                        session.execute(statement, params([w]))
                    written.add(w.values["id"])
                except DBAPIError as exc:
                    report.refuse(w.line, "db_rejected", _reason(exc), name=w.name)
        progress(stage, min(start + BATCH_SIZE, total), total)
    return written
