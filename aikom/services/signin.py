"""КЕП sign-in: a one-time challenge, the signature over it, and the mapping to a person.

The certificate's ЄДРПОУ must be the person's unit's (a branch without its own ЄДРПОУ: its hub's) and
its РНОКПП the person's. A PENDING person becomes ACTIVE at the first successful sign-in (the
verification the seed requires), and so does a PENDING account. Every attempt is recorded; failures are
rate-limited per client.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.errors import ValidationFailed
from aikom.core.kep.reasons import Purpose
from aikom.core.kep.trust import TrustList
from aikom.core.kep.verify import Verification, verify_detached
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    KeyKind,
    KeyState,
    OrgUnit,
    Person,
    PersonState,
    SigninAttempt,
    SigninChallenge,
)
from aikom.services import approvals, audit
from aikom.services.keys import check_key
from aikom.services.org import effective_edrpou
from aikom.services.persons import find_persons_by_rnokpp
from aikom.settings import Settings

CHALLENGE_PREFIX = "АІКОМ: вхід до системи. Одноразовий виклик: "

SIGNIN_MESSAGES_UK: dict[str, str] = {
    "rate_limited": "Забагато невдалих спроб входу. Спробуйте пізніше.",
    "challenge_unknown": "Виклик для входу не знайдено. Завантажте новий виклик і підпишіть його.",
    "challenge_used": "Цей виклик уже використано. Завантажте новий виклик і підпишіть його.",
    "challenge_expired": "Термін дії виклику минув. Завантажте новий виклик і підпишіть його.",
    "no_identity": "У сертифікаті немає РНОКПП або ЄДРПОУ — такий КЕП не підходить для входу.",
    "unknown_person": "Особу з РНОКПП із цього сертифіката не зареєстровано в АІКОМ.",
    "wrong_edrpou": (
        "ЄДРПОУ у сертифікаті не збігається з ЄДРПОУ закладу чи органу, за яким закріплено особу."
    ),
    "person_inactive": "Картку особи деактивовано: вхід неможливий.",
    "account_inactive": "Обліковий запис закладу чи органу не активний: вхід неможливий.",
    "base_key_required": (
        "Базовий ключ доступу: це перший вхід до нового облікового запису — введіть базовий ключ, "
        "надісланий на офіційну електронну пошту закладу чи органу."
    ),
    "base_key_wrong": (
        "Базовий ключ доступу: ключ не той, що надіслано на офіційну пошту цього закладу чи органу, "
        "або його деактивовано."
    ),
}


@dataclass(frozen=True)
class Challenge:
    """A one-time challenge: the exact bytes a person signs."""

    nonce: str
    expires_at: datetime

    @property
    def content(self) -> bytes:
        """The bytes to sign."""
        return challenge_content(self.nonce)


def challenge_content(nonce: str) -> bytes:
    """The text a person signs to sign in with `nonce`."""
    return (CHALLENGE_PREFIX + nonce).encode("utf-8")


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in attempt."""

    ok: bool
    reason: str | None
    message_uk: str
    person_id: int | None = None
    activated: bool = False
    verification: Verification | None = None
    # First-sign-in steps this sign-in decided: the caller wakes their runs after commit.
    decided_task_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "message": self.message_uk,
            "person_id": self.person_id,
            "activated": self.activated,
            "identity": self.verification.identity.to_dict()
            if self.verification and self.verification.identity
            else None,
        }


def issue_challenge(*, session: Session, settings: Settings, now: datetime | None = None) -> Challenge:
    """Create a random, short-lived, single-use challenge."""
    now = now or datetime.now(UTC)
    nonce = secrets.token_urlsafe(24)
    expires_at = now + timedelta(seconds=settings.challenge_ttl_seconds)
    session.add(SigninChallenge(nonce=nonce, created_at=now, expires_at=expires_at))
    session.flush()
    return Challenge(nonce=nonce, expires_at=expires_at)


def too_many_failures(*, session: Session, settings: Settings, client_key: str, now: datetime) -> bool:
    """Has this client failed to sign in (or register) too often within the failure window?"""
    window_start = now - timedelta(seconds=settings.signin_failure_window_seconds)
    failures = session.scalar(
        select(func.count())
        .select_from(SigninAttempt)
        .where(
            SigninAttempt.client_key == client_key,
            SigninAttempt.ok.is_(False),
            SigninAttempt.at >= window_start,
        )
    )
    return (failures or 0) >= settings.signin_max_failures


def sign_in(
    *,
    session: Session,
    settings: Settings,
    trust: TrustList,
    nonce: str,
    signature: bytes,
    client_key: str,
    now: datetime | None = None,
    base_key: str | None = None,
) -> SignInResult:
    """Verify a signed challenge and map the certificate to a person; record the attempt.

    The first sign-in to a newly opened account (PENDING, holding a base key) also needs that base key:
    it binds the account to whoever reads the unit's official mailbox (the order, item 4).
    """
    now = now or datetime.now(UTC)
    result = _attempt(
        session=session,
        settings=settings,
        trust=trust,
        nonce=nonce,
        signature=signature,
        client_key=client_key,
        now=now,
        base_key=base_key,
    )
    session.add(
        SigninAttempt(
            client_key=client_key, person_id=result.person_id, ok=result.ok, reason=result.reason, at=now
        )
    )
    session.flush()
    return result


