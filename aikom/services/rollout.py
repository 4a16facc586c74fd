"""National rollout (DESIGN §3 item 11): open the accounts of every unit of a level inside a scope, in
batches — accounts (PENDING), base and API keys, the base key emailed to each unit's official address.

Each batch is one transaction that also writes a `rollout_item` per unit it handled, so a run resumed
after a crash skips them: no account, key or email is ever made twice. Units without a valid official
email are listed (`no_email`), never guessed; units that already hold keys, or whose account was
deactivated (final), are left as they are and listed too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, ValidationFailed
from aikom.core.validation import check_email
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    KeyState,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Process,
    ProcessState,
    RolloutItem,
    RolloutOutcome,
)
from aikom.processes.rollout import SPEC, TYPE, RolloutFacts, RolloutParams
from aikom.services import audit
from aikom.services.accounts import AccountToOpen, open_accounts
from aikom.services.org import OrgUnitNotFound, find_unit
from aikom.services.processes import create_process, process_actor
from aikom.services.provisioning import requesting_person
from aikom.settings import Settings

LIVE = (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING)
OUTCOMES_UK = {
    RolloutOutcome.OPENED: "відкрито",
    RolloutOutcome.NO_EMAIL: "без чинної офіційної пошти (не відкрито)",
    RolloutOutcome.HAS_ACCOUNT: "уже мали обліковий запис із ключами",
    RolloutOutcome.DEACTIVATED: "обліковий запис деактивовано (остаточно)",
}
LEVEL_PLURAL_UK = {
    "oblast": "області",
    "rayon": "райони",
    "hromada": "громади",
    "district": "райони міст",
    "school": "заклади освіти",
}


class RolloutAlreadyRunning(DomainError):
    """One rollout of a level and scope at a time."""

    code = "rollout_already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(f"Таке розгортання вже триває (процес № {process_id}).", process_id=process_id)


def _scope(session: Session, code: str | None) -> OrgUnit:
    if not (code or "").strip():
        root = session.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).first()
        if root is None:
            raise NotFound("Національного рівня в довіднику немає: спершу імпортуйте реєстри.")
        return root
    try:
        return find_unit(session=session, code=str(code))
    except (OrgUnitNotFound, ValidationFailed) as error:
        raise ValidationFailed(
            "scope", f"Охоплення: «{code}» — не одиниця довідника ({error.message_uk})."
        ) from error


def _units(scope: OrgUnit, level: str) -> list[ColumnElement[bool]]:
    """The active units of `level` inside `scope` (its lineage names the scope: GIN-indexed)."""
    return [
        OrgUnit.lineage.contains([scope.id]),
        OrgUnit.level == OrgLevel(level),
        OrgUnit.status == OrgStatus.ACTIVE,
    ]


def start_rollout(
    *, session: Session, actor: Actor, params: RolloutParams, settings: Settings | None = None
) -> Process:
    """Validate and record the rollout (STARTING); the caller starts its run after commit."""
    requesting_person(session, actor)
    scope = _scope(session, params.scope)
    if OrgLevel(params.level).rank <= scope.level.rank:
        raise ValidationFailed(
            "level",
            f"Рівень: «{params.level}» не нижчий за охоплення «{scope.name}» — розгортання відкриває "
            "одиниці всередині охоплення.",
        )
    running = session.scalars(
        select(Process.id).where(
            Process.type == TYPE,
            Process.state.in_(LIVE),
            Process.subject_org_unit_id == scope.id,
            Process.parameters["level"].astext == params.level,
        )
    ).first()
    if running is not None:
        raise RolloutAlreadyRunning(running)
    total = session.scalar(select(func.count(OrgUnit.id)).where(*_units(scope, params.level))) or 0
    facts = RolloutFacts(
        scope_id=scope.id,
        scope_name=scope.name,
        level=params.level,
        total=int(total),
        batch_size=params.batch_size,
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=scope.id,
        parameters=facts.model_dump(mode="json") | {"progress": progress_lines(facts, Counter())},
        title=f"{SPEC.title_uk}: {LEVEL_PLURAL_UK[params.level]}, {scope.name}",
    )
    audit.record(
        session=session,
        action="rollout.started",
        object_type="process",
        object_id=process.id,
        details={"process_id": process.id, "scope_id": scope.id, "level": params.level, "total": total},
        actor=actor,
    )
    return process


def progress_lines(facts: RolloutFacts, counts: Counter[str]) -> list[dict[str, object]]:
    """The process page's progress: units handled of the total, and each outcome."""
    handled = sum(counts.values())
    lines: list[dict[str, object]] = [{"label": "Опрацьовано одиниць", "done": handled, "total": facts.total}]
    lines += [
        {"label": f"— {OUTCOMES_UK[outcome]}", "done": counts.get(outcome.value, 0), "total": None}
        for outcome in RolloutOutcome
    ]
    return lines


