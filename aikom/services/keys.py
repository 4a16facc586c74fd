"""Access keys of accounts: issue, check, deactivate, suspend, reinstate and regenerate.

Only a key's public id and HMAC(pepper, secret) are stored; the plaintext leaves this module once, in
the value returned by `issue_account_keys` / `regenerate_key`. Every change writes an audit entry in
the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, ValidationFailed
from aikom.core.keys import (
    DEFAULT_SCOPES,
    REASON_MESSAGES_UK,
    KeyCheckReason,
    KeyChecksumMismatch,
    KeyPepperMissing,
    MalformedKey,
    ParsedToken,
    generate_token,
    hash_secret,
    parse_token,
    pepper_bytes,
    secret_matches,
)
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    GrantState,
    KeyKind,
    KeyState,
    OisGrant,
    OrgLevel,
    OrgUnit,
)
from aikom.services import audit
from aikom.settings import Settings, get_settings

log = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 500
# Hashed when the public id is unknown, so an unknown key costs about as much as a known one.
_DUMMY_HASH = bytes(32)


class KeysAlreadyIssued(DomainError):
    """The account already holds current keys; a second pair is never issued."""

    code = "keys_already_issued"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Обліковий запис №{account_id} уже має ключі доступу. Щоб отримати новий ключ, "
            "замовте його перегенерацію.",
            account_id=account_id,
        )
        self.account_id = account_id


class AccountDeactivated(DomainError):
    """A deactivated account gets no keys and no key changes."""

    code = "account_deactivated"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Обліковий запис №{account_id} деактивовано: ключі для нього не видаються.",
            account_id=account_id,
        )
        self.account_id = account_id


class OrgUnitNotFound(NotFound):
    """No org unit with that id."""

    def __init__(self, org_unit_id: int) -> None:
        super().__init__(f"Організацію №{org_unit_id} не знайдено.", org_unit_id=org_unit_id)
        self.org_unit_id = org_unit_id


class KeyNotFound(NotFound):
    """No key with that id."""

    def __init__(self, key_id: int) -> None:
        super().__init__(f"Ключ №{key_id} не знайдено.", key_id=key_id)
        self.key_id = key_id


class KeyAlreadyDeactivated(DomainError):
    """A deactivated key stays deactivated."""

    code = "key_already_deactivated"

    def __init__(self, key_id: int) -> None:
        super().__init__(f"Ключ №{key_id} уже деактивовано.", key_id=key_id)
        self.key_id = key_id


class KeyAlreadyReplaced(DomainError):
    """The key already has a successor (or the account already holds a current key of its kind)."""

    code = "key_already_replaced"

    def __init__(self, key_id: int, replacement_id: int) -> None:
        super().__init__(
            f"Ключ №{key_id} уже замінено: поточний ключ цього виду — №{replacement_id}.",
            key_id=key_id,
            replacement_id=replacement_id,
        )
        self.key_id = key_id
        self.replacement_id = replacement_id


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key; `token` is its plaintext, shown once and never stored."""

    key_id: int
    kind: KeyKind
    public_id: str
    scopes: tuple[str, ...]
    token: str = field(repr=False)


@dataclass(frozen=True)
class IssuedKeys:
    """The base key and the API key issued together for an account."""

    account_id: int
    base: IssuedKey
    api: IssuedKey


@dataclass(frozen=True)
class OrgUnitRef:
    """The org unit a valid key acts for."""

    id: int
    name: str
    level: OrgLevel


