"""Account deactivation (DESIGN §3 item 9; the order's item 10): start, the effects, a hub school's
branches, telling the managing ОУО — and the bulk deactivation of schools the register marks liquidated.

A deactivated school (or branch) account is final: the database refuses any change of its state, and
`reactivate_account` says so in Ukrainian before it gets there. Keys are changed only through
`aikom.services.keys` (suspended at once for the two security reasons, reinstated when the
deactivation is not upheld, deactivated with the account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.core.timefmt import format_kyiv
from aikom.mail.templates import AccountDeactivatedNotice
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    ApprovalTask,
    BranchLink,
    BranchLinkOutcome,
    DeactivationReason,
    Decision,
    KeyState,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.processes.account_deactivation import (
    BRANCH_STEP,
    OUO_REASONS,
    REASON_TITLES_UK,
    SECURITY_REASONS,
    SPEC,
    TYPE,
    AccountDeactivationParams,
    BranchOutcome,
    DeactivationFacts,
)
from aikom.processes.liquidated_deactivation import SPEC as BULK_SPEC
from aikom.processes.liquidated_deactivation import TYPE as BULK_TYPE
from aikom.processes.liquidated_deactivation import BulkFacts, BulkItem, LiquidatedDeactivationParams
from aikom.services import audit, keys, ois_access
from aikom.services.approvals import ApprovalRequest, create_task, process_link
from aikom.services.org import find_unit
from aikom.services.outbox import enqueue
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL
from aikom.services.processes import create_process, notify_requester, process_actor, requester_of

LIVE_STATES = (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING)
SCHOOL_LEVELS = (OrgLevel.SCHOOL, OrgLevel.BRANCH)
NOTE_MAX_LENGTH = 500
# How many other hubs a branch step proposes to move the branch to.
HUB_CHOICES = 5
# Where a decider names another hub: the first ЄДРПОУ (8 digits) or «№ 123» (a unit number) in the comment.
_HUB_IN_COMMENT = re.compile(r"(?<!\d)(\d{8})(?!\d)|№\s*(\d+)")


# --- one exception per rule -------------------------------------------------------------------


class ReasonRequired(ValidationFailed):
    """A deactivation names its reason (the order's item 10)."""

    code = "reason_required"

    def __init__(self) -> None:
        super().__init__(
            "reason",
            "Причина деактивації: обов'язкове поле; можливі: " + ", ".join(REASON_TITLES_UK.values()) + ".",
        )


class UnknownReason(ValidationFailed):
    """Only the order's four reasons exist."""

    code = "unknown_reason"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "reason",
            f"Причина деактивації: «{reason}» не передбачена Порядком; можливі: "
            + ", ".join(f"{r.value} ({title})" for r, title in REASON_TITLES_UK.items())
            + ".",
        )


class ReasonNotAllowed(DomainError):
    """A managing ОУО deactivates for liquidation or reorganisation only; the security reasons are the
    institute's."""

    code = "reason_not_allowed"

    def __init__(self, reason: DeactivationReason) -> None:
        super().__init__(
            f"Причина деактивації: «{REASON_TITLES_UK[reason]}» може вказати лише технічний адміністратор "
            "ІОА; орган управління освітою деактивує обліковий запис лише через ліквідацію чи реорганізацію.",
            field="reason",
            reason=reason.value,
        )


class UnitWithoutAccount(DomainError):
    """There is no account to deactivate."""

    code = "unit_without_account"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Організація: «{unit.name}» не має облікового запису АІКОМ — деактивувати нічого.",
            field="org",
            org_unit_id=unit.id,
        )


class AccountAlreadyDeactivated(DomainError):
    """A deactivated account is not deactivated a second time."""

    code = "account_already_deactivated"

    def __init__(self, unit: OrgUnit, account: Account) -> None:
        when = format_kyiv(account.deactivated_at) if account.deactivated_at else "раніше"
        reason = REASON_TITLES_UK.get(account.deactivation_reason) if account.deactivation_reason else None
        final = (
            " Деактивований обліковий запис закладу освіти не підлягає подальшому використанню."
            if unit.level in SCHOOL_LEVELS
            else ""
        )
        super().__init__(
            f"Організація: обліковий запис «{unit.name}» уже деактивовано ({when}"
            + (f"; причина: {reason}" if reason else "")
            + f").{final}",
            field="org",
            account_id=account.id,
        )


class AccountFinallyDeactivated(DomainError):
    """A deactivated school account is never used again (the order's item 11; the database enforces it)."""

    code = "account_finally_deactivated"

    def __init__(self, unit: OrgUnit, account: Account) -> None:
        super().__init__(
            f"Обліковий запис закладу освіти «{unit.name}» деактивовано"
            + (f" {format_kyiv(account.deactivated_at)}" if account.deactivated_at else "")
            + ": деактивовані облікові записи закладів освіти не підлягають подальшому використанню "
            "(п. 11 Порядку), тому відновити його не можна. Для правонаступника створюють новий обліковий "
            "запис.",
            account_id=account.id,
        )


class SuccessorRequired(ValidationFailed):
    """A reorganisation names the successor unit."""

    code = "successor_required"

    def __init__(self) -> None:
        super().__init__(
            "successor",
            "Правонаступник: для реорганізації вкажіть ЄДРПОУ або номер організації-правонаступника.",
        )