def _refuse(
    reason: str, verification: Verification | None = None, person_id: int | None = None
) -> SignInResult:
    return SignInResult(
        ok=False,
        reason=reason,
        message_uk=SIGNIN_MESSAGES_UK[reason],
        person_id=person_id,
        verification=verification,
    )


def _attempt(
    *,
    session: Session,
    settings: Settings,
    trust: TrustList,
    nonce: str,
    signature: bytes,
    client_key: str,
    now: datetime,
    base_key: str | None,
) -> SignInResult:
    if too_many_failures(session=session, settings=settings, client_key=client_key, now=now):
        return _refuse("rate_limited")

    challenge = session.scalars(
        select(SigninChallenge).where(SigninChallenge.nonce == nonce).with_for_update()
    ).one_or_none()
    if challenge is None:
        return _refuse("challenge_unknown")
    if challenge.used_at is not None:
        return _refuse("challenge_used")
    challenge.used_at = now  # burnt by any attempt: a challenge is never tried twice
    if challenge.expires_at <= now:
        return _refuse("challenge_expired")

    verification = verify_detached(
        signature,
        challenge_content(nonce),
        trust=trust,
        purpose=Purpose.SIGN_IN,
        max_bytes=settings.max_signature_bytes,
    )
    if not verification.ok:
        return SignInResult(
            ok=False,
            reason=verification.reason.value if verification.reason else "invalid",
            message_uk=verification.message_uk,
            verification=verification,
        )
    identity = verification.identity
    if identity is None or not identity.rnokpp or not identity.edrpou:
        return _refuse("no_identity", verification)

    try:
        candidates = find_persons_by_rnokpp(session=session, rnokpp=identity.rnokpp)
    except ValidationFailed:  # the certificate's РНОКПП is not a valid number: nobody can match it
        candidates = []
    if not candidates:
        return _refuse("unknown_person", verification)
    matching = [p for p in candidates if _unit_edrpou(session, p) == identity.edrpou]
    if not matching:
        return _refuse("wrong_edrpou", verification, candidates[0].id)
    usable = [p for p in matching if p.state != PersonState.INACTIVE]
    if not usable:
        return _refuse("person_inactive", verification, matching[0].id)
    # Prefer an active card; a pending one is activated by this very sign-in.
    person = sorted(usable, key=lambda p: (p.state != PersonState.ACTIVE, p.id))[0]
    account = session.get(Account, person.account_id)
    if account is None or account.state not in (AccountState.ACTIVE, AccountState.PENDING):
        return _refuse("account_inactive", verification, person.id)
    if account.state == AccountState.PENDING:
        refusal = _check_base_key(session, settings, account, base_key)
        if refusal is not None:
            return _refuse(refusal, verification, person.id)

    # The certificate of the last sign-in: what the КЕП expiry reminders and the directory read.
    person.kep_issuer, person.kep_serial = identity.issuer[:500], identity.certificate_serial[:100]
    person.kep_not_after = identity.valid_until
    activated = person.state == PersonState.PENDING
    if activated:
        person.state = PersonState.ACTIVE
        person.activated_at = now
        audit.record(
            session=session,
            action="person.activated",
            object_type="person",
            object_id=str(person.id),
            details={"certificate_serial": identity.certificate_serial, "issuer": identity.issuer},
            actor_person_id=person.id,
            actor_label=person.full_name,
        )
    decided = approvals.confirm_first_signin(session=session, person=person, now=now) if activated else ()
    if account.state == AccountState.PENDING:
        account.state = AccountState.ACTIVE
        audit.record(
            session=session,
            action="account.activated",
            object_type="account",
            object_id=str(account.id),
            details={"by_person": person.id},
            actor_person_id=person.id,
            actor_label=person.full_name,
        )
    audit.record(
        session=session,
        action="person.signed_in",
        object_type="person",
        object_id=str(person.id),
        details={"certificate_serial": identity.certificate_serial},
        actor_person_id=person.id,
        actor_label=person.full_name,
    )
    return SignInResult(
        ok=True,
        reason=None,
        message_uk="Вхід виконано.",
        person_id=person.id,
        activated=activated,
        verification=verification,
        decided_task_ids=decided,
    )


def _check_base_key(session: Session, settings: Settings, account: Account, token: str | None) -> str | None:
    """Why the base key does not open this pending account (None when it does, or it has none)."""
    base = session.scalars(
        select(AccessKey.id).where(
            AccessKey.account_id == account.id,
            AccessKey.kind == KeyKind.BASE,
            AccessKey.state == KeyState.ACTIVE,
        )
    ).first()
    if base is None:  # opened before base keys were asked for (or by hand): nothing to check
        return None
    token = (token or "").strip()
    if not token:
        return "base_key_required"
    check = check_key(session=session, token=token, settings=settings)
    if not check.valid or check.kind != KeyKind.BASE or check.org_unit is None:
        return "base_key_wrong"
    if check.org_unit.id != account.org_unit_id:
        return "base_key_wrong"
    return None


def _unit_edrpou(session: Session, person: Person) -> str | None:
    unit = session.get(OrgUnit, person.org_unit_id)
    return effective_edrpou(session, unit) if unit else None
