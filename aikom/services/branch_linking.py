"""Linking the register's branches to their hub schools: automatically where exactly one hub of the same
oblast fits, otherwise a queue of ranked candidates for the managing ОУО (or an institute admin).

ЄДЕБО marks branches («Філія») but rarely names their hub. Every unit marked as a branch gets one
`branch_link` row: LINKED (automatically), QUEUED (ranked candidates wait for a person), NO_CANDIDATE
(nothing in its oblast resembles its hub: reported) or CONFIRMED (a person chose the hub). Re-running
never touches a LINKED or CONFIRMED row; the matching rules are in `aikom.core.branch_names`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from rapidfuzz import fuzz, process
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from aikom.core.actor import Actor
from aikom.core.branch_names import (
    BranchName,
    Candidate,
    identifying_words,
    name_similarity,
    rank,
    same_body,
    settlement_word,
    unique_fit,
)
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed
from aikom.models import (
    BranchLink,
    BranchLinkOutcome,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
)
from aikom.services import audit

SYSTEM_LABEL = "branch-linking"
BRANCH_MARK, HUB_MARK = "branch", "hub"
# Who may confirm a branch's hub: an institute admin anywhere, an ОУО admin within its subtree.
LINKING_ROLES = frozenset(
    {PersonRole.INSTITUTE_ADMIN, PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}
)
DECIDED = (BranchLinkOutcome.LINKED, BranchLinkOutcome.CONFIRMED)
NAMED_BY_EDEBO = "головний заклад названо в ЄДЕБО"
_PREFILTER = 50.0  # a RapidFuzz token-set cut that only drops schools that cannot become candidates


# --- refusals ----------------------------------------------------------------------------------------


class BranchNotFound(NotFound):
    """No branch of the register answers to the given unit."""

    code = "branch_not_found"

    def __init__(self, unit_id: int) -> None:
        super().__init__(
            f"Філія: одиниця № {unit_id} не позначена в ЄДЕБО як філія (поле «Опорний / Філія»).",
            unit_id=unit_id,
        )


class HubNotFound(NotFound):
    """The chosen hub does not exist."""

    code = "hub_not_found"

    def __init__(self, unit_id: int) -> None:
        super().__init__(f"Опорний заклад: одиницю № {unit_id} не знайдено.", unit_id=unit_id)


class MayNotLinkBranches(RoleNotAllowed):
    """Only ОУО admins and institute admins confirm a branch's hub."""

    code = "may_not_link_branches"

    def __init__(self) -> None:
        super().__init__(
            "Прив’язувати філії до опорних закладів можуть лише активні адміністратори ОУО (області, "
            "району, громади) та адміністратори ІОА."
        )


class BranchNotInScope(NotInScope):
    """The branch lies outside the admin's subtree."""

    code = "branch_not_in_scope"

    def __init__(self, branch: OrgUnit) -> None:
        super().__init__(
            f"Філія «{branch.name}» не перебуває у сфері управління вашого ОУО: її прив’язує ОУО, до "
            "якого вона належить, або адміністратор ІОА.",
            branch_id=branch.id,
        )


class HubIsABranch(DomainError):
    """A hub must be a school, not a branch (nor the branch itself)."""

    code = "hub_is_a_branch"

    def __init__(self, hub: OrgUnit) -> None:
        super().__init__(
            f"Опорний заклад: «{hub.name}» сам є філією (або не є закладом освіти); філію прив’язують "
            "лише до закладу, що не є філією.",
            hub_id=hub.id,
        )


class HubInAnotherOblast(DomainError):
    """A branch and its hub lie in the same oblast."""

    code = "hub_in_another_oblast"

    def __init__(self, hub: OrgUnit) -> None:
        super().__init__(
            f"Опорний заклад: «{hub.name}» розташований в іншій області; філію прив’язують лише до "
            "опорного закладу тієї самої області.",
            hub_id=hub.id,
        )


class BranchHasUnits(DomainError):
    """A unit with units of its own under it cannot become a branch."""

    code = "branch_has_units"

    def __init__(self, branch: OrgUnit) -> None:
        super().__init__(
            f"Філія: під «{branch.name}» уже є інші одиниці, тож її не можна зробити філією; спершу "
            "перенесіть їх.",
            branch_id=branch.id,
        )