class SuccessorNotExpected(ValidationFailed):
    """Only a reorganisation has a successor."""

    code = "successor_not_expected"

    def __init__(self) -> None:
        super().__init__("successor", "Правонаступник: вказують лише для реорганізації.")


class SuccessorIsTheUnit(ValidationFailed):
    """A unit does not succeed itself."""

    code = "successor_is_the_unit"

    def __init__(self) -> None:
        super().__init__(
            "successor", "Правонаступник: не може бути тією самою організацією, що реорганізується."
        )


class SuccessorNotActive(ValidationFailed):
    """The successor must be a unit that works (and whose account, if any, is open)."""

    code = "successor_not_active"

    def __init__(self, successor: OrgUnit) -> None:
        super().__init__(
            "successor",
            f"Правонаступник: «{successor.name}» не діє (ліквідована, реорганізована чи її обліковий запис "
            "деактивовано); вкажіть чинну організацію.",
        )


class NoteTooLong(ValidationFailed):
    """The note is kept with the keys' and the account's audit entries."""

    code = "note_too_long"

    def __init__(self) -> None:
        super().__init__("note", f"Підстава: не довше за {NOTE_MAX_LENGTH} символів.")


class DeactivationAlreadyRunning(DomainError):
    """A unit has at most one deactivation under way."""

    code = "deactivation_already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Деактивація цього облікового запису вже триває (процес № {process_id}).", process_id=process_id
        )


class NoLiquidatedSchools(DomainError):
    """The bulk deactivation has nothing to do in this scope."""

    code = "no_liquidated_schools"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"Область: у межах «{scope}» немає закладів, які реєстр позначає ліквідованими, з відкритим "
            "обліковим записом АІКОМ.",
            field="oblast",
        )


class BulkAlreadyRunning(DomainError):
    """One bulk deactivation at a time (two would report the same schools)."""

    code = "bulk_deactivation_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Пакетна деактивація ліквідованих закладів уже триває (процес № {process_id}).",
            process_id=process_id,
        )


# --- reasons, units, who may ------------------------------------------------------------------


def parse_reason(raw: str | None) -> DeactivationReason:
    """The reason a person gave, or the refusal naming the field."""
    text = (raw or "").strip()
    if not text:
        raise ReasonRequired()
    try:
        return DeactivationReason(text)
    except ValueError:
        by_title = {title: reason for reason, title in REASON_TITLES_UK.items()}
        if text in by_title:
            return by_title[text]
        raise UnknownReason(text) from None


def reason_title(reason: DeactivationReason | str) -> str:
    """The Ukrainian name of a reason."""
    return REASON_TITLES_UK.get(DeactivationReason(reason), str(reason))


