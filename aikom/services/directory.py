"""The directory («Довідник», `aikom org search|card|move`): find units of the national tree, read a unit's
card as far as the viewer may see it, and place a school the import could not place under its hromada.

Who sees what:
- institute staff and ОУО admins see the subtree of their own unit in full (the institute's unit is the
  national root, so institute staff see everything; a manager placed at an oblast sees that oblast); of a
  unit elsewhere they see only what the open registers publish anyway — name, level, status, codes and
  its place in the tree — never its persons, account, keys or processes. ОУО admins need that much: a
  school awaiting placement sits above their territory (at its rayon or oblast), and a request may name a
  neighbour's school;
- directors and deputies see their own school and its branches, and nothing else;
- an ОІС operator has no business in the tree of schools: refused.
РНОКПП is never read here; of a key only its kind, state, dates and the first characters of its public id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from aikom.core.errors import DomainError, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    KeyKind,
    KeyState,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.services import audit
from aikom.services.org import LEVEL_UK, OrgUnitNotFound
from aikom.services.persons import role_title
from aikom.services.processes import FINAL_STATES, STATE_LABELS_UK

MAX_LIMIT = 200
MIN_NAME_QUERY = 2
KEP_WARNING_DAYS = 30
KEY_PREFIX_CHARS = 6
OPEN_PROCESSES_SHOWN = 20
NOTE_MAX = 500

INSTITUTE_STAFF = frozenset({PersonRole.INSTITUTE_ADMIN, PersonRole.SUPPORT_AGENT, PersonRole.MANAGER})
OUO_ADMINS = frozenset({PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN})
SCHOOL_STAFF = frozenset({PersonRole.DIRECTOR, PersonRole.DEPUTY})
# Who sees units outside their own subtree (name, codes, status only).
SEE_ELSEWHERE = INSTITUTE_STAFF | OUO_ADMINS
DIRECTORY_ROLES = SEE_ELSEWHERE | SCHOOL_STAFF
# Who places a school: an institute admin anywhere, an ОУО admin within its territory.
MOVERS = frozenset({PersonRole.INSTITUTE_ADMIN}) | OUO_ADMINS

STATUS_UK = {
    OrgStatus.ACTIVE: "діє",
    OrgStatus.LIQUIDATED: "ліквідовано",
    OrgStatus.REORGANIZED: "реорганізовано",
    OrgStatus.SUSPENDED: "призупинено",
}
ACCOUNT_STATE_UK = {
    AccountState.PENDING: "очікує першого входу",
    AccountState.ACTIVE: "активний",
    AccountState.SUSPENDED: "призупинено",
    AccountState.DEACTIVATED: "деактивовано",
}
PERSON_STATE_UK = {
    PersonState.PENDING: "очікує першого входу з КЕП",
    PersonState.ACTIVE: "активна",
    PersonState.INACTIVE: "неактивна",
}
KEY_KIND_UK = {KeyKind.BASE: "базовий ключ доступу", KeyKind.API: "ключ API"}
KEY_STATE_UK = {
    KeyState.ACTIVE: "діє",
    KeyState.SUSPENDED: "призупинено",
    KeyState.DEACTIVATED: "деактивовано",
}
MATCHED_BY_UK = {
    "edrpou": "ЄДРПОУ",
    "katottg": "КАТОТТГ",
    "edebo": "код ЄДЕБО",
    "id": "номер",
    "name": "назва",
    "filter": "фільтр",
}

_KATOTTG = re.compile(r"^UA\d{17}$")
_PREFIXED = re.compile(r"^(id|edrpou|edebo|katottg):\s*(\S+)$", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['’ʼ`]")


class Visibility(StrEnum):
    """How much of a unit the viewer sees."""

    FULL = "full"  # everything the card holds
    LIMITED = "limited"  # name, level, status, codes and place in the tree


# --- refusals ---------------------------------------------------------------------------------------


class DirectoryClosedToRole(RoleNotAllowed):
    """The directory is for institute staff, ОУО admins, directors and deputies."""

    code = "directory_role_not_allowed"

    def __init__(self, viewer: Person) -> None:
        super().__init__(
            f"Довідник закладів недоступний для ролі «{role_title(viewer.role)}»: він для працівників ІОА, "
            "адміністраторів ОУО, керівників закладів та їхніх заступників.",
            person_id=viewer.id,
        )


class ViewerNotActive(DomainError):
    """Only a pending or active person card reads the directory; an inactive one is closed."""

    code = "person_not_active"

    def __init__(self, viewer: Person) -> None:
        super().__init__(
            f"Картка особи №{viewer.id} неактивна: довідник і переміщення закладів їй недоступні.",
            person_id=viewer.id,
        )


class UnitNotInScope(NotInScope):
    """A director or deputy sees only their own school and its branches."""

    code = "unit_not_in_scope"

    def __init__(self, viewer: Person, unit_id: int) -> None:
        super().__init__(
            f"Одиниця №{unit_id} поза вашою зоною: керівник закладу та заступник бачать у довіднику лише "
            "свій заклад і його філії.",
            person_id=viewer.id,
            unit_id=unit_id,
        )


class SearchQueryTooShort(ValidationFailed):
    """A search names at least two characters of a name, a code, or a filter."""

    code = "search_query_too_short"

    def __init__(self) -> None:
        super().__init__(
            "query",
            f"Пошук: вкажіть щонайменше {MIN_NAME_QUERY} символи назви, код (ЄДРПОУ — 8 цифр, КАТОТТГ — UA і "
            "17 цифр, код ЄДЕБО) або оберіть фільтр.",
        )


class SearchLimitOutOfRange(ValidationFailed):
    """A page of results holds 1–200 units."""

    code = "search_limit_out_of_range"

    def __init__(self, limit: int) -> None:
        super().__init__("limit", f"Кількість результатів: від 1 до {MAX_LIMIT} (вказано {limit}).")


class MoveRoleNotAllowed(RoleNotAllowed):
    """Only an institute admin or an ОУО admin places a school."""

    code = "move_role_not_allowed"

    def __init__(self, actor: Person) -> None:
        super().__init__(
            "Перемістити заклад під громаду може технічний адміністратор ІОА або адміністратор ОУО, до "
            f"території якого належить громада; ваша роль — «{role_title(actor.role)}».",
            person_id=actor.id,
        )


class OnlySchoolsArePlaced(DomainError):
    """Placement moves a school (level «заклад освіти»), nothing else."""

    code = "only_schools_are_placed"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Заклад: «{unit.name}» — {LEVEL_UK[unit.level]}, а під громаду переміщують лише заклад освіти.",
            unit_id=unit.id,
        )


class SchoolAlreadyPlaced(DomainError):
    """Only a school marked «потребує розміщення» is moved here; a placed one changes through a process."""

    code = "school_already_placed"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Заклад «{unit.name}» уже розміщено: переміщують лише заклади з позначкою "
            "«потребує розміщення».",
            unit_id=unit.id,
        )


class TargetNotHromada(DomainError):
    """A school goes under a hromada (or a city with special status), nowhere else."""

    code = "target_not_hromada"

    def __init__(self, target: OrgUnit) -> None:
        super().__init__(
            f"Нова громада: «{target.name}» — {LEVEL_UK[target.level]}; заклад розміщують лише під "
            "громадою (або містом зі спеціальним статусом).",
            target_id=target.id,
        )


class TargetNotActive(DomainError):
    """A school is not placed under a hromada that no longer exists."""

    code = "target_not_active"

    def __init__(self, target: OrgUnit) -> None:
        super().__init__(
            f"Нова громада: «{target.name}» має статус «{STATUS_UK[target.status]}»; оберіть чинну громаду.",
            target_id=target.id,
        )


class HromadaOutsideTerritory(NotInScope):
    """An ОУО admin places schools only under hromadas of its own territory."""

    code = "hromada_outside_territory"

    def __init__(self, actor: Person, target: OrgUnit, territory: OrgUnit) -> None:
        super().__init__(
            f"Нова громада: «{target.name}» не належить до території «{territory.name}»; перемістити заклад "
            "до неї може адміністратор її ОУО або технічний адміністратор ІОА.",
            person_id=actor.id,
            target_id=target.id,
        )


class HromadaOutsideKnownPlacement(NotInScope):
    """The import knew the school lies within its present unit (a rayon, an oblast): an ОУО admin places it
    below that unit; moving it to another rayon or oblast is an institute admin's correction."""

    code = "hromada_outside_known_placement"

    def __init__(self, unit: OrgUnit, target: OrgUnit, known: OrgUnit) -> None:
        super().__init__(
            f"Нова громада: «{target.name}» лежить поза «{known.name}», де зараз перебуває заклад "
            f"«{unit.name}»; перенести його до іншого району чи області може лише технічний "
            "адміністратор ІОА.",
            unit_id=unit.id,
            target_id=target.id,
        )