@dataclass(frozen=True)
class KeyCheck:
    """Outcome of checking a presented key: the unit and scopes only when the key is valid."""

    valid: bool
    reason: KeyCheckReason
    kind: KeyKind | None = None
    org_unit: OrgUnitRef | None = None
    scopes: tuple[str, ...] = ()

    @property
    def message_uk(self) -> str:
        """Ukrainian explanation of the outcome."""
        return REASON_MESSAGES_UK[self.reason]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `aikom keys check --json` prints)."""
        return {
            "valid": self.valid,
            "reason": self.reason.value,
            "message": self.message_uk,
            "kind": self.kind.value if self.kind else None,
            "org_unit": (
                {"id": self.org_unit.id, "name": self.org_unit.name, "level": self.org_unit.level.value}
                if self.org_unit
                else None
            ),
            "scopes": list(self.scopes),
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _new_key(
    *,
    session: Session,
    account_id: int,
    kind: KeyKind,
    scopes: tuple[str, ...],
    settings: Settings,
    replaces_id: int | None = None,
) -> IssuedKey:
    pepper_id = settings.key_pepper_id
    pepper = pepper_bytes(settings.key_peppers, pepper_id)
    generated = generate_token(kind.value)
    key = AccessKey(
        account_id=account_id,
        kind=kind,
        public_id=generated.public_id,
        secret_hash=hash_secret(generated.secret, pepper),
        pepper_id=pepper_id,
        scopes=list(scopes),
        state=KeyState.ACTIVE,
        replaces_id=replaces_id,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key_id=key.id, kind=kind, public_id=key.public_id, scopes=scopes, token=generated.token)


def _lock_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, with_for_update=True, populate_existing=True)
    if account is None:
        raise NotFound(f"Обліковий запис №{account_id} не знайдено.", account_id=account_id)
    return account


def _lock_key(session: Session, key_id: int) -> AccessKey:
    key = session.get(AccessKey, key_id, with_for_update=True, populate_existing=True)
    if key is None:
        raise KeyNotFound(key_id)
    return key


def _clean_note(note: str | None, *, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise ValidationFailed("note", "Вкажіть причину (примітку) — без неї зміну не буде внесено.")
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationFailed("note", f"Примітка має бути не довшою за {NOTE_MAX_LENGTH} символів.")
    return text or None


def issue_account_keys(
    *,
    session: Session,
    account: Account,
    actor_label: str,
    actor_person_id: int | None = None,
    settings: Settings | None = None,
) -> IssuedKeys:
    """Issue the base key and the API key of an account; refuse when it already holds current keys."""
    settings = settings or get_settings()
    locked = _lock_account(session, account.id)  # serialises concurrent issuers of one account
    if locked.state == AccountState.DEACTIVATED:
        raise AccountDeactivated(locked.id)
    current = session.scalars(
        select(AccessKey.id).where(
            AccessKey.account_id == locked.id, AccessKey.state.in_([KeyState.ACTIVE, KeyState.SUSPENDED])
        )
    ).first()
    if current is not None:
        raise KeysAlreadyIssued(locked.id)
    actor = Actor(person_id=actor_person_id, label=actor_label)
    return issue_keys_for_accounts(session=session, account_ids=[locked.id], actor=actor, settings=settings)[
        locked.id
    ]


def issue_keys_for_accounts(
    *, session: Session, account_ids: Sequence[int], actor: Actor, settings: Settings | None = None
) -> dict[int, IssuedKeys]:
    """Issue the base and API key of each account in two statements (one insert, one audit append); the
    caller has checked that none of them holds current keys (a national rollout issues thousands)."""
    settings = settings or get_settings()
    if not account_ids:
        return {}
    pepper_id = settings.key_pepper_id
    pepper = pepper_bytes(settings.key_peppers, pepper_id)
    planned: list[tuple[int, KeyKind, str, str]] = []  # account, kind, public id, token
    rows: list[dict[str, Any]] = []
    for account_id in account_ids:
        for kind in (KeyKind.BASE, KeyKind.API):
            generated = generate_token(kind.value)
            planned.append((account_id, kind, generated.public_id, generated.token))
            rows.append(
                {
                    "account_id": account_id,
                    "kind": kind,
                    "public_id": generated.public_id,
                    "secret_hash": hash_secret(generated.secret, pepper),
                    "pepper_id": pepper_id,
                    "scopes": list(DEFAULT_SCOPES[kind.value]),
                    "state": KeyState.ACTIVE,
                }
            )
    ids = session.scalars(insert(AccessKey).returning(AccessKey.id, sort_by_parameter_order=True), rows).all()
    issued: dict[int, dict[KeyKind, IssuedKey]] = {}
    for key_id, (account_id, kind, public_id, token) in zip(ids, planned, strict=True):
        scopes = tuple(DEFAULT_SCOPES[kind.value])
        issued.setdefault(account_id, {})[kind] = IssuedKey(
            key_id=key_id, kind=kind, public_id=public_id, scopes=scopes, token=token
        )
    audit.record_many(
        session=session,
        events=[
            audit.Event(
                action="access_key.issued",
                object_type="account",
                object_id=account_id,
                details={
                    "keys": [
                        {
                            "key_id": k.key_id,
                            "kind": k.kind,
                            "public_id": k.public_id,
                            "scopes": list(k.scopes),
                        }
                        for k in (pair[KeyKind.BASE], pair[KeyKind.API])
                    ]
                },
            )
            for account_id, pair in issued.items()
        ],
        actor=actor,
    )
    return {
        account_id: IssuedKeys(account_id=account_id, base=pair[KeyKind.BASE], api=pair[KeyKind.API])
        for account_id, pair in issued.items()
    }


def issue_keys_for_org_unit(
    *,
    session: Session,
    org_unit_id: int,
    actor_label: str,
    actor_person_id: int | None = None,
    settings: Settings | None = None,
) -> IssuedKeys:
    """Issue the keys of an org unit's account, creating the account (PENDING) when it has none."""
    unit = session.get(OrgUnit, org_unit_id)
    if unit is None:
        raise OrgUnitNotFound(org_unit_id)
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    if account is None:
        account = Account(org_unit_id=unit.id, state=AccountState.PENDING)
        session.add(account)
        session.flush()
        audit.record(
            session=session,
            action="account.created",
            object_type="account",
            object_id=account.id,
            details={"org_unit_id": unit.id, "state": account.state},
            actor_person_id=actor_person_id,
            actor_label=actor_label,
        )
    return issue_account_keys(
        session=session,
        account=account,
        actor_label=actor_label,
        actor_person_id=actor_person_id,
        settings=settings,
    )