def account_of(session: Session, unit_id: int, *, lock: bool = False) -> Account | None:
    """The unit's account, if it has one."""
    stmt = select(Account).where(Account.org_unit_id == unit_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


def managing_body_of(session: Session, unit: OrgUnit) -> OrgUnit | None:
    """The ОУО that manages a unit: a school's managing body (else its parent ОУО), a branch's hub's
    managing body, an ОУО's parent ОУО; None at the top."""
    if unit.managing_body_id is not None:
        return session.get(OrgUnit, unit.managing_body_id)
    parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id is not None else None
    if parent is None or parent.level == OrgLevel.NATIONAL:
        return None
    if parent.level == OrgLevel.SCHOOL:
        return managing_body_of(session, parent)
    return parent


def check_may_deactivate(
    session: Session, requester: Person, unit: OrgUnit, reason: DeactivationReason
) -> None:
    """An institute admin: any unit, any reason. The managing ОУО's admin: its units, liquidation or
    reorganisation only."""
    if requester.role == PersonRole.INSTITUTE_ADMIN:
        return
    own = session.get(OrgUnit, requester.org_unit_id)
    if own is None or ADMIN_ROLE_OF_LEVEL.get(own.level) != requester.role or own.level == OrgLevel.NATIONAL:
        raise RoleNotAllowed(f"{SPEC.title_uk}: {SPEC.who_may_start_uk}")
    if reason not in OUO_REASONS:
        raise ReasonNotAllowed(reason)
    body = managing_body_of(session, unit)
    if body is None or body.id != own.id:
        raise NotInScope(
            f"Організація: «{unit.name}» не перебуває в управлінні вашого ОУО — деактивацію починає ОУО, що "
            "керує нею, або технічний адміністратор ІОА.",
            org_unit_id=unit.id,
        )


def _successor(
    session: Session, unit: OrgUnit, reason: DeactivationReason, code: str | None
) -> OrgUnit | None:
    if reason != DeactivationReason.REORGANIZATION:
        if code:
            raise SuccessorNotExpected()
        return None
    if not code:
        raise SuccessorRequired()
    try:
        successor = find_unit(session=session, code=code)
    except DomainError:
        raise ValidationFailed(
            "successor", f"Правонаступник: організацію «{code}» не знайдено (вкажіть ЄДРПОУ або номер)."
        ) from None
    if successor.id == unit.id:
        raise SuccessorIsTheUnit()
    account = account_of(session, successor.id)
    if successor.status != OrgStatus.ACTIVE or (
        account is not None and account.state == AccountState.DEACTIVATED
    ):
        raise SuccessorNotActive(successor)
    return successor


def _clean_note(note: str | None) -> str | None:
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX_LENGTH:
        raise NoteTooLong()
    return text or None


def _running(session: Session, process_type: str, unit_id: int | None = None) -> int | None:
    stmt = select(Process.id).where(Process.type == process_type, Process.state.in_(LIVE_STATES))
    if unit_id is not None:
        stmt = stmt.where(Process.subject_org_unit_id == unit_id)
    return session.scalars(stmt.order_by(Process.id)).first()


# --- start -------------------------------------------------------------------------------------


def start_deactivation(*, session: Session, actor: Actor, params: AccountDeactivationParams) -> Process:
    """Validate the request and create the process (STARTING); for the two security reasons the unit's
    keys are suspended in the same unit of work — at once, before anyone approves."""
    requester = requester_of(session, actor)
    reason = parse_reason(params.reason)
    try:
        unit = find_unit(session=session, code=params.org)
    except DomainError:
        raise ValidationFailed(
            "org", f"Організація: «{params.org}» не знайдено (вкажіть ЄДРПОУ або номер)."
        ) from None
    if unit.level == OrgLevel.NATIONAL:
        raise ValidationFailed("org", "Організація: обліковий запис ІОА так не деактивують.")
    check_may_deactivate(session, requester, unit, reason)
    successor = _successor(session, unit, reason, params.successor)
    note = _clean_note(params.note)
    account = account_of(session, unit.id)
    if account is None:
        raise UnitWithoutAccount(unit)
    if account.state == AccountState.DEACTIVATED:
        raise AccountAlreadyDeactivated(unit, account)
    running = _running(session, TYPE, unit.id)
    if running is not None:
        raise DeactivationAlreadyRunning(running)
    body = managing_body_of(session, unit)
    facts = DeactivationFacts(
        org_unit_id=unit.id,
        unit_name=unit.name,
        unit_level=unit.level.value,
        account_id=account.id,
        reason=reason,
        note=note,
        successor_org_unit_id=successor.id if successor else None,
        successor_name=successor.name if successor else None,
        managing_body_id=body.id if body else None,
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {unit.name}",
    )
    if reason in SECURITY_REASONS:
        # Keys still suspended by an earlier deactivation that nobody decided in time count as this one's.
        already = session.scalars(
            select(AccessKey.id).where(
                AccessKey.account_id == account.id, AccessKey.state == KeyState.SUSPENDED
            )
        ).all()
        suspended = keys.suspend_account_keys(
            session=session,
            account_id=account.id,
            actor_label=actor.label,
            actor_person_id=actor.person_id,
            note=f"Призупинено до рішення про деактивацію (процес №{process.id}): {reason_title(reason)}.",
        )
        facts.suspended_key_ids = sorted({*already, *(k.id for k in suspended)})
        process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="account_deactivation.started",
        object_type="process",
        object_id=process.id,
        details={
            "process_id": process.id,
            "org_unit_id": unit.id,
            "account_id": account.id,
            "reason": reason.value,
            "successor_org_unit_id": facts.successor_org_unit_id,
            "suspended_key_ids": facts.suspended_key_ids,
        },
        actor=actor,
    )
    session.flush()
    return process


def facts_of(process: Process) -> DeactivationFacts:
    """The typed parameters of an account deactivation."""
    return DeactivationFacts.model_validate(process.parameters)