def valid_email(value: str | None) -> str | None:
    """The register's address when it is one valid address (a list or junk is not guessed at)."""
    try:
        return check_email(value or "") if (value or "").strip() else None
    except ValueError:
        return None


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch did: the last unit id it reached (None: nothing was left) and its counts."""

    last_id: int | None
    counts: dict[str, int]


def open_batch(
    *,
    session: Session,
    process_id: int,
    after_id: int,
    settings: Settings | None = None,
) -> BatchOutcome:
    """Handle the next batch of units after `after_id` that this rollout has not handled yet, in the
    caller's one transaction; their rollout items and the process's progress with them."""
    process = session.get(Process, process_id, with_for_update=True, populate_existing=True)
    if process is None or process.type != TYPE:
        raise NotFound(f"Процес розгортання № {process_id} не знайдено.")
    facts = RolloutFacts.model_validate(process.parameters)
    scope = session.get_one(OrgUnit, facts.scope_id)
    handled = exists().where(RolloutItem.process_id == process_id, RolloutItem.org_unit_id == OrgUnit.id)
    keyed = exists().where(
        AccessKey.account_id == Account.id, AccessKey.state.in_([KeyState.ACTIVE, KeyState.SUSPENDED])
    )
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.level, OrgUnit.official_email, Account.state, keyed)
        .outerjoin(Account, Account.org_unit_id == OrgUnit.id)
        .where(and_(*_units(scope, facts.level)), OrgUnit.id > after_id, ~handled)
        .order_by(OrgUnit.id)
        .limit(facts.batch_size)
    ).all()
    if not rows:
        return BatchOutcome(last_id=None, counts={})
    items: list[dict[str, object]] = []
    to_open: list[AccountToOpen] = []
    for unit_id, name, level, email, account_state, has_keys in rows:
        note = None
        if account_state == AccountState.DEACTIVATED:
            outcome = RolloutOutcome.DEACTIVATED
        elif has_keys:
            outcome = RolloutOutcome.HAS_ACCOUNT
        elif (address := valid_email(email)) is None:
            outcome = RolloutOutcome.NO_EMAIL
            note = f"адреса «{email}» недійсна" if (email or "").strip() else "адреси в реєстрі немає"
        else:
            outcome = RolloutOutcome.OPENED
            to_open.append(
                AccountToOpen(unit_id, name, level, address, f"rollout-{process_id}-unit-{unit_id}")
            )
        items.append({"process_id": process_id, "org_unit_id": unit_id, "outcome": outcome, "note": note})
    open_accounts(
        session=session,
        units=to_open,
        actor=process_actor(session, process),
        deadline=None,
        settings=settings,
    )
    session.execute(insert(RolloutItem), items)
    counts = rollout_counts(session=session, process_id=process_id)
    process.parameters = {**process.parameters, "progress": progress_lines(facts, counts)}
    session.flush()
    batch = Counter(str(item["outcome"]) for item in items)
    return BatchOutcome(last_id=int(rows[-1][0]), counts=dict(batch))


def rollout_counts(*, session: Session, process_id: int) -> Counter[str]:
    """Units handled so far, by outcome."""
    rows = session.execute(
        select(RolloutItem.outcome, func.count())
        .where(RolloutItem.process_id == process_id)
        .group_by(RolloutItem.outcome)
    ).all()
    return Counter({str(outcome): int(n) for outcome, n in rows})


@dataclass(frozen=True)
class ReportLine:
    """One unit of a rollout's report."""

    org_unit_id: int
    name: str
    outcome: str
    outcome_uk: str
    note: str | None


def rollout_report(
    *, session: Session, process_id: int, outcome: RolloutOutcome | None = None, limit: int = 1000
) -> list[ReportLine]:
    """The units a rollout handled (of one outcome, e.g. the ones without an email), by name."""
    stmt = (
        select(RolloutItem.org_unit_id, OrgUnit.name, RolloutItem.outcome, RolloutItem.note)
        .join(OrgUnit, OrgUnit.id == RolloutItem.org_unit_id)
        .where(RolloutItem.process_id == process_id)
        .order_by(OrgUnit.name)
        .limit(limit)
    )
    if outcome is not None:
        stmt = stmt.where(RolloutItem.outcome == outcome)
    return [
        ReportLine(unit_id, name, str(result), OUTCOMES_UK[RolloutOutcome(result)], note)
        for unit_id, name, result, note in session.execute(stmt)
    ]


def summary_facts(*, session: Session, process_id: int) -> list[str]:
    """What the requester is told when the rollout ends: the counts by outcome."""
    counts = rollout_counts(session=session, process_id=process_id)
    return [f"{OUTCOMES_UK[o].capitalize()}: {counts.get(o.value, 0)}" for o in RolloutOutcome]