class PlacementNoteTooLong(ValidationFailed):
    """The note of a placement fits the audit entry (500 characters)."""

    code = "placement_note_too_long"

    def __init__(self, length: int) -> None:
        super().__init__("note", f"Примітка: не більше {NOTE_MAX} символів (зараз {length}).")


# --- what comes back ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitBrief:
    """A unit named in a card: in the parent chain, as managing body, as a branch, as a placement target."""

    id: int
    level: OrgLevel
    level_uk: str
    name: str
    status: OrgStatus
    status_uk: str
    edrpou: str | None = None
    katottg: str | None = None


@dataclass(frozen=True)
class UnitRow:
    """One search result; `visibility` says whether the viewer may open its full card."""

    id: int
    level: OrgLevel
    level_uk: str
    name: str
    status: OrgStatus
    status_uk: str
    edrpou: str | None
    katottg: str | None
    edebo_id: str | None
    settlement: str | None
    parent_name: str | None
    oblast_name: str | None
    needs_placement: bool
    matched_by: str
    matched_by_uk: str
    visibility: Visibility


@dataclass(frozen=True)
class SearchResult:
    """A page of units found: exact code matches first, then names; `truncated` when more matched."""

    query: str
    rows: list[UnitRow]
    limit: int
    truncated: bool


