"""Opening a unit's account (the order, items 3–4): the account, its base key and API key, the base key
emailed to the unit's official address, and the API key kept to be shown ONCE after the first sign-in.

Secrets: the base key is in clear only inside the email — the outbox keeps it encrypted and erases it
once the message is sent; the API key waits encrypted (at most `API_KEY_DELIVERY_DAYS`) until the unit's
director or admin reveals it, then only its hash remains. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.crypto import open_sealed, seal
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.timefmt import format_kyiv
from aikom.core.validation import check_email
from aikom.mail.templates import BaseKeyIssued
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    KeyDelivery,
    KeyState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
)
from aikom.services import audit
from aikom.services.keys import issue_keys_for_accounts
from aikom.services.outbox import Outgoing, enqueue_many
from aikom.services.persons import keyring
from aikom.settings import Settings, get_settings

API_KEY_DELIVERY_DAYS = 14
# Who may see a unit's new API key: the persons who act for the unit as a whole (never a deputy).
KEY_HOLDER_ROLES = frozenset(
    {PersonRole.DIRECTOR, PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN}
)


class AccountFinallyDeactivated(DomainError):
    """A unit whose account was deactivated gets no new account (the seeds: it is never used again)."""

    code = "account_deactivated_final"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Одиниця: обліковий запис «{unit.name}» деактивовано, і він не підлягає подальшому "
            "використанню; нового облікового запису для неї не створюють (для реорганізованого закладу "
            "правонаступник — нова одиниця).",
            org_unit_id=unit.id,
        )


class NoOfficialEmail(ValidationFailed):
    """The base key goes to the unit's official email: without one it cannot be sent."""

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            "official_email",
            f"Офіційна електронна пошта: у реєстрі немає адреси «{unit.name}» — вкажіть офіційну адресу "
            "одиниці (на неї надійде базовий ключ доступу).",
        )


def _sealed_context(key_id: int) -> bytes:
    return f"key_delivery.secret:{key_id}".encode()


def official_email_of(unit: OrgUnit, given: str | None) -> str:
    """The address the base key goes to: the one given, else the register's; NoOfficialEmail otherwise."""
    address = (given or "").strip() or (unit.official_email or "").strip()
    if not address:
        raise NoOfficialEmail(unit)
    try:
        return check_email(address)
    except ValueError as error:
        raise ValidationFailed("official_email", f"Офіційна електронна пошта: {error}") from error


def account_of(session: Session, unit_id: int) -> Account | None:
    """The unit's account, if it has one."""
    return session.scalars(select(Account).where(Account.org_unit_id == unit_id)).one_or_none()


def check_may_open(session: Session, unit: OrgUnit) -> Account | None:
    """The unit's current account (None when it has none); AccountFinallyDeactivated for a closed one."""
    account = account_of(session, unit.id)
    if account is not None and account.state == AccountState.DEACTIVATED:
        raise AccountFinallyDeactivated(unit)
    return account


def has_keys(session: Session, account_id: int) -> bool:
    """Whether the account holds current (active or suspended) keys."""
    return (
        session.scalars(
            select(AccessKey.id).where(
                AccessKey.account_id == account_id, AccessKey.state.in_([KeyState.ACTIVE, KeyState.SUSPENDED])
            )
        ).first()
        is not None
    )


@dataclass(frozen=True)
class OpenedAccount:
    """What opening a unit's account did."""

    account_id: int
    opened: bool  # False: the unit already had an account with keys; nothing was issued
    email_id: int | None = None
    base_key_id: int | None = None
    api_key_id: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AccountToOpen:
    """A unit whose account a process opens, and the official address its base key goes to."""

    unit_id: int
    unit_name: str
    unit_level: OrgLevel
    official_email: str
    idempotency_key: str  # of its base-key email


def open_account(
    *,
    session: Session,
    unit: OrgUnit,
    official_email: str,
    actor: Actor,
    deadline: datetime | None,
    idempotency_key: str,
    settings: Settings | None = None,
) -> OpenedAccount:
    """Open the unit's account (PENDING) with its base and API keys, email the base key to the official
    address and keep the API key for one showing; an account that already holds keys is left as it is."""
    account = check_may_open(session, unit)
    if account is not None and has_keys(session, account.id):
        return OpenedAccount(account_id=account.id, opened=False)
    wanted = AccountToOpen(unit.id, unit.name, unit.level, official_email, idempotency_key)
    return open_accounts(session=session, units=[wanted], actor=actor, deadline=deadline, settings=settings)[
        0
    ]