def _parse_or_refuse(token: str) -> ParsedToken | KeyCheck:
    try:
        return parse_token(token)
    except MalformedKey:
        return KeyCheck(valid=False, reason=KeyCheckReason.MALFORMED)
    except KeyChecksumMismatch as exc:
        return KeyCheck(valid=False, reason=KeyCheckReason.BAD_CHECKSUM, kind=KeyKind(exc.kind))


def precheck_token(token: str) -> KeyCheck | None:
    """The refusal of a malformed or mistyped token, found without the database; None if well-formed."""
    parsed = _parse_or_refuse(token)
    return parsed if isinstance(parsed, KeyCheck) else None


def check_key(*, session: Session, token: str, settings: Settings | None = None) -> KeyCheck:
    """Check a presented key: valid (with its unit and scopes) or the reason it is refused.

    A typo is caught by the checksum without touching the database. A valid key hashed under a
    retired pepper is re-hashed under the current one (the only moment the secret is at hand).
    """
    settings = settings or get_settings()
    parsed = _parse_or_refuse(token)
    if isinstance(parsed, KeyCheck):
        return parsed
    kind = KeyKind(parsed.kind)
    row = session.execute(
        select(AccessKey, Account.state, OrgUnit.id, OrgUnit.name, OrgUnit.level)
        .join(Account, Account.id == AccessKey.account_id)
        .join(OrgUnit, OrgUnit.id == Account.org_unit_id)
        .where(AccessKey.public_id == parsed.public_id)
    ).one_or_none()
    if row is None or row[0].kind != kind:
        secret_matches(parsed.secret, _DUMMY_HASH, b"dummy-pepper")
        return KeyCheck(valid=False, reason=KeyCheckReason.UNKNOWN, kind=kind)
    key, account_state, unit_id, unit_name, unit_level = row
    try:
        pepper = pepper_bytes(settings.key_peppers, key.pepper_id)
    except KeyPepperMissing:
        log.warning("access key %s is hashed under retired pepper %s", key.id, key.pepper_id)
        return KeyCheck(valid=False, reason=KeyCheckReason.WRONG_SECRET, kind=kind)
    # The secret is checked before the state, so only the key's holder learns that it was deactivated.
    if not secret_matches(parsed.secret, key.secret_hash, pepper):
        return KeyCheck(valid=False, reason=KeyCheckReason.WRONG_SECRET, kind=kind)
    if key.state == KeyState.DEACTIVATED:
        return KeyCheck(valid=False, reason=KeyCheckReason.DEACTIVATED, kind=kind)
    if key.state == KeyState.SUSPENDED:
        return KeyCheck(valid=False, reason=KeyCheckReason.SUSPENDED, kind=kind)
    # A new account (PENDING) is entered with its base key: that is what the key is for (the order, item 4).
    usable = (AccountState.ACTIVE, AccountState.PENDING) if kind == KeyKind.BASE else (AccountState.ACTIVE,)
    if account_state not in usable:
        return KeyCheck(valid=False, reason=KeyCheckReason.ACCOUNT_INACTIVE, kind=kind)
    if key.pepper_id != settings.key_pepper_id:
        _rehash(session=session, key=key, secret=parsed.secret, settings=settings)
    return KeyCheck(
        valid=True,
        reason=KeyCheckReason.OK,
        kind=kind,
        org_unit=OrgUnitRef(id=unit_id, name=unit_name, level=unit_level),
        scopes=tuple(key.scopes),
    )