def get_process_for_update(*, session: Session, process_id: int, process_type: str = TYPE) -> Process:
    """The deactivation process, its row locked; NotFound otherwise."""
    process = session.scalars(
        select(Process)
        .where(Process.id == process_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if process is None or process.type != process_type:
        raise NotFound(f"Процес деактивації № {process_id} не знайдено.")
    return process


def approval_shown(*, session: Session, process_id: int) -> list[list[str]]:
    """What the approver sees beside the decision."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    shown = [["Організація", facts.unit_name], ["Причина", reason_title(facts.reason)]]
    if facts.successor_name:
        shown.append(["Правонаступник", facts.successor_name])
    if facts.note:
        shown.append(["Підстава", facts.note])
    if facts.reason in SECURITY_REASONS:
        shown.append(
            ["Ключі", f"призупинено одразу ({len(facts.suspended_key_ids)}); відхилення їх відновить"]
        )
    branches = _open_branches(session, facts.org_unit_id)
    if branches:
        shown.append(["Філії", f"{len(branches)} — рішення щодо кожної після погодження"])
    return shown


# --- effects -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeactivationSummary:
    """What deactivating one account changed."""

    keys: int
    persons: int
    grants: int


def deactivate_account(
    *,
    session: Session,
    unit: OrgUnit,
    reason: DeactivationReason,
    actor: Actor,
    process_id: int,
    successor_id: int | None = None,
    note: str | None = None,
) -> DeactivationSummary:
    """Account DEACTIVATED with its reason and time, its keys deactivated, its persons inactive, the
    unit's ОІС grants revoked — each audited, nothing committed."""
    account = account_of(session, unit.id, lock=True)
    if account is None:
        raise UnitWithoutAccount(unit)
    if account.state == AccountState.DEACTIVATED:
        raise AccountAlreadyDeactivated(unit, account)
    now = datetime.now(UTC)
    key_note = f"Обліковий запис деактивовано (процес №{process_id}): {reason_title(reason)}."
    key_ids = session.scalars(
        select(AccessKey.id)
        .where(AccessKey.account_id == account.id, AccessKey.state != KeyState.DEACTIVATED)
        .order_by(AccessKey.id)
    ).all()
    for key_id in key_ids:
        keys.deactivate_key(
            session=session,
            key_id=key_id,
            actor_label=actor.label,
            actor_person_id=actor.person_id,
            note=key_note,
        )
    grants = ois_access.revoke_grants_of_unit(
        session=session,
        unit_id=unit.id,
        reason=f"Обліковий запис закладу деактивовано (процес №{process_id}): {reason_title(reason)}.",
        actor=actor,
        now=now,
    )
    persons = session.scalars(
        select(Person)
        .where(Person.account_id == account.id, Person.state != PersonState.INACTIVE)
        .order_by(Person.id)
        .with_for_update()
    ).all()
    for person in persons:
        person.state = PersonState.INACTIVE
        person.deactivated_at = now
    account.state = AccountState.DEACTIVATED
    account.deactivation_reason = reason
    account.deactivated_at = now
    account.successor_org_unit_id = successor_id
    session.flush()
    audit.record(
        session=session,
        action="account.deactivated",
        object_type="account",
        object_id=account.id,
        details={
            "process_id": process_id,
            "org_unit_id": unit.id,
            "reason": reason.value,
            "successor_org_unit_id": successor_id,
            "key_ids": list(key_ids),
            "person_ids": [p.id for p in persons],
            "revoked_grant_ids": grants,
            "note": note,
            "summary_uk": f"«{unit.name}», {reason_title(reason)}",
        },
        actor=actor,
    )
    return DeactivationSummary(keys=len(key_ids), persons=len(persons), grants=len(grants))


def reinstate_keys(*, session: Session, process_id: int) -> int:
    """The deactivation was not upheld: the keys suspended at its start are active again; idempotent."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    if not facts.suspended_key_ids:
        return 0
    account = account_of(session, facts.org_unit_id)
    if account is None or account.state == AccountState.DEACTIVATED:
        return 0
    restored = keys.reinstate_account_keys(
        session=session,
        account_id=account.id,
        actor_label="system",
        note=f"Деактивацію не погоджено (процес №{process.id}): дію ключів відновлено.",
    )
    return len(restored)


def apply_deactivation(*, session: Session, process_id: int, approver_id: int | None) -> None:
    """The approved deactivation of the process's account; idempotent (a re-run finds it done)."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    if facts.deactivated_at is not None:
        return
    unit = session.get_one(OrgUnit, facts.org_unit_id)
    summary = deactivate_account(
        session=session,
        unit=unit,
        reason=facts.reason,
        actor=process_actor(session, process),
        process_id=process.id,
        successor_id=facts.successor_org_unit_id,
        note=facts.note,
    )
    facts.deactivated_at = datetime.now(UTC)
    facts.deactivated_by_id = approver_id
    process.parameters = facts.model_dump(mode="json") | {
        "summary": {"keys": summary.keys, "persons": summary.persons, "grants": summary.grants}
    }
    session.flush()


# --- a hub school's branches -------------------------------------------------------------------


class BranchRef(BaseModel):
    """A branch whose fate a person decides."""

    branch_id: int
    name: str


def branch_step_key(branch_id: int, attempt: int = 1) -> str:
    """The step key of the decision on one branch (a fresh key when the first choice could not be done)."""
    return f"{BRANCH_STEP}{branch_id}" if attempt == 1 else f"{BRANCH_STEP}{branch_id}-{attempt}"


def _open_branches(session: Session, hub_id: int) -> list[OrgUnit]:
    """The hub's working branches whose account (if any) is still open."""
    branches = session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.parent_id == hub_id,
            OrgUnit.level == OrgLevel.BRANCH,
            OrgUnit.status == OrgStatus.ACTIVE,
        )
        .order_by(OrgUnit.name, OrgUnit.id)
    ).all()
    result = []
    for branch in branches:
        account = account_of(session, branch.id)
        if account is None or account.state != AccountState.DEACTIVATED:
            result.append(branch)
    return result


def hub_choices(session: Session, hub: OrgUnit, *, prefer: int | None = None) -> list[OrgUnit]:
    """Hub schools of the same oblast a branch may move to (working, account open): the successor
    first, then schools of the same ОУО, then ЄДЕБО hubs."""
    open_account = select(Account.org_unit_id).where(Account.state != AccountState.DEACTIVATED)
    same_body = hub.managing_body_id if hub.managing_body_id is not None else hub.parent_id
    rows = session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.level == OrgLevel.SCHOOL,
            OrgUnit.status == OrgStatus.ACTIVE,
            OrgUnit.oblast_id == hub.oblast_id,
            OrgUnit.id != hub.id,
            OrgUnit.id.in_(open_account),
        )
        .order_by(
            (OrgUnit.id == (prefer or 0)).desc(),
            ((OrgUnit.managing_body_id == same_body) | (OrgUnit.parent_id == same_body)).desc(),
            (OrgUnit.edebo_mark == "hub").desc(),
            OrgUnit.name,
        )
        .limit(HUB_CHOICES)
    ).all()
    return list(rows)


def _unit_label(unit: OrgUnit) -> str:
    return f"{unit.name} (ЄДРПОУ {unit.edrpou or '—'}, № {unit.id})"