def open_accounts(
    *,
    session: Session,
    units: Sequence[AccountToOpen],
    actor: Actor,
    deadline: datetime | None,
    settings: Settings | None = None,
) -> list[OpenedAccount]:
    """Open many units' accounts at once (a rollout's batch): accounts PENDING where missing, base and API
    keys, the base-key emails (secrets encrypted) and the API keys kept for one showing — a few
    statements per batch, not per unit. The caller has left out units that hold keys or were deactivated."""
    settings = settings or get_settings()
    if not units:
        return []
    unit_ids = [u.unit_id for u in units]
    existing = session.execute(
        select(Account.org_unit_id, Account.id).where(Account.org_unit_id.in_(unit_ids))
    )
    accounts = {unit_id: account_id for unit_id, account_id in existing.tuples()}
    missing = [u for u in unit_ids if u not in accounts]
    if missing:
        created = session.execute(
            insert(Account).returning(Account.org_unit_id, Account.id, sort_by_parameter_order=True),
            [{"org_unit_id": unit_id, "state": AccountState.PENDING} for unit_id in missing],
        ).tuples()
        accounts.update({unit_id: account_id for unit_id, account_id in created})
        audit.record_many(
            session=session,
            events=[
                audit.Event("account.created", "account", accounts[u], {"org_unit_id": u}) for u in missing
            ],
            actor=actor,
        )
    account_ids = [accounts[u] for u in unit_ids]
    issued = issue_keys_for_accounts(session=session, account_ids=account_ids, actor=actor, settings=settings)
    ring = keyring(settings)
    deadline_text = format_kyiv(deadline) if deadline else None
    messages = enqueue_many(
        session=session,
        template="base_key_issued",
        messages=[
            Outgoing(
                to_address=u.official_email,
                variables=BaseKeyIssued(
                    org_name=u.unit_name,
                    addressee="Шановні колеги"
                    if u.unit_level != OrgLevel.SCHOOL
                    else "Шановна керівнице / шановний керівнику",
                    deadline=deadline_text,
                ),
                idempotency_key=u.idempotency_key,
                secret=issued[accounts[u.unit_id]].base.token,
            )
            for u in units
        ],
        settings=settings,
    )
    expires = datetime.now(UTC) + timedelta(days=API_KEY_DELIVERY_DAYS)
    session.execute(
        insert(KeyDelivery),
        [
            {
                "access_key_id": keys.api.key_id,
                "account_id": account_id,
                "ciphertext": seal(
                    keys.api.token.encode(), context=_sealed_context(keys.api.key_id), keyring=ring
                ),
                "cipher_key_id": ring.current_key_id,
                "expires_at": expires,
            }
            for account_id, keys in issued.items()
        ],
    )
    events = [
        audit.Event(
            "account.opened",
            "account",
            accounts[u.unit_id],
            {
                "org_unit_id": u.unit_id,
                "official_email": u.official_email,
                "outbox_id": messages[u.idempotency_key],
            },
        )
        for u in units
    ]
    audit.record_many(session=session, events=events, actor=actor)
    session.flush()
    return [
        OpenedAccount(
            account_id=accounts[u.unit_id],
            opened=True,
            email_id=messages[u.idempotency_key],
            base_key_id=issued[accounts[u.unit_id]].base.key_id,
            api_key_id=issued[accounts[u.unit_id]].api.key_id,
        )
        for u in units
    ]


def keep_api_key_for_showing(
    *, session: Session, account_id: int, key_id: int, token: str, settings: Settings | None = None
) -> None:
    """Keep a replacement API key (regeneration, revocation) encrypted for ONE showing to the account's
    director or admin; a key of the account still waiting (now replaced) is erased first."""
    ring = keyring(settings)
    session.execute(
        update(KeyDelivery)
        .where(KeyDelivery.account_id == account_id, KeyDelivery.ciphertext.is_not(None))
        .values(ciphertext=None, cipher_key_id=None)
    )
    session.add(
        KeyDelivery(
            access_key_id=key_id,
            account_id=account_id,
            ciphertext=seal(token.encode(), context=_sealed_context(key_id), keyring=ring),
            cipher_key_id=ring.current_key_id,
            expires_at=datetime.now(UTC) + timedelta(days=API_KEY_DELIVERY_DAYS),
        )
    )
    session.flush()


@dataclass(frozen=True)
class RevealedKey:
    """A new API key shown once: its public id and the token itself."""

    key_id: int
    public_id: str
    token: str = field(repr=False)


def _waiting_delivery(session: Session, person: Person, now: datetime) -> KeyDelivery | None:
    if person.role not in KEY_HOLDER_ROLES or person.state != PersonState.ACTIVE:
        return None
    return session.scalars(
        select(KeyDelivery)
        .where(
            KeyDelivery.account_id == person.account_id,
            KeyDelivery.ciphertext.is_not(None),
            KeyDelivery.shown_at.is_(None),
            KeyDelivery.expires_at > now,
        )
        .order_by(KeyDelivery.id)
        .with_for_update(skip_locked=True)
    ).first()


def api_key_waiting(*, session: Session, person_id: int, now: datetime | None = None) -> bool:
    """Whether a new API key of the person's account waits to be shown to them."""
    person = session.get(Person, person_id)
    if person is None:
        return False
    return _waiting_delivery(session, person, now or datetime.now(UTC)) is not None


def reveal_api_key(
    *, session: Session, person_id: int, now: datetime | None = None, settings: Settings | None = None
) -> RevealedKey | None:
    """Show the account's new API key ONCE to its director or admin: decrypt it, then erase it for good
    (audited); None when nothing waits for this person."""
    now = now or datetime.now(UTC)
    person = session.get(Person, person_id)
    if person is None:
        return None
    delivery = _waiting_delivery(session, person, now)
    if delivery is None or delivery.ciphertext is None:
        return None
    token = open_sealed(
        delivery.ciphertext, context=_sealed_context(delivery.access_key_id), keyring=keyring(settings)
    ).decode()
    key = session.get_one(AccessKey, delivery.access_key_id)
    delivery.ciphertext = None
    delivery.cipher_key_id = None
    delivery.shown_at = now
    delivery.shown_to_id = person.id
    key.delivered_at = now
    audit.record(
        session=session,
        action="access_key.delivered",
        object_type="access_key",
        object_id=key.id,
        details={"account_id": key.account_id, "public_id": key.public_id, "shown_to": person.id},
        actor_person_id=person.id,
        actor_label=person.full_name,
    )
    session.flush()
    return RevealedKey(key_id=key.id, public_id=key.public_id, token=token)


def erase_expired_deliveries(*, session: Session, now: datetime | None = None) -> int:
    """Erase the API keys nobody revealed in time (a lost key is replaced through regeneration)."""
    now = now or datetime.now(UTC)
    result = session.execute(
        update(KeyDelivery)
        .where(KeyDelivery.ciphertext.is_not(None), KeyDelivery.expires_at <= now)
        .values(ciphertext=None, cipher_key_id=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