# --- counts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchLinkCounts:
    """How the register's branches stand: what the CLI and the rollout bench print."""

    linked: int
    queued: int
    no_candidate: int
    confirmed: int = 0

    @property
    def total(self) -> int:
        """Branches with a link row (every branch of the register after a run)."""
        return self.linked + self.queued + self.no_candidate + self.confirmed

    @property
    def auto_linked_share(self) -> float:
        """The share of branches linked automatically (0–1)."""
        return self.linked / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON."""
        return {
            "linked": self.linked,
            "queued": self.queued,
            "no_candidate": self.no_candidate,
            "confirmed": self.confirmed,
            "branches": self.total,
            "auto_linked_share": round(self.auto_linked_share, 4),
        }

    def summary_uk(self) -> str:
        """One Ukrainian line."""
        return (
            f"Філій: {self.total}; прив’язано автоматично — {self.linked} "
            f"({self.auto_linked_share:.0%}), у черзі ОУО — {self.queued}, без кандидата — "
            f"{self.no_candidate}, підтверджено людьми — {self.confirmed}"
        )


def branch_link_counts(*, session: Session) -> BranchLinkCounts:
    """The outcomes of all branches now."""
    rows = dict(
        session.execute(select(BranchLink.outcome, func.count()).group_by(BranchLink.outcome)).tuples().all()
    )
    return BranchLinkCounts(
        linked=rows.get(BranchLinkOutcome.LINKED, 0),
        queued=rows.get(BranchLinkOutcome.QUEUED, 0),
        no_candidate=rows.get(BranchLinkOutcome.NO_CANDIDATE, 0),
        confirmed=rows.get(BranchLinkOutcome.CONFIRMED, 0),
    )


# --- linking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _School:
    """A school that may be a hub, as the matching needs it."""

    id: int
    name: str
    hromada_id: int | None
    settlement: str | None
    managing_body_name: str | None
    marked_hub: bool
    words: str


def _hromada_of(parent_id: int | None, parent_level: OrgLevel | None) -> int | None:
    return parent_id if parent_level in (OrgLevel.HROMADA, OrgLevel.DISTRICT) else None


def _schools_by_oblast(session: Session) -> dict[int, list[_School]]:
    parent = aliased(OrgUnit)
    rows = session.execute(
        select(
            OrgUnit.id,
            OrgUnit.name,
            OrgUnit.oblast_id,
            OrgUnit.parent_id,
            parent.level,
            OrgUnit.settlement,
            OrgUnit.managing_body_name,
            OrgUnit.edebo_mark,
        )
        .join(parent, parent.id == OrgUnit.parent_id)
        .where(
            OrgUnit.level == OrgLevel.SCHOOL,
            OrgUnit.oblast_id.is_not(None),
            OrgUnit.edebo_mark.is_distinct_from(BRANCH_MARK),
        )
        .order_by(OrgUnit.id)
    ).all()
    by_oblast: dict[int, list[_School]] = defaultdict(list)
    for r in rows:
        by_oblast[r.oblast_id].append(
            _School(
                id=r.id,
                name=r.name,
                hromada_id=_hromada_of(r.parent_id, r.level),
                settlement=settlement_word(r.settlement),
                managing_body_name=r.managing_body_name,
                marked_hub=r.edebo_mark == HUB_MARK,
                words=" ".join(sorted(identifying_words(r.name))),
            )
        )
    return by_oblast


def rank_candidates(branch: OrgUnit, hromada_id: int | None, pool: list[_School]) -> list[Candidate]:
    """The schools of the branch's oblast that may be its hub, best first."""
    parsed = BranchName.parse(branch.name, branch.settlement)
    if not parsed.hub or not pool:
        return []
    query = " ".join(sorted(parsed.hub))
    place = settlement_word(branch.settlement)
    near = process.extract(
        query,
        [s.words for s in pool],
        scorer=fuzz.token_set_ratio,
        score_cutoff=_PREFILTER,
        limit=None,
    )
    candidates = []
    for _words, _score, index in near:
        school = pool[index]
        if school.id == branch.id:
            continue
        candidates.append(
            Candidate(
                hub_id=school.id,
                name=school.name,
                name_score=name_similarity(parsed, school.name),
                same_body=same_body(branch.managing_body_name, school.managing_body_name),
                same_place=(hromada_id is not None and hromada_id == school.hromada_id)
                or (place is not None and place == school.settlement),
                marked_hub=school.marked_hub,
            )
        )
    return rank(candidates)