@dataclass(frozen=True)
class AccountInfo:
    """The unit's account as the card shows it."""

    id: int
    state: AccountState
    state_uk: str
    deactivation_reason: str | None
    deactivated_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class PersonEntry:
    """A person card of the unit: name, role, state, email, КЕП validity (never the РНОКПП)."""

    id: int
    full_name: str
    email: str
    role: PersonRole
    role_uk: str
    title: str | None
    state: PersonState
    state_uk: str
    is_former: bool
    kep_not_after: datetime | None


@dataclass(frozen=True)
class KeyEntry:
    """A key of the account: kind, state, dates and the first characters of its public id (no secret)."""

    id: int
    kind: KeyKind
    kind_uk: str
    state: KeyState
    state_uk: str
    public_id_prefix: str
    created_at: datetime
    delivered_at: datetime | None
    deactivated_at: datetime | None


@dataclass(frozen=True)
class ProcessEntry:
    """An open process about the unit."""

    id: int
    title: str
    state: str
    state_uk: str
    created_at: datetime


@dataclass(frozen=True)
class KepWarning:
    """A person of the unit whose КЕП expires within 30 days or has expired."""

    person_id: int
    full_name: str
    role_uk: str
    kep_not_after: datetime
    expired: bool
    days_left: int


@dataclass(frozen=True)
class UnitCard:
    """A unit as the viewer may see it; a LIMITED card leaves the account, persons, keys and processes out."""

    visibility: Visibility
    id: int
    level: OrgLevel
    level_uk: str
    name: str
    status: OrgStatus
    status_uk: str
    edrpou: str | None
    katottg: str | None
    edebo_id: str | None
    koatuu: str | None
    parents: list[UnitBrief]
    needs_placement: bool
    may_move: bool
    short_name: str | None = None
    school_type: str | None = None
    settlement: str | None = None
    address: str | None = None
    official_email: str | None = None
    director_name: str | None = None
    edebo_mark: str | None = None
    managing_body_name: str | None = None
    placement_note: str | None = None
    managing_body: UnitBrief | None = None
    children: dict[str, int] = field(default_factory=dict)
    account: AccountInfo | None = None
    persons: list[PersonEntry] = field(default_factory=list)
    keys: list[KeyEntry] = field(default_factory=list)
    branches: list[UnitBrief] = field(default_factory=list)
    open_processes: list[ProcessEntry] = field(default_factory=list)
    open_processes_total: int = 0
    kep_expiring: list[KepWarning] = field(default_factory=list)


@dataclass(frozen=True)
class Placement:
    """Where a unit sat and where it is now (what the audit entry records)."""

    parent_id: int | None
    parent_name: str | None
    managing_body_id: int | None
    oblast_id: int | None


@dataclass(frozen=True)
class MoveResult:
    """A placed school: before and after, the branches that followed it, and the audit entry."""

    unit_id: int
    name: str
    before: Placement
    after: Placement
    branch_ids: list[int]
    note: str | None
    audit_entry_id: int
    message_uk: str


