"""Org look-ups: a unit by ЄДРПОУ, КАТОТТГ, ЄДЕБО id or id; its parent chain; counts; subtree membership."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ARRAY, Integer, case, cast, exists, func, literal, literal_column, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from aikom.core.errors import NotFound, ValidationFailed
from aikom.models import OrgLevel, OrgStatus, OrgUnit

# A unit's level in Ukrainian (as a noun: «громада», «заклад освіти»).
LEVEL_UK = {
    OrgLevel.NATIONAL: "національний рівень",
    OrgLevel.OBLAST: "область",
    OrgLevel.RAYON: "район",
    OrgLevel.HROMADA: "громада",
    OrgLevel.DISTRICT: "район міста",
    OrgLevel.SCHOOL: "заклад освіти",
    OrgLevel.BRANCH: "філія",
    OrgLevel.OIS_COMPANY: "оператор ОІС",
}

_KATOTTG = re.compile(r"^UA\d{17}$")
_PREFIXED = re.compile(r"^(id|edrpou|edebo|katottg):\s*(\S+)$", re.IGNORECASE)


class OrgUnitNotFound(NotFound):
    """No org unit answers to the given code."""

    code = "org_unit_not_found"

    def __init__(self, query: str) -> None:
        super().__init__(
            f"Організаційну одиницю «{query}» не знайдено (шукали за ЄДРПОУ, КАТОТТГ, кодом ЄДЕБО та id)",
            query=query,
        )
        self.query = query


class OrgUnitBrief(BaseModel):
    """What identifies a unit in lists and parent chains."""

    id: int
    level: OrgLevel
    name: str
    status: OrgStatus
    edrpou: str | None = None
    katottg: str | None = None


class OrgUnitCard(BaseModel):
    """A unit with its parent chain (root first) and the counts below it."""

    unit: dict[str, Any]
    parents: list[OrgUnitBrief]
    managing_body: OrgUnitBrief | None
    children: dict[str, int]
    subtree: dict[str, int]


def _brief(unit: OrgUnit) -> OrgUnitBrief:
    return OrgUnitBrief(
        id=unit.id,
        level=unit.level,
        name=unit.name,
        status=unit.status,
        edrpou=unit.edrpou,
        katottg=unit.katottg,
    )


def find_unit(*, session: Session, code: str) -> OrgUnit:
    """The unit for a code: UA… is КАТОТТГ, 8 digits ЄДРПОУ (else id), other digits id (else ЄДЕБО id).

    A prefix makes it explicit: `id:17`, `edrpou:…`, `edebo:…`, `katottg:…`.
    """
    query = code.strip()
    prefixed = _PREFIXED.match(query)
    kind, value = (prefixed.group(1).lower(), prefixed.group(2)) if prefixed else (None, query)
    if kind == "katottg" or (kind is None and value.upper().startswith("UA")):
        value = value.upper()
        if not _KATOTTG.match(value):
            raise ValidationFailed("code", f"Код КАТОТТГ «{value}» має бути у форматі UA і 17 цифр")
        return _one(session, query, OrgUnit.katottg == value)
    if not value.isdigit():
        raise ValidationFailed(
            "code", f"«{query}» — не ЄДРПОУ (8 цифр), не КАТОТТГ (UA і 17 цифр), не код ЄДЕБО і не id"
        )
    attempts: list[Any]
    if kind == "id":
        attempts = [OrgUnit.id == int(value)]
    elif kind == "edrpou":
        attempts = [OrgUnit.edrpou == value]
    elif kind == "edebo":
        attempts = [OrgUnit.edebo_id == value.lstrip("0")]
    elif len(value) == 8:
        # An id never starts with a zero; an ЄДРПОУ often does.
        attempts = [OrgUnit.edrpou == value] + ([OrgUnit.id == int(value)] if value[0] != "0" else [])
    else:
        attempts = [OrgUnit.id == int(value), OrgUnit.edebo_id == value.lstrip("0")]
    for condition in attempts:
        unit = _first(session, condition)
        if unit is not None:
            return unit
    raise OrgUnitNotFound(query)


def _first(session: Session, condition: Any) -> OrgUnit | None:
    # Among units sharing a ЄДРПОУ (a liquidated school and its successor) the active, newest one.
    active_first = case((OrgUnit.status == OrgStatus.ACTIVE, 0), else_=1)
    return session.scalars(
        select(OrgUnit).where(condition).order_by(active_first, OrgUnit.id.desc()).limit(1)
    ).first()


def _one(session: Session, query: str, condition: Any) -> OrgUnit:
    unit = _first(session, condition)
    if unit is None:
        raise OrgUnitNotFound(query)
    return unit


def get_unit(*, session: Session, unit_id: int) -> OrgUnit:
    """The unit with this id."""
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise OrgUnitNotFound(str(unit_id))
    return unit


def effective_edrpou(session: Session, unit: OrgUnit) -> str | None:
    """The ЄДРПОУ a unit's staff sign with: its own, or for a branch without one, its hub's."""
    if unit.edrpou or unit.level != OrgLevel.BRANCH or unit.parent_id is None:
        return unit.edrpou
    hub = session.get(OrgUnit, unit.parent_id)
    return hub.edrpou if hub else None


def oblasts_within(*, session: Session, unit_id: int) -> list[OrgUnitBrief]:
    """The oblasts at or below `unit_id` (all of them for the national root), by name: a filter's choices."""
    return [
        _brief(unit)
        for unit in session.scalars(
            select(OrgUnit)
            .where(OrgUnit.level == OrgLevel.OBLAST, OrgUnit.lineage.contains([unit_id]))
            .order_by(OrgUnit.name)
        )
    ]


SUBTREE_DEPTHS = (2, 3, 4, 5)  # oblast, rayon, hromada, school: each has an index on `lineage[depth]`


