"""Replacing an account's API key: the `key-regeneration` process (DESIGN §3 item 8), the re-keying a
grant's revocation does (`aikom.services.ois_access`), and the direct key commands of an institute admin
(`aikom keys issue|deactivate|regenerate`) with their role checks.

A replacement API key is never shown to whoever approved it: it is kept encrypted for ONE showing to the
account's director or admin («Ключ API», «Доступ ОІС»). The account's active ОІС grants move to it, and
their operators are told to get the new key from the school. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, RoleNotAllowed, ValidationFailed
from aikom.mail.templates import PersonNotice
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisGrant,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    SupportRequest,
)
from aikom.processes.key_regeneration import (
    REASON_MAX_LENGTH,
    SPEC,
    TYPE,
    KeyRegenerationFacts,
    KeyRegenerationParams,
)
from aikom.services import audit, keys
from aikom.services.accounts import KEY_HOLDER_ROLES, keep_api_key_for_showing
from aikom.services.outbox import enqueue
from aikom.services.processes import (
    create_process,
    live_process_id,
    process_facts,
    requester_of,
)
from aikom.settings import Settings

# Who touches keys directly (the CLI); everybody else goes through the processes.
KEY_ADMIN_ROLES = frozenset({PersonRole.INSTITUTE_ADMIN})
SHOWN_ONCE_UK = (
    "Новий ключ API показують один раз керівнику закладу (адміністратору ОУО) на сторінці «Ключ API» "
    "(для закладу — також «Доступ ОІС»)."
)


class NotKeyHolder(DomainError):
    """Only the account's director or ОУО admin asks for its new API key (never a deputy)."""

    code = "role_not_allowed"

    def __init__(self, person: Person) -> None:
        super().__init__(
            f"Перегенерація ключа API: «{person.full_name}» не може її замовити — ключ API облікового запису "
            "замовляє керівник закладу освіти або адміністратор ОУО для власного облікового запису "
            "(заступник — ні).",
            person_id=person.id,
        )


class AccountNotActive(DomainError):
    """Keys of an account that is not active are not replaced."""

    code = "account_not_active"

    def __init__(self, unit_name: str, state: AccountState) -> None:
        super().__init__(
            f"Обліковий запис «{unit_name}» не активний (стан: {state.value}): ключ API не змінюють.",
            state=state.value,
        )


class NoActiveApiKey(DomainError):
    """The account holds no active API key (none issued, or suspended by a security measure)."""

    code = "no_active_api_key"

    def __init__(self, unit_name: str) -> None:
        super().__init__(
            f"Ключ API: обліковий запис «{unit_name}» не має чинного (активного) ключа API — його не видано "
            "або призупинено. Зверніться до служби підтримки.",
        )


class RegenerationRunning(DomainError):
    """One regeneration of an account at a time."""

    code = "already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Перегенерацію ключа API цього облікового запису вже замовлено (процес №{process_id}); "
            "дочекайтеся рішення.",
            process_id=process_id,
        )


class KeyAdminOnly(RoleNotAllowed):
    """`aikom keys` changes keys directly only for an institute admin."""

    def __init__(self, person: Person, what: str) -> None:
        super().__init__(
            f"{what}: безпосередньо це робить лише технічний адміністратор ІОА. «{person.full_name}» може "
            "замовити перегенерацію ключа API (процес «Перегенерація ключа API») або звернутися до служби "
            "підтримки.",
        )
        self.context = {"person_id": person.id}


@dataclass(frozen=True)
class Rekeyed:
    """What replacing an account's API key did."""

    old_key_id: int
    new_key_id: int
    new_public_id: str
    moved_grant_ids: list[int]


def active_api_key(session: Session, account_id: int) -> AccessKey | None:
    """The account's active API key, if any."""
    return session.scalars(
        select(AccessKey).where(
            AccessKey.account_id == account_id,
            AccessKey.kind == KeyKind.API,
            AccessKey.state == KeyState.ACTIVE,
        )
    ).first()


def _tell_operators(
    session: Session, *, grant_ids: list[int], unit_name: str, event_key: str, settings: Settings | None
) -> None:
    """Operators whose grants moved to a new key: their access stays, the school passes them the key."""
    if not grant_ids:
        return
    rows = session.execute(
        select(OisGrant.id, Ois.system_name, Ois.contact_email, Ois.contact_name)
        .join(Ois, Ois.id == OisGrant.ois_id)
        .where(OisGrant.id.in_(grant_ids))
        .order_by(OisGrant.id)
    ).all()
    for grant_id, system_name, email, contact in rows:
        enqueue(
            session=session,
            template="person_notice",
            to_address=email,
            variables=PersonNotice(
                recipient_name=contact or system_name,
                subject=f"новий ключ API закладу «{unit_name}»",
                lines=[
                    f"Заклад «{unit_name}» отримав новий ключ API; попередній ключ деактивовано.",
                    f"Доступ ОІС «{system_name}» до даних закладу (№{grant_id}) зберігається: отримайте "
                    "новий ключ від закладу за вашим договором — старий більше не діє.",
                ],
            ),
            idempotency_key=f"{event_key}-grant-{grant_id}-moved",
            settings=settings,
        )