def branch_step_details(
    *, session: Session, process_id: int, branch_id: int, problem: str | None = None
) -> dict[str, object]:
    """What the decider sees about a branch: its account, the proposed hub and how to name another."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    hub = session.get_one(OrgUnit, facts.org_unit_id)
    branch = session.get_one(OrgUnit, branch_id)
    account = account_of(session, branch.id)
    choices = hub_choices(session, hub, prefer=facts.successor_org_unit_id)
    shown = [
        ["Філія", branch.name],
        ["Опорний заклад", f"{hub.name} — обліковий запис деактивовано ({reason_title(facts.reason)})"],
        ["Обліковий запис філії", "відкритий" if account is not None else "немає"],
        [
            "Рішення",
            "«деактивувати» — разом з опорним закладом; «підтвердити» — перенести до іншого опорного "
            "закладу області: до першого з переліку нижче або до того, чий ЄДРПОУ (чи «№ номер») ви "
            "вкажете в коментарі.",
        ],
    ]
    shown += [[f"Опорний заклад {i}", _unit_label(u)] for i, u in enumerate(choices, start=1)]
    if not choices:
        shown.append(["Опорні заклади", "в області немає іншого чинного закладу з обліковим записом"])
    if problem:
        shown.insert(0, ["Попереднє рішення не виконано", problem])
    return {"shown": shown, "branch_id": branch.id, "proposed_hub_id": choices[0].id if choices else None}


def branch_step_title(branch_name: str) -> str:
    """The title of the decision on one branch."""
    return f"Філія {branch_name}: деактивувати з опорним закладом чи перенести"


def branches_to_decide(*, session: Session, process_id: int) -> list[BranchRef]:
    """The deactivated hub's working branches not decided yet (none for a unit that is not a school)."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    decided = {b.branch_id for b in facts.branches}
    return [
        BranchRef(branch_id=b.id, name=b.name)
        for b in _open_branches(session, facts.org_unit_id)
        if b.id not in decided
    ]


def open_branch_steps(*, session: Session, process_id: int, decider_id: int | None) -> list[BranchRef]:
    """Open the first step of every branch at once, so that the decider sees them all; idempotent."""
    branches = branches_to_decide(session=session, process_id=process_id)
    for branch in branches:
        step_key = branch_step_key(branch.branch_id)
        create_task(
            session=session,
            request=ApprovalRequest(
                process_id=process_id,
                step_key=step_key,
                title=branch_step_title(branch.name),
                allowed_roles=[PersonRole.INSTITUTE_ADMIN],
                scope_org_unit_id=branch.branch_id,
                assignee_person_id=decider_id,
                due_business_days=SPEC.days_for(step_key),
                decisions=[Decision.DEACTIVATE, Decision.CONFIRM],
                details=branch_step_details(
                    session=session, process_id=process_id, branch_id=branch.branch_id
                ),
            ),
        )
    return branches


class BranchResult(BaseModel):
    """A branch decision carried out — or why it could not be (the decider is asked again)."""

    done: bool
    problem: str | None = None


def _target_hub(session: Session, hub: OrgUnit, comment: str | None, proposed: int | None) -> OrgUnit | str:
    """The hub a «move» decision names (in its comment, else the proposed one), or why it cannot be."""
    found = _HUB_IN_COMMENT.search(comment or "")
    target: OrgUnit | None
    if found:
        code = found.group(1) or f"id:{found.group(2)}"
        try:
            target = find_unit(session=session, code=code)
        except DomainError:
            return f"організацію «{found.group(0)}» з коментаря не знайдено."
    elif proposed is not None:
        target = session.get(OrgUnit, proposed)
    else:
        return "не вказано, до якого опорного закладу перенести філію, а запропонувати нікого."
    if target is None:
        return "запропонованого опорного закладу більше немає."
    account = account_of(session, target.id)
    if (
        target.level != OrgLevel.SCHOOL
        or target.status != OrgStatus.ACTIVE
        or target.id == hub.id
        or account is None
        or account.state == AccountState.DEACTIVATED
    ):
        return f"«{target.name}» не є чинним закладом освіти з відкритим обліковим записом."
    if target.oblast_id != hub.oblast_id:
        return f"«{target.name}» розташований в іншій області; філію переносять в межах області."
    return target


def apply_branch_decision(*, session: Session, process_id: int, branch_id: int, task_id: int) -> BranchResult:
    """Deactivate the branch with its hub (also when nobody decided in time), or move it to another hub
    of the same oblast; recorded on the process; idempotent."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    if any(b.branch_id == branch_id for b in facts.branches):
        return BranchResult(done=True)
    task = session.get_one(ApprovalTask, task_id)
    hub = session.get_one(OrgUnit, facts.org_unit_id)
    branch = session.get_one(OrgUnit, branch_id)
    decider = session.get(Person, task.decided_by_id) if task.decided_by_id else None
    actor = (
        Actor(person_id=decider.id, label=decider.full_name) if decider else process_actor(session, process)
    )
    if task.decision == Decision.CONFIRM:
        target = _target_hub(session, hub, task.comment, task.details.get("proposed_hub_id"))
        if isinstance(target, str):
            return BranchResult(done=False, problem=target)
        _move_branch(session, branch, target, actor, process.id)
        outcome = BranchOutcome(
            branch_id=branch.id,
            branch_name=branch.name,
            outcome="moved",
            hub_id=target.id,
            hub_name=target.name,
        )
    else:
        account = account_of(session, branch.id)
        note = None if task.decision == Decision.DEACTIVATE else "рішення не ухвалено вчасно"
        if account is not None and account.state != AccountState.DEACTIVATED:
            deactivate_account(
                session=session,
                unit=branch,
                reason=facts.reason,
                actor=actor,
                process_id=process.id,
                successor_id=facts.successor_org_unit_id,
                note="Разом з опорним закладом.",
            )
        else:
            note = "; ".join(filter(None, [note, "власного облікового запису філія не має"]))
        outcome = BranchOutcome(
            branch_id=branch.id, branch_name=branch.name, outcome="deactivated", note=note
        )
    facts.branches.append(outcome)
    process.parameters = dict(process.parameters) | {
        "branches": [b.model_dump(mode="json") for b in facts.branches]
    }
    session.flush()
    return BranchResult(done=True)


def keep_branch(*, session: Session, process_id: int, branch_id: int, why: str) -> None:
    """No decision could be carried out: the branch stays as it is, reported on the process."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    if any(b.branch_id == branch_id for b in facts.branches):
        return
    branch = session.get_one(OrgUnit, branch_id)
    facts.branches.append(
        BranchOutcome(branch_id=branch.id, branch_name=branch.name, outcome="kept", note=why)
    )
    process.parameters = dict(process.parameters) | {
        "branches": [b.model_dump(mode="json") for b in facts.branches]
    }
    session.flush()