# --- scope ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    root_id: int  # the unit whose subtree the viewer sees in full
    elsewhere: bool  # whether units elsewhere are shown at all (LIMITED)


def _scope(viewer: Person) -> _Scope:
    if viewer.role not in DIRECTORY_ROLES:
        raise DirectoryClosedToRole(viewer)
    if viewer.state == PersonState.INACTIVE:
        raise ViewerNotActive(viewer)
    return _Scope(root_id=viewer.org_unit_id, elsewhere=viewer.role in SEE_ELSEWHERE)


def _visibility(scope: _Scope, lineage: Sequence[int]) -> Visibility | None:
    if scope.root_id in lineage:
        return Visibility.FULL
    return Visibility.LIMITED if scope.elsewhere else None


def _brief(unit: OrgUnit) -> UnitBrief:
    return UnitBrief(
        id=unit.id,
        level=unit.level,
        level_uk=LEVEL_UK[unit.level],
        name=unit.name,
        status=unit.status,
        status_uk=STATUS_UK[unit.status],
        edrpou=unit.edrpou,
        katottg=unit.katottg,
    )


# --- search -----------------------------------------------------------------------------------------


def _like_token(token: str) -> str:
    """A word as an ILIKE pattern: wildcards escaped, any apostrophe matching any other."""
    escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + _APOSTROPHES.sub("_", escaped) + "%"


def _code_matches(query: str) -> tuple[list[tuple[str, ColumnElement[bool]]], bool]:
    """Conditions for exact code matches, each named by its kind; and whether names are searched too."""
    prefixed = _PREFIXED.match(query)
    if prefixed:
        kind, value = prefixed.group(1).lower(), prefixed.group(2)
        if kind == "katottg":
            return [("katottg", OrgUnit.katottg == value.upper())], False
        if not value.isdigit():
            raise ValidationFailed("query", f"Пошук: після «{kind}:» мають бути цифри (вказано «{value}»).")
        if kind == "id":
            return ([("id", OrgUnit.id == int(value))] if len(value) < 10 else []), False
        if kind == "edrpou":
            return [("edrpou", OrgUnit.edrpou == value)], False
        return [("edebo", OrgUnit.edebo_id == (value.lstrip("0") or "0"))], False
    if _KATOTTG.match(query.upper()):
        return [("katottg", OrgUnit.katottg == query.upper())], False
    if query.isdigit():
        found: list[tuple[str, ColumnElement[bool]]] = []
        if len(query) == 8:
            found.append(("edrpou", OrgUnit.edrpou == query))
        found.append(("edebo", OrgUnit.edebo_id == (query.lstrip("0") or "0")))
        return found, True  # «7» may also be a school's number in its name
    return [], True