def subtree_ids(unit: OrgUnit) -> ColumnElement[Any]:
    """The ids of `unit` and every unit below it, as ONE array computed once per query
    (`column = ANY(...)` then drives an index scan of the table that names units; a join would test
    every row instead). Units below a unit at depth d are those with `lineage[d]` = its id (indexed)."""
    depth = len(unit.lineage)
    if depth not in SUBTREE_DEPTHS:  # the national root (everything) or a branch (itself)
        ids = select(func.array_agg(OrgUnit.id)).where(OrgUnit.lineage.contains([unit.id]))
    else:
        ids = select(func.array_agg(OrgUnit.id)).where(
            literal_column(f"org_unit.lineage[{depth}]") == unit.id
        )
    return cast(ids.scalar_subquery(), ARRAY(Integer))


def ancestor_ids(session: Session, unit_id: int) -> list[int]:
    """Ids of the unit's ancestors, its parent first and the national root last."""
    up = select(OrgUnit.parent_id.label("id"), literal(1).label("depth")).where(OrgUnit.id == unit_id)
    tree = up.cte("ancestors", recursive=True)
    parent = aliased(OrgUnit)
    tree = tree.union_all(
        select(parent.parent_id, tree.c.depth + 1).where(
            parent.id == tree.c.id, parent.parent_id.is_not(None)
        )
    )
    rows = session.execute(select(tree.c.id).where(tree.c.id.is_not(None)).order_by(tree.c.depth)).scalars()
    return list(rows)


def parent_chain(*, session: Session, unit_id: int) -> list[OrgUnit]:
    """The unit's ancestors, the national root first."""
    ids = ancestor_ids(session, unit_id)
    units = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [units[i] for i in reversed(ids)]


def is_within(session: Session, unit_id: int, ancestor_id: int) -> bool:
    """Whether `unit_id` is `ancestor_id` itself or lies anywhere below it."""
    if unit_id == ancestor_id:
        return session.execute(select(exists().where(OrgUnit.id == unit_id))).scalar() is True
    return ancestor_id in ancestor_ids(session, unit_id)


def _count_by_level(rows: Any) -> dict[str, int]:
    counts = {level.value: 0 for level in OrgLevel}
    for level, n in rows:
        counts[str(level)] = int(n)
    return {k: v for k, v in counts.items() if v}


def child_counts(*, session: Session, unit_id: int) -> dict[str, dict[str, int]]:
    """Units directly under this one and in its whole subtree, per level."""
    direct = session.execute(
        select(OrgUnit.level, func.count()).where(OrgUnit.parent_id == unit_id).group_by(OrgUnit.level)
    ).all()
    tree = (
        select(OrgUnit.id, OrgUnit.level).where(OrgUnit.parent_id == unit_id).cte("subtree", recursive=True)
    )
    child = aliased(OrgUnit)
    tree = tree.union_all(select(child.id, child.level).where(child.parent_id == tree.c.id))
    below = session.execute(select(tree.c.level, func.count()).group_by(tree.c.level)).all()
    return {"children": _count_by_level(direct), "subtree": _count_by_level(below)}


def describe_unit(*, session: Session, code: str) -> OrgUnitCard:
    """A unit found by code, with its parent chain and the counts below it."""
    unit = find_unit(session=session, code=code)
    counts = child_counts(session=session, unit_id=unit.id)
    managing = session.get(OrgUnit, unit.managing_body_id) if unit.managing_body_id else None
    fields = (
        "id", "level", "name", "short_name", "status", "edrpou", "katottg", "katottg_category", "koatuu",
        "edebo_id", "school_type", "settlement", "address", "official_email", "director_name", "parent_id",
        "managing_body_id", "oblast_id", "needs_placement", "placement_note",
    )  # fmt: skip
    return OrgUnitCard(
        unit={f: getattr(unit, f) for f in fields},
        parents=[_brief(u) for u in parent_chain(session=session, unit_id=unit.id)],
        managing_body=_brief(managing) if managing else None,
        children=counts["children"],
        subtree=counts["subtree"],
    )


def tree_counts(*, session: Session) -> dict[str, Any]:
    """Units per level and status, and per oblast: units per level and schools waiting for placement."""
    by_level = _count_by_level(session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)))
    by_status = {
        str(status): int(n)
        for status, n in session.execute(select(OrgUnit.status, func.count()).group_by(OrgUnit.status))
    }
    needs_placement = session.execute(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.needs_placement.is_(True))
    ).scalar_one()
    per_oblast = session.execute(
        select(
            OrgUnit.oblast_id,
            OrgUnit.level,
            func.count(),
            func.count().filter(OrgUnit.needs_placement.is_(True)),
        )
        .where(OrgUnit.oblast_id.is_not(None), OrgUnit.level != OrgLevel.OBLAST)
        .group_by(OrgUnit.oblast_id, OrgUnit.level)
    ).all()
    oblasts = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.OBLAST).order_by(OrgUnit.katottg, OrgUnit.name)
    ).all()
    rows: dict[int, dict[str, Any]] = {
        o.id: {
            "id": o.id,
            "name": o.name,
            "katottg": o.katottg,
            "category": o.katottg_category,
            "counts": {},
            "needs_placement": 0,
        }
        for o in oblasts
    }
    for oblast_id, level, n, waiting in per_oblast:
        row = rows.get(oblast_id) if oblast_id is not None else None
        if row is None:
            continue
        row["counts"][str(level)] = int(n)
        row["needs_placement"] += int(waiting)
    for row in rows.values():
        row["counts"] = _count_by_level(row["counts"].items())
    return {
        "by_level": by_level,
        "by_status": by_status,
        "needs_placement": int(needs_placement),
        "oblasts": list(rows.values()),
    }