def _move_branch(session: Session, branch: OrgUnit, target: OrgUnit, actor: Actor, process_id: int) -> None:
    from_hub = branch.parent_id
    branch.parent_id = target.id
    branch.managing_body_id = target.managing_body_id
    now = datetime.now(UTC)
    session.execute(
        insert(BranchLink)
        .values(
            branch_id=branch.id,
            outcome=BranchLinkOutcome.CONFIRMED,
            hub_id=target.id,
            candidates=[],
            decided_by_id=actor.person_id,
            decided_at=now,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=[BranchLink.branch_id],
            set_={
                "outcome": BranchLinkOutcome.CONFIRMED,
                "hub_id": target.id,
                "decided_by_id": actor.person_id,
                "decided_at": now,
                "updated_at": now,
            },
        )
    )
    session.flush()
    audit.record(
        session=session,
        action="org_unit.branch_moved",
        object_type="org_unit",
        object_id=branch.id,
        details={
            "process_id": process_id,
            "from_hub_id": from_hub,
            "to_hub_id": target.id,
            "summary_uk": f"«{branch.name}» → «{target.name}»",
        },
        actor=actor,
    )


# --- telling people ----------------------------------------------------------------------------


def _body_recipients(session: Session, body: OrgUnit) -> list[tuple[str, str]]:
    """(name, address) of the ОУО's active admins and its official mailbox, each address once."""
    role = ADMIN_ROLE_OF_LEVEL.get(body.level)
    found: dict[str, str] = {}
    if role is not None:
        for admin in session.scalars(
            select(Person)
            .where(Person.org_unit_id == body.id, Person.role == role, Person.state == PersonState.ACTIVE)
            .order_by(Person.id)
        ):
            found.setdefault(admin.email.lower(), admin.full_name)
    if body.official_email:
        found.setdefault(body.official_email.lower(), body.name)
    return [(name, address) for address, name in found.items()]


def tell_managing_body(
    *,
    session: Session,
    unit: OrgUnit,
    account: Account,
    process_id: int,
    lines: list[str],
) -> int:
    """Email the ОУО that manages `unit` that its account was deactivated; how many were told."""
    body = managing_body_of(session, unit)
    if body is None or account.deactivation_reason is None:
        return 0
    successor = session.get(OrgUnit, account.successor_org_unit_id) if account.successor_org_unit_id else None
    told = 0
    for name, address in _body_recipients(session, body):
        enqueue(
            session=session,
            template="account_deactivated",
            to_address=address,
            variables=AccountDeactivatedNotice(
                recipient_name=name,
                unit_name=unit.name,
                reason=reason_title(account.deactivation_reason),
                deactivated_at=format_kyiv(account.deactivated_at),
                successor=successor.name if successor else None,
                final=unit.level in SCHOOL_LEVELS,
                lines=lines,
                link=process_link(process_id),
            ),
            idempotency_key=f"process-{process_id}-unit-{unit.id}-deactivated-{address}",
        )
        told += 1
    return told


def _branch_line(b: BranchOutcome) -> str:
    if b.outcome == "moved":
        return f"Філію «{b.branch_name}» перенесено до опорного закладу «{b.hub_name}»."
    if b.outcome == "kept":
        return f"Філія «{b.branch_name}»: без змін — {b.note}"
    return f"Філію «{b.branch_name}» деактивовано разом з опорним закладом" + (
        f" ({b.note})." if b.note else "."
    )