def _as_json(candidates: list[Candidate]) -> list[dict[str, Any]]:
    return [{"hub_id": c.hub_id, "name": c.name, "score": c.score, "why": c.why()} for c in candidates]


def _attach(session: Session, branch: OrgUnit, hub: OrgUnit) -> None:
    """Place the branch under its hub (the lineage trigger moves it in the tree)."""
    branch.level = OrgLevel.BRANCH
    branch.parent_id = hub.id
    branch.managing_body_id = hub.managing_body_id
    branch.oblast_id = hub.oblast_id
    branch.needs_placement = False
    branch.placement_note = None
    session.flush()


def _has_units(session: Session, unit_id: int) -> bool:
    return bool(session.execute(select(exists().where(OrgUnit.parent_id == unit_id))).scalar())


def link_branches(*, session: Session, actor: Actor | None = None) -> BranchLinkCounts:
    """Link every branch of the register that is not linked yet, or queue it; idempotent; returns counts."""
    actor = actor or Actor.system(SYSTEM_LABEL)
    parent = aliased(OrgUnit)
    branches = session.execute(
        select(OrgUnit, parent.level)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(OrgUnit.edebo_mark == BRANCH_MARK)
        .order_by(OrgUnit.id)
    ).all()
    links = {
        link.branch_id: link
        for link in session.scalars(
            select(BranchLink).where(BranchLink.branch_id.in_([b.id for b, _ in branches]))
        )
    }
    pools = _schools_by_oblast(session) if branches else {}
    now = datetime.now(UTC)
    for branch, parent_level in branches:
        link = links.get(branch.id)
        if link is not None and link.outcome in DECIDED:
            continue
        if link is None and branch.level == OrgLevel.BRANCH and parent_level == OrgLevel.SCHOOL:
            # The import placed it under the hub ЄДЕБО names («Головний заклад»).
            hub = session.get_one(OrgUnit, branch.parent_id)
            named = [{"hub_id": hub.id, "name": hub.name, "score": 100.0, "why": NAMED_BY_EDEBO}]
            _record(session, branch, BranchLinkOutcome.LINKED, hub, named, now, actor, link=None)
            continue
        pool = pools.get(branch.oblast_id, []) if branch.oblast_id is not None else []
        ranked = rank_candidates(branch, _hromada_of(branch.parent_id, parent_level), pool)
        fit = unique_fit(ranked)
        candidates = _as_json(ranked)
        if fit is not None and branch.level == OrgLevel.SCHOOL and not _has_units(session, branch.id):
            hub = session.get_one(OrgUnit, fit.hub_id)
            _attach(session, branch, hub)
            _record(session, branch, BranchLinkOutcome.LINKED, hub, candidates, now, actor, link=link)
            continue
        outcome = BranchLinkOutcome.QUEUED if ranked else BranchLinkOutcome.NO_CANDIDATE
        if link is not None and link.outcome == outcome and link.candidates == candidates:
            continue  # nothing new since the last run
        _record(session, branch, outcome, None, candidates, now, actor, link=link)
    session.flush()
    return branch_link_counts(session=session)


def _record(
    session: Session,
    branch: OrgUnit,
    outcome: BranchLinkOutcome,
    hub: OrgUnit | None,
    candidates: list[dict[str, Any]],
    now: datetime,
    actor: Actor,
    *,
    link: BranchLink | None,
    decided_by_id: int | None = None,
) -> BranchLink:
    """Write the branch's link row; a link to a hub is audited."""
    if link is None:
        link = BranchLink(branch_id=branch.id, outcome=outcome)
        session.add(link)
    link.outcome = outcome
    link.hub_id = hub.id if hub else None
    link.candidates = candidates
    link.updated_at = now
    if decided_by_id is not None:
        link.decided_by_id = decided_by_id
        link.decided_at = now
    session.flush()
    if hub is not None:
        audit.record(
            session=session,
            action=f"branch.{outcome.value}",
            object_type="org_unit",
            object_id=branch.id,
            details={
                "branch": branch.name,
                "hub_id": hub.id,
                "hub": hub.name,
                "why": next((c["why"] for c in candidates if c.get("hub_id") == hub.id), None),
            },
            actor=actor,
        )
    return link