def search_units(
    *,
    session: Session,
    viewer: Person,
    query: str,
    level: OrgLevel | None = None,
    oblast_id: int | None = None,
    needs_placement: bool | None = None,
    limit: int = 50,
) -> SearchResult:
    """Units matching a code (ЄДРПОУ, КАТОТТГ, ЄДЕБО id; `id:`/`edrpou:`/`edebo:`/`katottg:` prefixes) or
    every word of a name, filtered; exact code matches first, then exact, leading and other name matches."""
    scope = _scope(viewer)
    if limit < 1 or limit > MAX_LIMIT:
        raise SearchLimitOutOfRange(limit)
    text = " ".join(query.split())
    codes, by_name = _code_matches(text) if text else ([], False)
    words = text.split() if by_name else []
    has_filter = level is not None or oblast_id is not None or needs_placement is not None
    if not codes and len(text) < MIN_NAME_QUERY and not (not text and has_filter):
        raise SearchQueryTooShort()

    matched: list[ColumnElement[bool]] = [cond for _, cond in codes]
    if words:
        matched.append(_all_words(words))
    if text and not matched:  # a code that cannot exist (`id:` beyond any id): nothing matches it
        return SearchResult(query=text, rows=[], limit=limit, truncated=False)
    where: list[ColumnElement[bool]] = [or_(*matched)] if matched else []
    if scope.elsewhere is False:
        where.append(OrgUnit.lineage.contains([scope.root_id]))
    if level is not None:
        where.append(OrgUnit.level == level)
    if oblast_id is not None:
        where.append(or_(OrgUnit.oblast_id == oblast_id, OrgUnit.id == oblast_id))
    if needs_placement is not None:
        where.append(OrgUnit.needs_placement.is_(needs_placement))

    lowered = func.lower(OrgUnit.name)
    rank_whens: list[tuple[ColumnElement[bool], int]] = [(cond, 0) for _, cond in codes]
    if words:
        rank_whens += [(lowered == text.lower(), 1), (OrgUnit.name.ilike(_like_token(text)[1:]), 2)]
    order: list[ColumnElement[int]] = [case(*rank_whens, else_=3)] if rank_whens else []
    level_order = case({lv: lv.rank for lv in OrgLevel}, value=OrgUnit.level)
    parent = aliased(OrgUnit, name="parent_unit")
    oblast = aliased(OrgUnit, name="oblast_unit")
    stmt = (
        select(OrgUnit, parent.name, oblast.name)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .outerjoin(oblast, oblast.id == OrgUnit.oblast_id)
        .where(*where)
        .order_by(*order, level_order, OrgUnit.name, OrgUnit.id)
        .limit(limit + 1)
    )
    rows: list[UnitRow] = []
    for unit, parent_name, oblast_name in session.execute(stmt):
        visibility = _visibility(scope, unit.lineage)
        if visibility is None:  # (the lineage condition already keeps them out)
            continue
        how = _matched_by(unit, text, codes)
        rows.append(
            UnitRow(
                id=unit.id,
                level=unit.level,
                level_uk=LEVEL_UK[unit.level],
                name=unit.name,
                status=unit.status,
                status_uk=STATUS_UK[unit.status],
                edrpou=unit.edrpou,
                katottg=unit.katottg,
                edebo_id=unit.edebo_id,
                settlement=unit.settlement if visibility == Visibility.FULL else None,
                parent_name=parent_name,
                oblast_name=oblast_name,
                needs_placement=unit.needs_placement,
                matched_by=how,
                matched_by_uk=MATCHED_BY_UK.get(how, how),
                visibility=visibility,
            )
        )
    return SearchResult(query=text, rows=rows[:limit], limit=limit, truncated=len(rows) > limit)


def _all_words(words: list[str]) -> ColumnElement[bool]:
    return and_(
        *[or_(OrgUnit.name.ilike(_like_token(w)), OrgUnit.short_name.ilike(_like_token(w))) for w in words]
    )


def _matched_by(unit: OrgUnit, text: str, codes: list[tuple[str, ColumnElement[bool]]]) -> str:
    value = text.split(":", 1)[1].strip() if _PREFIXED.match(text) else text
    for kind, _ in codes:
        if kind == "edrpou" and unit.edrpou == value:
            return kind
        if kind == "katottg" and unit.katottg == value.upper():
            return kind
        if kind == "edebo" and unit.edebo_id == (value.lstrip("0") or "0"):
            return kind
        if kind == "id" and value.isdigit() and unit.id == int(value):
            return kind
    return "name" if text else "filter"


# --- the card ---------------------------------------------------------------------------------------


def unit_card(*, session: Session, viewer: Person, unit_id: int, now: datetime | None = None) -> UnitCard:
    """A unit as `viewer` may see it: in full within their scope, name/codes/status elsewhere (or refused)."""
    scope = _scope(viewer)
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise OrgUnitNotFound(str(unit_id))
    visibility = _visibility(scope, unit.lineage)
    if visibility is None:
        raise UnitNotInScope(viewer, unit_id)
    ancestors = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(unit.lineage[:-1])))}
    parents = [_brief(ancestors[i]) for i in unit.lineage[:-1] if i in ancestors]
    may_move = _may_move(session, viewer, unit)
    # Whoever may place the school needs to know why the import could not.
    limited = UnitCard(
        visibility=Visibility.LIMITED,
        id=unit.id,
        level=unit.level,
        level_uk=LEVEL_UK[unit.level],
        name=unit.name,
        status=unit.status,
        status_uk=STATUS_UK[unit.status],
        edrpou=unit.edrpou,
        katottg=unit.katottg,
        edebo_id=unit.edebo_id,
        koatuu=unit.koatuu,
        parents=parents,
        needs_placement=unit.needs_placement,
        may_move=may_move,
        placement_note=unit.placement_note if may_move else None,
    )
    if visibility == Visibility.LIMITED:
        return limited
    now = now or datetime.now(UTC)
    managing = session.get(OrgUnit, unit.managing_body_id) if unit.managing_body_id else None
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    persons = _persons(session, unit.id)
    processes, processes_total = _open_processes(session, unit.id)
    return replace(
        limited,
        visibility=Visibility.FULL,
        short_name=unit.short_name,
        school_type=unit.school_type,
        settlement=unit.settlement,
        address=unit.address,
        official_email=unit.official_email,
        director_name=unit.director_name,
        edebo_mark=unit.edebo_mark,
        managing_body_name=unit.managing_body_name,
        placement_note=unit.placement_note,
        managing_body=_brief(managing) if managing else None,
        children=_children(session, unit.id),
        account=_account(account) if account else None,
        persons=persons,
        keys=_keys(session, account.id) if account else [],
        branches=[
            _brief(b)
            for b in session.scalars(
                select(OrgUnit)
                .where(OrgUnit.parent_id == unit.id, OrgUnit.level == OrgLevel.BRANCH)
                .order_by(OrgUnit.name, OrgUnit.id)
            )
        ],
        open_processes=processes,
        open_processes_total=processes_total,
        kep_expiring=_kep_expiring(persons, now),
    )