def notify_outcome(*, session: Session, process_id: int) -> None:
    """A completed deactivation: the managing ОУО and the requester are told what it changed."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    unit = session.get_one(OrgUnit, facts.org_unit_id)
    account = session.get_one(Account, facts.account_id)
    summary = process.parameters.get("summary") or {}
    lines = [
        f"Ключів доступу деактивовано: {summary.get('keys', 0)}.",
        f"Карток осіб деактивовано: {summary.get('persons', 0)}.",
        f"Доступів ОІС відкликано: {summary.get('grants', 0)}.",
    ] + [_branch_line(b) for b in facts.branches]
    tell_managing_body(session=session, unit=unit, account=account, process_id=process.id, lines=lines)
    notify_requester(
        session=session,
        process_id=process.id,
        outcome="завершено",
        comment=None,
        facts=[f"Обліковий запис «{unit.name}» деактивовано: {reason_title(facts.reason)}.", *lines],
    )


# --- reactivation: never for a school ----------------------------------------------------------


def reactivate_account(*, session: Session, actor: Actor, org: str) -> Account:
    """Open a deactivated account again — refused for a school or branch (final), and for anyone but an
    institute admin; an ОУО's account becomes PENDING (its persons and keys are created anew)."""
    requester = requester_of(session, actor)
    unit = find_unit(session=session, code=org)
    account = account_of(session, unit.id, lock=True)
    if account is None:
        raise UnitWithoutAccount(unit)
    if account.state != AccountState.DEACTIVATED:
        raise ValidationFailed("org", f"Організація: обліковий запис «{unit.name}» не деактивовано.")
    if unit.level in SCHOOL_LEVELS:
        raise AccountFinallyDeactivated(unit, account)
    if requester.role != PersonRole.INSTITUTE_ADMIN:
        raise RoleNotAllowed("Відновити обліковий запис ОУО може лише технічний адміністратор ІОА.")
    previous = account.deactivation_reason
    account.state = AccountState.PENDING
    account.deactivation_reason = None
    account.deactivated_at = None
    session.flush()
    audit.record(
        session=session,
        action="account.reactivated",
        object_type="account",
        object_id=account.id,
        details={"org_unit_id": unit.id, "previous_reason": previous.value if previous else None},
        actor=actor,
    )
    return account


# --- deactivatable units (the start form) -------------------------------------------------------


class UnitChoice(BaseModel):
    """A unit whose account an ОУО may deactivate, as the start form lists it."""

    id: int
    name: str
    edrpou: str | None
    level: str
    status: str


def units_managed_by(*, session: Session, actor: Person, limit: int = 2000) -> list[UnitChoice]:
    """Units with an open account that the actor's ОУО manages (schools it manages, the ОУО below it)."""
    units = session.scalars(
        select(OrgUnit)
        .join(Account, Account.org_unit_id == OrgUnit.id)
        .where(
            Account.state != AccountState.DEACTIVATED,
            (OrgUnit.managing_body_id == actor.org_unit_id)
            | (
                (OrgUnit.parent_id == actor.org_unit_id)
                & OrgUnit.managing_body_id.is_(None)
                & OrgUnit.level.in_([OrgLevel.RAYON, OrgLevel.HROMADA, OrgLevel.DISTRICT, OrgLevel.SCHOOL])
            ),
        )
        .order_by(OrgUnit.name)
        .limit(limit)
    ).all()
    return [
        UnitChoice(id=u.id, name=u.name, edrpou=u.edrpou, level=u.level.value, status=u.status.value)
        for u in units
    ]


def reasons_for(role: PersonRole) -> list[DeactivationReason]:
    """The reasons a person of `role` may give."""
    if role == PersonRole.INSTITUTE_ADMIN:
        return list(DeactivationReason)
    return [r for r in DeactivationReason if r in OUO_REASONS]


# --- bulk: schools the register marks liquidated -----------------------------------------------


def _liquidated_open(scope: OrgUnit) -> Select[tuple[OrgUnit]]:
    return (
        select(OrgUnit)
        .join(Account, Account.org_unit_id == OrgUnit.id)
        .where(
            OrgUnit.level == OrgLevel.SCHOOL,
            OrgUnit.status == OrgStatus.LIQUIDATED,
            Account.state != AccountState.DEACTIVATED,
            OrgUnit.lineage.contains([scope.id]),
        )
    )


class LiquidatedPreview(BaseModel):
    """How many liquidated schools with an open account a scope holds, and the first of them."""

    scope_name: str
    count: int
    first: list[str]


def _scope(session: Session, within: int, oblast: str | None) -> OrgUnit:
    """The oblast named (within the person's own unit), else the person's own unit (the whole country)."""
    own = session.get_one(OrgUnit, within)
    if not oblast:
        return own
    unit = find_unit(session=session, code=oblast)
    if unit.level != OrgLevel.OBLAST:
        raise ValidationFailed("oblast", f"Область: «{oblast}» — це не область, а «{unit.name}».")
    if own.id not in unit.lineage:
        raise NotInScope(f"Область: «{unit.name}» лежить поза вашою зоною відповідальності.")
    return unit


def _scope_name(unit: OrgUnit) -> str:
    return "Україна" if unit.level == OrgLevel.NATIONAL else unit.name


def liquidated_preview(
    *, session: Session, within: int, oblast: str | None = None, first: int = 20
) -> LiquidatedPreview:
    """The count (and the first names) of liquidated schools whose account is still open, in scope."""
    scope = _scope(session, within, oblast)
    stmt = _liquidated_open(scope)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    names = session.scalars(stmt.order_by(OrgUnit.name).limit(first)).all()
    return LiquidatedPreview(
        scope_name=_scope_name(scope), count=count, first=[_unit_label(u) for u in names]
    )