def _rehash(*, session: Session, key: AccessKey, secret: bytes, settings: Settings) -> None:
    old_pepper_id = key.pepper_id
    key.secret_hash = hash_secret(secret, pepper_bytes(settings.key_peppers, settings.key_pepper_id))
    key.pepper_id = settings.key_pepper_id
    session.flush()
    audit.record(
        session=session,
        action="access_key.rehashed",
        object_type="access_key",
        object_id=key.id,
        details={"from_pepper_id": old_pepper_id, "to_pepper_id": key.pepper_id},
        actor_label="system:pepper-rotation",
    )


def _mark_deactivated(session: Session, key: AccessKey, note: str | None) -> None:
    """The key is deactivated for good, now, with the note saying why (flushed)."""
    key.state = KeyState.DEACTIVATED
    key.deactivated_at = _now()
    key.deactivation_note = note
    session.flush()


def deactivate_key(
    *,
    session: Session,
    key_id: int,
    actor_label: str,
    note: str,
    actor_person_id: int | None = None,
) -> AccessKey:
    """Deactivate a key for good, with a note saying why."""
    clean_note = _clean_note(note, required=True)
    key = _lock_key(session, key_id)
    if key.state == KeyState.DEACTIVATED:
        raise KeyAlreadyDeactivated(key.id)
    previous_state = key.state
    _mark_deactivated(session, key, clean_note)
    audit.record(
        session=session,
        action="access_key.deactivated",
        object_type="access_key",
        object_id=key.id,
        details={
            "account_id": key.account_id,
            "kind": key.kind,
            "public_id": key.public_id,
            "previous_state": previous_state,
            "note": clean_note,
        },
        actor_person_id=actor_person_id,
        actor_label=actor_label,
    )
    return key


def suspend_account_keys(
    *,
    session: Session,
    account_id: int,
    actor_label: str,
    note: str,
    actor_person_id: int | None = None,
) -> list[AccessKey]:
    """Suspend every active key of an account at once (cyber incident); return the keys suspended."""
    clean_note = _clean_note(note, required=True)
    _lock_account(session, account_id)
    return _move_account_keys(
        session,
        account_id,
        KeyState.ACTIVE,
        KeyState.SUSPENDED,
        "access_key.suspended",
        clean_note,
        actor_label,
        actor_person_id,
    )