# --- the queue ---------------------------------------------------------------------------------------


class QueuedCandidate(BaseModel):
    """A candidate hub as the queue shows it."""

    hub_id: int
    name: str
    score: float
    why: str


class QueuedBranch(BaseModel):
    """A branch waiting for a person to choose its hub."""

    branch_id: int
    name: str
    settlement: str | None
    managing_body_name: str | None
    placed_under: str | None
    candidates: list[QueuedCandidate]


class BranchQueuePage(BaseModel):
    """One page of the queue in a person's scope."""

    total: int
    no_candidate: int
    rows: list[QueuedBranch]


def _check_may_link(session: Session, actor: Person) -> OrgUnit | None:
    """The actor's subtree root (None: the whole country), or a refusal."""
    if actor.role not in LINKING_ROLES or actor.state != PersonState.ACTIVE:
        raise MayNotLinkBranches()
    if actor.role == PersonRole.INSTITUTE_ADMIN:
        return None
    return session.get_one(OrgUnit, actor.org_unit_id)


def _in_scope(scope: OrgUnit | None) -> Any:
    return True if scope is None else OrgUnit.lineage.contains([scope.id])


def branch_queue(*, session: Session, actor: Person, offset: int = 0, limit: int = 50) -> BranchQueuePage:
    """Queued branches in the actor's scope with their ranked candidates, by name."""
    scope = _check_may_link(session, actor)

    def count(outcome: BranchLinkOutcome) -> int:
        return int(
            session.execute(
                select(func.count())
                .select_from(BranchLink)
                .join(OrgUnit, OrgUnit.id == BranchLink.branch_id)
                .where(BranchLink.outcome == outcome, _in_scope(scope))
            ).scalar_one()
        )

    parent = aliased(OrgUnit)
    rows = session.execute(
        select(BranchLink, OrgUnit, parent.name)
        .join(OrgUnit, OrgUnit.id == BranchLink.branch_id)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(BranchLink.outcome == BranchLinkOutcome.QUEUED, _in_scope(scope))
        .order_by(OrgUnit.name, OrgUnit.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return BranchQueuePage(
        total=count(BranchLinkOutcome.QUEUED),
        no_candidate=count(BranchLinkOutcome.NO_CANDIDATE),
        rows=[
            QueuedBranch(
                branch_id=unit.id,
                name=unit.name,
                settlement=unit.settlement,
                managing_body_name=unit.managing_body_name,
                placed_under=placed_under,
                candidates=[QueuedCandidate.model_validate(c) for c in link.candidates],
            )
            for link, unit, placed_under in rows
        ],
    )


def confirm_branch_link(*, session: Session, actor: Person, branch_id: int, hub_id: int) -> BranchLink:
    """A person links a branch to a hub school of its oblast (one of the candidates or another)."""
    scope = _check_may_link(session, actor)
    branch = session.get(OrgUnit, branch_id)
    if branch is None or branch.edebo_mark != BRANCH_MARK:
        raise BranchNotFound(branch_id)
    if scope is not None and scope.id not in branch.lineage:
        raise BranchNotInScope(branch)
    hub = session.get(OrgUnit, hub_id)
    if hub is None:
        raise HubNotFound(hub_id)
    if hub.id == branch.id or hub.level != OrgLevel.SCHOOL or hub.edebo_mark == BRANCH_MARK:
        raise HubIsABranch(hub)
    if hub.oblast_id is None or hub.oblast_id != branch.oblast_id:
        raise HubInAnotherOblast(hub)
    if _has_units(session, branch.id):
        raise BranchHasUnits(branch)
    link = session.get(BranchLink, branch.id)
    candidates = list(link.candidates) if link is not None else []
    if not any(c.get("hub_id") == hub.id for c in candidates):
        candidates.append({"hub_id": hub.id, "name": hub.name, "score": 0.0, "why": "обрано особою"})
    _attach(session, branch, hub)
    return _record(
        session,
        branch,
        BranchLinkOutcome.CONFIRMED,
        hub,
        candidates,
        datetime.now(UTC),
        Actor(person_id=actor.id, label=actor.full_name),
        link=link,
        decided_by_id=actor.id,
    )