def rekey_api(
    *,
    session: Session,
    key_id: int,
    actor: Actor,
    note: str,
    event_key: str,
    settings: Settings | None = None,
) -> Rekeyed:
    """Deactivate the API key, generate its successor kept for ONE showing, move the account's active
    grants to it (a grant to be revoked must be revoked first) and tell their operators."""
    key = session.get_one(AccessKey, key_id)
    account_id = key.account_id
    new = keys.regenerate_key(
        session=session,
        key_id=key_id,
        actor_label=actor.label,
        actor_person_id=actor.person_id,
        note=note,
        settings=settings,
    )
    keep_api_key_for_showing(
        session=session, account_id=account_id, key_id=new.key_id, token=new.token, settings=settings
    )
    moved = list(
        session.scalars(
            select(OisGrant.id)
            .where(OisGrant.api_key_id == new.key_id, OisGrant.state == GrantState.ACTIVE)
            .order_by(OisGrant.id)
        )
    )
    unit = session.scalars(
        select(OrgUnit).join(Account, Account.org_unit_id == OrgUnit.id).where(Account.id == account_id)
    ).one()
    _tell_operators(session, grant_ids=moved, unit_name=unit.name, event_key=event_key, settings=settings)
    return Rekeyed(
        old_key_id=key_id, new_key_id=new.key_id, new_public_id=new.public_id, moved_grant_ids=moved
    )


# --- the `key-regeneration` process --------------------------------------------------------------


def _running(session: Session, account_id: int) -> int | None:
    return live_process_id(session=session, process_type=TYPE, parameter="account_id", value=account_id)


def start_key_regeneration(*, session: Session, actor: Actor, params: KeyRegenerationParams) -> Process:
    """Validate a request for a new API key of the requester's own account and record it (STARTING)."""
    requester = requester_of(session, actor)
    if requester.role not in KEY_HOLDER_ROLES or requester.state != PersonState.ACTIVE:
        raise NotKeyHolder(requester)
    account = session.get(Account, requester.account_id, with_for_update=True)
    if account is None:
        raise NotFound("Обліковий запис заявника не знайдено.")
    unit = session.get_one(OrgUnit, account.org_unit_id)
    if account.state != AccountState.ACTIVE:
        raise AccountNotActive(unit.name, account.state)
    key = active_api_key(session, account.id)
    if key is None:
        raise NoActiveApiKey(unit.name)
    running = _running(session, account.id)
    if running is not None:
        raise RegenerationRunning(running)
    facts = KeyRegenerationFacts(
        account_id=account.id,
        org_unit_id=unit.id,
        unit_name=unit.name,
        key_id=key.id,
        key_public_id=key.public_id,
        reason=params.reason,
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {unit.name}",
    )
    audit.record(
        session=session,
        action="key_regeneration.requested",
        object_type="process",
        object_id=process.id,
        details={"account_id": account.id, "key_id": key.id, "reason": params.reason},
        actor=actor,
    )
    session.flush()
    return process


def _locked(session: Session, process_id: int) -> tuple[Process, KeyRegenerationFacts]:
    return process_facts(
        session=session, process_id=process_id, process_type=TYPE, model=KeyRegenerationFacts, lock=True
    )


def approval_shown(*, session: Session, process_id: int) -> list[list[str]]:
    """What the approving institute admin sees."""
    return _locked(session, process_id)[1].shown()


def apply_regeneration(
    *, session: Session, process_id: int, approver_id: int | None, settings: Settings | None = None
) -> KeyRegenerationFacts:
    """The approved regeneration: the account's current API key replaced (kept for one showing), its
    grants moved; idempotent (a re-run finds it done)."""
    process, facts = _locked(session, process_id)
    if facts.done_at is not None:
        return facts
    account = session.get_one(Account, facts.account_id)
    if account.state != AccountState.ACTIVE:
        raise AccountNotActive(facts.unit_name, account.state)
    key = active_api_key(session, account.id)
    if key is None:
        raise NoActiveApiKey(facts.unit_name)
    approver = session.get(Person, approver_id) if approver_id is not None else None
    actor = Actor(person_id=approver.id, label=approver.full_name) if approver else Actor.system()
    done = rekey_api(
        session=session,
        key_id=key.id,
        actor=actor,
        note=f"Перегенерація ключа API (процес №{process.id}): {facts.reason}"[: keys.NOTE_MAX_LENGTH],
        event_key=f"process-{process.id}",
        settings=settings,
    )
    facts.done_at = datetime.now(UTC)
    facts.new_key_id = done.new_key_id
    facts.moved_grant_ids = done.moved_grant_ids
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="key_regeneration.done",
        object_type="process",
        object_id=process.id,
        details={
            "account_id": facts.account_id,
            "old_key_id": done.old_key_id,
            "new_key_id": done.new_key_id,
            "moved_grant_ids": done.moved_grant_ids,
        },
        actor=actor,
    )
    session.flush()
    return facts