def start_liquidated_deactivation(
    *, session: Session, actor: Actor, params: LiquidatedDeactivationParams
) -> Process:
    """List the liquidated schools with an open account in scope (what the one decision covers) and
    create the process (STARTING)."""
    requester = requester_of(session, actor)
    if requester.role != PersonRole.INSTITUTE_ADMIN:
        raise RoleNotAllowed(f"{BULK_SPEC.title_uk}: {BULK_SPEC.who_may_start_uk}")
    scope = _scope(session, requester.org_unit_id, params.oblast)
    unit_ids = list(
        session.scalars(_liquidated_open(scope).with_only_columns(OrgUnit.id).order_by(OrgUnit.id))
    )
    if not unit_ids:
        raise NoLiquidatedSchools(_scope_name(scope))
    running = _running(session, BULK_TYPE)
    if running is not None:
        raise BulkAlreadyRunning(running)
    facts = BulkFacts(scope_org_unit_id=scope.id, scope_name=_scope_name(scope), unit_ids=unit_ids)
    process = create_process(
        session=session,
        type=BULK_TYPE,
        actor=actor,
        subject_org_unit_id=scope.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{BULK_SPEC.title_uk}: {facts.scope_name} ({len(unit_ids)})",
    )
    audit.record(
        session=session,
        action="liquidated_deactivation.started",
        object_type="process",
        object_id=process.id,
        details={"process_id": process.id, "scope_org_unit_id": scope.id, "unit_ids": unit_ids},
        actor=actor,
    )
    session.flush()
    return process


def bulk_facts_of(process: Process) -> BulkFacts:
    """The typed parameters of a bulk deactivation."""
    return BulkFacts.model_validate(process.parameters)


def bulk_shown(*, session: Session, process_id: int, first: int = 15) -> list[list[str]]:
    """What the approver of a bulk deactivation sees: the scope, the count and the first schools."""
    process = get_process_for_update(session=session, process_id=process_id, process_type=BULK_TYPE)
    facts = bulk_facts_of(process)
    units = session.scalars(
        select(OrgUnit).where(OrgUnit.id.in_(facts.unit_ids)).order_by(OrgUnit.name).limit(first)
    ).all()
    shown = [
        ["Межі", facts.scope_name],
        ["Закладів", f"{len(facts.unit_ids)} (реєстр позначає ліквідованими, обліковий запис відкритий)"],
        ["Причина", reason_title(DeactivationReason.LIQUIDATION)],
    ]
    shown += [[f"Заклад {i}", _unit_label(u)] for i, u in enumerate(units, start=1)]
    if len(facts.unit_ids) > first:
        shown.append(["…", f"і ще {len(facts.unit_ids) - first} (повний перелік — на сторінці процесу)"])
    return shown


def _skip_reason(session: Session, unit: OrgUnit, account: Account | None) -> str | None:
    if account is None:
        return "немає облікового запису АІКОМ"
    if account.state == AccountState.DEACTIVATED:
        return "обліковий запис уже деактивовано"
    if unit.status != OrgStatus.LIQUIDATED:
        return "реєстр більше не позначає заклад ліквідованим"
    if _open_branches(session, unit.id):
        return "опорний заклад має філії — деактивуйте його окремим процесом із рішенням щодо філій"
    return None


def deactivate_liquidated_batch(*, session: Session, process_id: int, unit_ids: list[int]) -> list[BulkItem]:
    """Deactivate (reason: liquidation) each listed school not yet reported, or report why it is skipped;
    each one audited, reported on the process, its ОУО told. Idempotent: a re-run skips what is reported."""
    process = get_process_for_update(session=session, process_id=process_id, process_type=BULK_TYPE)
    facts = bulk_facts_of(process)
    actor = process_actor(session, process)
    done: list[BulkItem] = []
    for unit_id in unit_ids:
        if str(unit_id) in facts.report:
            continue
        unit = session.get_one(OrgUnit, unit_id)
        account = account_of(session, unit.id, lock=True)
        why = _skip_reason(session, unit, account)
        if why is None and account is not None:
            summary = deactivate_account(
                session=session,
                unit=unit,
                reason=DeactivationReason.LIQUIDATION,
                actor=actor,
                process_id=process.id,
                note="Пакетна деактивація ліквідованих закладів.",
            )
            item = BulkItem(org_unit_id=unit.id, name=unit.name, outcome="deactivated")
            tell_managing_body(
                session=session,
                unit=unit,
                account=account,
                process_id=process.id,
                lines=[
                    "Реєстр позначає заклад ліквідованим; обліковий запис деактивовано пакетно.",
                    f"Ключів доступу деактивовано: {summary.keys}; карток осіб: {summary.persons}; "
                    f"доступів ОІС відкликано: {summary.grants}.",
                ],
            )
        else:
            item = BulkItem(org_unit_id=unit.id, name=unit.name, outcome="skipped", note=why)
        audit.record(
            session=session,
            action=f"liquidated_deactivation.{item.outcome}",
            object_type="org_unit",
            object_id=unit.id,
            details={
                "process_id": process.id,
                "note": item.note,
                "summary_uk": f"«{unit.name}»" + (f" — {item.note}" if item.note else ""),
            },
            actor=actor,
        )
        facts.report[str(unit_id)] = item
        done.append(item)
    process.parameters = facts.model_dump(mode="json")
    session.flush()
    return done


def bulk_outcome(*, session: Session, process_id: int) -> str:
    """Tell the requester what the bulk deactivation did (each skipped school with why); the outcome line."""
    process = get_process_for_update(session=session, process_id=process_id, process_type=BULK_TYPE)
    facts = bulk_facts_of(process)
    items = list(facts.report.values())
    deactivated = [i for i in items if i.outcome == "deactivated"]
    skipped = [i for i in items if i.outcome == "skipped"]
    lines = [f"Деактивовано: {len(deactivated)}; пропущено: {len(skipped)}."] + [
        f"Пропущено «{i.name}»: {i.note}." for i in skipped
    ]
    notify_requester(session=session, process_id=process.id, outcome="завершено", comment=None, facts=lines)
    return lines[0]