def _children(session: Session, unit_id: int) -> dict[str, int]:
    rows = session.execute(
        select(OrgUnit.level, func.count()).where(OrgUnit.parent_id == unit_id).group_by(OrgUnit.level)
    ).all()
    counts = {level: int(n) for level, n in rows}
    return {lv.value: counts[lv] for lv in OrgLevel if counts.get(lv)}


def _account(account: Account) -> AccountInfo:
    return AccountInfo(
        id=account.id,
        state=account.state,
        state_uk=ACCOUNT_STATE_UK[account.state],
        deactivation_reason=account.deactivation_reason.value if account.deactivation_reason else None,
        deactivated_at=account.deactivated_at,
        created_at=account.created_at,
    )


_PERSON_STATE_ORDER = case(
    {PersonState.ACTIVE: 0, PersonState.PENDING: 1, PersonState.INACTIVE: 2}, value=Person.state
)


def _persons(session: Session, unit_id: int) -> list[PersonEntry]:
    # Only the columns shown: the РНОКПП ciphertext and blind index never leave the database here.
    rows = session.execute(
        select(
            Person.id,
            Person.full_name,
            Person.email,
            Person.role,
            Person.title,
            Person.state,
            Person.is_former,
            Person.kep_not_after,
        )
        .where(Person.org_unit_id == unit_id)
        .order_by(_PERSON_STATE_ORDER, Person.role, Person.full_name, Person.id)
    ).all()
    return [
        PersonEntry(
            id=r.id,
            full_name=r.full_name,
            email=r.email,
            role=r.role,
            role_uk=role_title(r.role),
            title=r.title,
            state=r.state,
            state_uk=PERSON_STATE_UK[r.state],
            is_former=r.is_former,
            kep_not_after=r.kep_not_after,
        )
        for r in rows
    ]


_KEY_STATE_ORDER = case(
    {KeyState.ACTIVE: 0, KeyState.SUSPENDED: 1, KeyState.DEACTIVATED: 2}, value=AccessKey.state
)


def _keys(session: Session, account_id: int) -> list[KeyEntry]:
    # Neither the secret's hash nor the pepper id is selected; of the public id only its first characters.
    rows = session.execute(
        select(
            AccessKey.id,
            AccessKey.kind,
            AccessKey.state,
            func.left(AccessKey.public_id, KEY_PREFIX_CHARS).label("prefix"),
            AccessKey.created_at,
            AccessKey.delivered_at,
            AccessKey.deactivated_at,
        )
        .where(AccessKey.account_id == account_id)
        .order_by(AccessKey.kind, _KEY_STATE_ORDER, AccessKey.created_at.desc(), AccessKey.id.desc())
    ).all()
    return [
        KeyEntry(
            id=r.id,
            kind=r.kind,
            kind_uk=KEY_KIND_UK[r.kind],
            state=r.state,
            state_uk=KEY_STATE_UK[r.state],
            public_id_prefix=f"{r.prefix}…",
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            deactivated_at=r.deactivated_at,
        )
        for r in rows
    ]