def outcome_of(facts: KeyRegenerationFacts) -> str:
    """The process's outcome line."""
    moved = (
        f" Доступів ОІС перенесено на новий ключ: {len(facts.moved_grant_ids)}."
        if facts.moved_grant_ids
        else ""
    )
    replaced = f"Ключ API №{facts.key_id} деактивовано, згенеровано новий №{facts.new_key_id}."
    return f"{replaced}{moved} {SHOWN_ONCE_UK}"


def outcome_facts(*, session: Session, process_id: int) -> list[str]:
    """The lines the requester's email carries."""
    facts = _locked(session, process_id)[1]
    return [outcome_of(facts)]


# --- `aikom keys …`: an institute admin's direct key changes ----------------------------------------


def _required_reason(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise ValidationFailed(
            "note", "Причина: вкажіть, чому ключ змінюють — без неї зміну не буде внесено."
        )
    if len(text) > keys.NOTE_MAX_LENGTH:
        raise ValidationFailed("note", f"Причина: не довше за {keys.NOTE_MAX_LENGTH} символів.")
    return text


def check_key_admin(person: Person, what: str) -> Actor:
    """The actor of a direct key change: an active institute admin; KeyAdminOnly otherwise."""
    if person.role not in KEY_ADMIN_ROLES or person.state != PersonState.ACTIVE:
        raise KeyAdminOnly(person, what)
    return Actor(person_id=person.id, label=person.full_name)


def issue_directly(*, session: Session, person: Person, org_unit_id: int) -> keys.IssuedKeys:
    """Issue an org unit's keys (the account created PENDING when missing) — an institute admin only."""
    actor = check_key_admin(person, "Видача ключів")
    return keys.issue_keys_for_org_unit(
        session=session, org_unit_id=org_unit_id, actor_label=actor.label, actor_person_id=actor.person_id
    )


def deactivate_directly(*, session: Session, person: Person, key_id: int, note: str) -> AccessKey:
    """Deactivate a key for good with a reason — an institute admin only."""
    actor = check_key_admin(person, "Деактивація ключа")
    return keys.deactivate_key(
        session=session, key_id=key_id, actor_label=actor.label, actor_person_id=actor.person_id, note=note
    )


@dataclass(frozen=True)
class DirectRegeneration:
    """A key replaced by an institute admin: an API key is kept for the account's director (never shown
    to the admin); a base key is returned (`token`) to be shown once."""

    old_key_id: int
    new_key_id: int
    kind: KeyKind
    public_id: str
    moved_grant_ids: list[int]
    token: str | None = None


def regenerate_directly(
    *, session: Session, person: Person, key_id: int, note: str, settings: Settings | None = None
) -> DirectRegeneration:
    """Replace a key with a reason — an institute admin only. An API key goes the way of a regeneration
    (its successor shown once to the account's director or admin, grants moved, operators told)."""
    actor = check_key_admin(person, "Перегенерація ключа")
    clean = _required_reason(note)
    key = session.get(AccessKey, key_id)
    if key is None:
        raise keys.KeyNotFound(key_id)
    if key.kind == KeyKind.API:
        done = rekey_api(
            session=session,
            key_id=key_id,
            actor=actor,
            note=clean,
            event_key=f"key-{key_id}",
            settings=settings,
        )
        return DirectRegeneration(
            old_key_id=key_id,
            new_key_id=done.new_key_id,
            kind=KeyKind.API,
            public_id=done.new_public_id,
            moved_grant_ids=done.moved_grant_ids,
        )
    new = keys.regenerate_key(
        session=session,
        key_id=key_id,
        actor_label=actor.label,
        actor_person_id=actor.person_id,
        note=clean,
        settings=settings,
    )
    return DirectRegeneration(
        old_key_id=key_id,
        new_key_id=new.key_id,
        kind=new.kind,
        public_id=new.public_id,
        moved_grant_ids=[],
        token=new.token,
    )


def params_from_request(*, session: Session, request: SupportRequest) -> dict[str, Any]:
    """A key regeneration started by the desk from a support request of type key_regeneration: the reason
    is the request's subject and number (the desk may edit it in the form)."""
    reason = f"Звернення до служби підтримки №{request.id}: {request.subject}".strip()
    return {"reason": reason[:REASON_MAX_LENGTH]}