def reinstate_account_keys(
    *,
    session: Session,
    account_id: int,
    actor_label: str,
    note: str,
    actor_person_id: int | None = None,
) -> list[AccessKey]:
    """Make an account's suspended keys active again (the suspension was not upheld)."""
    clean_note = _clean_note(note, required=True)
    account = _lock_account(session, account_id)
    if account.state == AccountState.DEACTIVATED:
        raise AccountDeactivated(account.id)
    return _move_account_keys(
        session,
        account_id,
        KeyState.SUSPENDED,
        KeyState.ACTIVE,
        "access_key.reinstated",
        clean_note,
        actor_label,
        actor_person_id,
    )


def _move_account_keys(
    session: Session,
    account_id: int,
    from_state: KeyState,
    to_state: KeyState,
    action: str,
    note: str | None,
    actor_label: str,
    actor_person_id: int | None,
) -> list[AccessKey]:
    """Move every key of the (locked) account from one state to another, with one audit entry."""
    keys = list(
        session.scalars(
            select(AccessKey)
            .where(AccessKey.account_id == account_id, AccessKey.state == from_state)
            .order_by(AccessKey.id)
            .with_for_update()
        )
    )
    if not keys:
        return []
    for key in keys:
        key.state = to_state
    session.flush()
    audit.record(
        session=session,
        action=action,
        object_type="account",
        object_id=account_id,
        details={"key_ids": [k.id for k in keys], "note": note},
        actor_person_id=actor_person_id,
        actor_label=actor_label,
    )
    return keys


def regenerate_key(
    *,
    session: Session,
    key_id: int,
    actor_label: str,
    note: str | None = None,
    actor_person_id: int | None = None,
    settings: Settings | None = None,
) -> IssuedKey:
    """Replace a key: the old one is deactivated, a new one of the same kind and scopes takes its place.

    Active ОІС grants bound to an old API key move to the new key, so the school's grants survive.
    """
    settings = settings or get_settings()
    clean_note = _clean_note(note, required=False) or "Замінено новим ключем (перегенерація)."
    found = session.get(AccessKey, key_id)
    if found is None:
        raise KeyNotFound(key_id)
    # Account first, then key: the same lock order as suspension, so the two never deadlock.
    account = _lock_account(session, found.account_id)
    key = _lock_key(session, key_id)
    if account.state == AccountState.DEACTIVATED:
        raise AccountDeactivated(account.id)
    successor = session.scalars(
        select(AccessKey.id)
        .where(
            AccessKey.account_id == key.account_id,
            AccessKey.kind == key.kind,
            AccessKey.id != key.id,
            (AccessKey.replaces_id == key.id) | AccessKey.state.in_([KeyState.ACTIVE, KeyState.SUSPENDED]),
        )
        .order_by(AccessKey.id.desc())
    ).first()
    if successor is not None:
        raise KeyAlreadyReplaced(key.id, successor)
    if key.state != KeyState.DEACTIVATED:
        # Flushed before the new key exists: one active key per kind is a unique index.
        _mark_deactivated(session, key, clean_note)
    new = _new_key(
        session=session,
        account_id=key.account_id,
        kind=key.kind,
        scopes=tuple(key.scopes),
        settings=settings,
        replaces_id=key.id,
    )
    moved_grants: list[int] = []
    if key.kind == KeyKind.API:
        moved_grants = list(
            session.scalars(
                update(OisGrant)
                .where(OisGrant.api_key_id == key.id, OisGrant.state == GrantState.ACTIVE)
                .values(api_key_id=new.key_id)
                .returning(OisGrant.id),
                execution_options={"synchronize_session": "fetch"},
            )
        )
    audit.record(
        session=session,
        action="access_key.regenerated",
        object_type="access_key",
        object_id=new.key_id,
        details={
            "account_id": key.account_id,
            "kind": key.kind,
            "public_id": new.public_id,
            "replaces_id": key.id,
            "moved_grant_ids": sorted(moved_grants),
            "note": clean_note,
        },
        actor_person_id=actor_person_id,
        actor_label=actor_label,
    )
    return new