def _open_processes(session: Session, unit_id: int) -> tuple[list[ProcessEntry], int]:
    where = (Process.subject_org_unit_id == unit_id, Process.state.not_in(FINAL_STATES))
    total = session.scalar(select(func.count()).select_from(Process).where(*where)) or 0
    rows = session.execute(
        select(Process.id, Process.type, Process.title, Process.state, Process.created_at)
        .where(*where)
        .order_by(Process.created_at.desc(), Process.id.desc())
        .limit(OPEN_PROCESSES_SHOWN)
    ).all()
    from aikom.processes import title_of

    return [
        ProcessEntry(
            id=r.id,
            title=r.title or f"{title_of(r.type)} №{r.id}",
            state=r.state.value,
            state_uk=STATE_LABELS_UK[r.state],
            created_at=r.created_at,
        )
        for r in rows
    ], int(total)


def _kep_expiring(persons: list[PersonEntry], now: datetime) -> list[KepWarning]:
    """Persons still acting (pending or active) whose КЕП ends within 30 days or has ended, soonest first."""
    horizon = now + timedelta(days=KEP_WARNING_DAYS)
    warnings = [
        KepWarning(
            person_id=p.id,
            full_name=p.full_name,
            role_uk=p.role_uk,
            kep_not_after=p.kep_not_after,
            expired=p.kep_not_after <= now,
            days_left=max(0, (p.kep_not_after - now).days),
        )
        for p in persons
        if p.state != PersonState.INACTIVE and p.kep_not_after is not None and p.kep_not_after <= horizon
    ]
    return sorted(warnings, key=lambda w: (w.kep_not_after, w.person_id))


# --- placing a school -------------------------------------------------------------------------------


def _is_place_for_school(unit: OrgUnit) -> bool:
    """A hromada or a city's district, or a city with special status (an oblast-level unit of КАТОТТГ
    category K)."""
    if unit.level in (OrgLevel.HROMADA, OrgLevel.DISTRICT):
        return True
    return unit.level == OrgLevel.OBLAST and unit.katottg_category == "K"


def _check_mover(actor: Person) -> None:
    if actor.role not in MOVERS:
        raise MoveRoleNotAllowed(actor)
    if actor.state != PersonState.ACTIVE:
        raise ViewerNotActive(actor)


def _check_school(unit: OrgUnit) -> None:
    if unit.level != OrgLevel.SCHOOL:
        raise OnlySchoolsArePlaced(unit)
    if not unit.needs_placement:
        raise SchoolAlreadyPlaced(unit)


def _check_target(session: Session, actor: Person, unit: OrgUnit, target: OrgUnit) -> None:
    if not _is_place_for_school(target):
        raise TargetNotHromada(target)
    if target.status != OrgStatus.ACTIVE:
        raise TargetNotActive(target)
    if actor.role == PersonRole.INSTITUTE_ADMIN:
        return
    if actor.org_unit_id not in target.lineage:
        raise HromadaOutsideTerritory(actor, target, session.get_one(OrgUnit, actor.org_unit_id))
    if unit.parent_id is not None and unit.parent_id not in target.lineage:
        raise HromadaOutsideKnownPlacement(unit, target, session.get_one(OrgUnit, unit.parent_id))


def _may_move(session: Session, actor: Person, unit: OrgUnit) -> bool:
    """Whether `actor` may place `unit` under some hromada (the card offers «Перемістити»)."""
    if actor.role not in MOVERS or actor.state != PersonState.ACTIVE:
        return False
    if unit.level != OrgLevel.SCHOOL or not unit.needs_placement:
        return False
    return bool(placement_targets(session=session, actor=actor, unit_id=unit.id, limit=1))


def placement_targets(
    *, session: Session, actor: Person, unit_id: int, query: str = "", limit: int = 50
) -> list[UnitBrief]:
    """The hromadas `actor` may place this school under, by name: within the actor's territory (an
    institute admin: anywhere) and, for an ОУО admin, below the unit where the school sits now."""
    if actor.role not in MOVERS or actor.state != PersonState.ACTIVE:
        return []
    unit = session.get(OrgUnit, unit_id)
    if unit is None or unit.level != OrgLevel.SCHOOL or not unit.needs_placement:
        return []
    where: list[ColumnElement[bool]] = [
        or_(
            OrgUnit.level.in_([OrgLevel.HROMADA, OrgLevel.DISTRICT]),
            and_(OrgUnit.level == OrgLevel.OBLAST, OrgUnit.katottg_category == "K"),
        ),
        OrgUnit.status == OrgStatus.ACTIVE,
    ]
    if actor.role != PersonRole.INSTITUTE_ADMIN:
        where.append(OrgUnit.lineage.contains([actor.org_unit_id]))
        if unit.parent_id is not None:
            where.append(OrgUnit.lineage.contains([unit.parent_id]))
    elif unit.parent_id is not None and query.strip() == "":
        # With no name typed, an institute admin is offered the hromadas where the school sits first.
        where.append(OrgUnit.lineage.contains([unit.parent_id]))
    for word in query.split():
        where.append(OrgUnit.name.ilike(_like_token(word)))
    return [
        _brief(u)
        for u in session.scalars(
            select(OrgUnit).where(*where).order_by(OrgUnit.name, OrgUnit.id).limit(limit)
        )
    ]


# Words of a register's «орган управління» that name a body above the hromada.
_BODY_LEVEL_WORDS = ((OrgLevel.OBLAST, "обласн"), (OrgLevel.RAYON, "районн"))


def managing_body_for(session: Session, school: OrgUnit, target: OrgUnit) -> OrgUnit:
    """The body that manages a school placed under `target`: the hromada, unless the register's «орган
    управління» names another unit of its chain — by name, or as an oblast or rayon body
    («…обласної державної адміністрації», «…районної ради»)."""
    named = " ".join((school.managing_body_name or "").split()).casefold()
    if not named:
        return target
    chain = [u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(target.lineage)))]
    for unit in chain:
        if named in {" ".join(n.split()).casefold() for n in (unit.name, unit.short_name) if n}:
            return unit
    if target.level == OrgLevel.DISTRICT and re.search(
        r"районн\w*\s+(?:в|у)\s+місті|району\s+\S+\s+міськ", named
    ):
        return target  # «…Покровської районної в місті ради»: the district's body, not the rayon's
    for level, word in _BODY_LEVEL_WORDS:
        if word in named:
            for unit in chain:
                if unit.level == level:
                    return unit
    return target


def _placement(session: Session, unit: OrgUnit) -> Placement:
    parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    return Placement(
        parent_id=unit.parent_id,
        parent_name=parent.name if parent else None,
        managing_body_id=unit.managing_body_id,
        oblast_id=unit.oblast_id,
    )


def move_unit(
    *, session: Session, actor: Person, unit_id: int, new_parent_id: int, note: str | None = None
) -> MoveResult:
    """Place a school marked «потребує розміщення» under a hromada; its managing body and oblast follow
    (and its branches'), the mark is cleared, and the audit records before and after."""
    _check_mover(actor)
    note = " ".join((note or "").split()) or None
    if note is not None and len(note) > NOTE_MAX:
        raise PlacementNoteTooLong(len(note))
    unit = session.get(OrgUnit, unit_id, with_for_update=True)
    if unit is None:
        raise OrgUnitNotFound(str(unit_id))
    _check_school(unit)
    target = session.get(OrgUnit, new_parent_id)
    if target is None:
        raise OrgUnitNotFound(str(new_parent_id))
    _check_target(session, actor, unit, target)

    before = _placement(session, unit)
    old_body_id, old_note = unit.managing_body_id, unit.placement_note
    body = managing_body_for(session, unit, target)
    oblast_id = target.id if target.level == OrgLevel.OBLAST else target.oblast_id
    unit.parent_id = target.id
    unit.managing_body_id = body.id
    unit.oblast_id = oblast_id
    unit.needs_placement = False
    unit.placement_note = None
    branches = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == unit.id, OrgUnit.level == OrgLevel.BRANCH)
            .order_by(OrgUnit.id)
        )
    )
    for branch in branches:
        branch.oblast_id = oblast_id
        if branch.managing_body_id in (None, old_body_id):
            branch.managing_body_id = body.id
    session.flush()  # the database trigger moves the lineage of the school and of everything below it
    after = _placement(session, unit)
    entry = audit.record(
        session=session,
        action="org_unit.placed",
        object_type="org_unit",
        object_id=unit.id,
        details={
            "before": before.__dict__,
            "after": after.__dict__,
            "placement_note": old_note,
            "register_managing_body": unit.managing_body_name,
            "note": note,
            "branch_ids": [b.id for b in branches],
        },
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    body_text = "" if body.id == target.id else f"; орган управління — «{body.name}» (за реєстром)"
    return MoveResult(
        unit_id=unit.id,
        name=unit.name,
        before=before,
        after=after,
        branch_ids=[b.id for b in branches],
        note=note,
        audit_entry_id=entry.id,
        message_uk=f"Заклад «{unit.name}» розміщено під «{target.name}»{body_text}.",
    )
