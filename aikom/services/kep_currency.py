"""КЕП currency: is a certificate one the sign-in would accept, whose КЕП runs out soon, and reminders.

- «Перевірити КЕП» (a public page): anyone signs a check challenge, or uploads a certificate, and sees
  whether the sign-in would accept it and why not — the same trust list, chain, CRL, validity and key
  usage checks (`Purpose.SIGN_IN`). The report shows what the certificate itself says, with the РНОКПП
  masked; it never says whether a card with that РНОКПП exists (only a signed-in person learns whether it
  is their own card). Check challenges are stateless HMAC tokens signed over a text of their own, so a
  check signature can never sign anyone in and a sign-in challenge is refused here.
- `expiring_persons`: active persons of the viewer's scope whose last sign-in certificate expires within N
  days or has expired, with counts per unit and per oblast (for the directory page and the CLI).
- `send_expiry_reminders`: 30 and 7 days before the end of a person's certificate, one email to them and
  one to each admin of their managing ОУО; once per certificate and threshold (the reconciler calls it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from aikom.core.crypto import DecryptionFailed, normalise_rnokpp
from aikom.core.errors import NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.core.kep import MESSAGES_UK, Purpose, ReasonCode, TrustList, Verification, verify_detached
from aikom.core.kep.certificate import MAX_CERTIFICATE_BYTES, verify_certificate
from aikom.core.timefmt import format_kyiv
from aikom.mail.templates import KepExpiring
from aikom.models import OrgLevel, OrgUnit, Person, PersonRole, PersonState, SigninAttempt
from aikom.services.org import ancestor_ids, effective_edrpou, subtree_ids
from aikom.services.outbox import enqueue
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL, read_rnokpp, role_title
from aikom.services.signin import SIGNIN_MESSAGES_UK
from aikom.settings import Settings, get_settings

CHECK_CHALLENGE_PREFIX = "АІКОМ: перевірка КЕП (не для входу до системи). Виклик: "
# Check attempts share the sign-in attempts table under their own client keys (never the sign-in's).
CHECK_CLIENT_PREFIX = "kep-check|"
CHECKS_PER_WINDOW = 20
REMINDER_DAYS = (30, 7)
MAX_WITHIN_DAYS = 366
TEMPLATE = "kep_expiring"
NO_OBLAST_UK = "Національний рівень"
R = PersonRole
# Who sees the expiring КЕП of their scope: institute staff (national), ОУО admins (their subtree),
# directors (their school and its branches).
DIRECTORY_ROLES = frozenset(
    {
        R.INSTITUTE_ADMIN,
        R.SUPPORT_AGENT,
        R.MANAGER,
        R.OBLAST_ADMIN,
        R.RAYON_ADMIN,
        R.HROMADA_ADMIN,
        R.DIRECTOR,
    }
)

CHECK_MESSAGES_UK: dict[str, str] = {
    "rate_limited": "Забагато перевірок з вашої адреси. Спробуйте пізніше.",
    "challenge_unknown": (
        "Виклик для перевірки не розпізнано (можливо, підписано виклик для входу). Отримайте новий виклик "
        "на цій сторінці і підпишіть його."
    ),
    "challenge_expired": "Термін дії виклику минув. Отримайте новий виклик і підпишіть його.",
    "no_identity": SIGNIN_MESSAGES_UK["no_identity"],
}
ACCEPTED_UK = (
    "Цей КЕП буде прийнято для входу до АІКОМ (якщо його РНОКПП і ЄДРПОУ відповідають вашій картці)."
)


class KepReport(BaseModel):
    """What the check found: accepted or not, why not (Ukrainian), and what the certificate says.

    The РНОКПП is masked; `own_card` is filled only for a signed-in viewer (is it their own card's КЕП?)."""

    accepted: bool
    reasons: list[str] = []
    reason_codes: list[str] = []
    notes: list[str] = []
    subject_name: str | None = None
    title: str | None = None
    organization: str | None = None
    issuer: str | None = None
    serial: str | None = None
    key_algorithm: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    days_left: int | None = None
    edrpou: str | None = None
    rnokpp_masked: str | None = None
    own_card: bool | None = None


@dataclass(frozen=True)
class CheckChallenge:
    """A challenge for the check page (never for signing in): the token and the bytes to sign."""

    token: str
    expires_at: datetime

    @property
    def content(self) -> bytes:
        """The bytes to sign."""
        return check_challenge_content(self.token)


def check_challenge_content(token: str) -> bytes:
    """The text a person signs to check their КЕП with `token`."""
    return (CHECK_CHALLENGE_PREFIX + token).encode("utf-8")


def _mac(settings: Settings, body: str) -> str:
    key = settings.key_peppers[settings.key_pepper_id].encode("utf-8")
    digest = hmac.new(key, b"aikom-kep-check-challenge|" + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def issue_check_challenge(*, settings: Settings, now: datetime | None = None) -> CheckChallenge:
    """A fresh check challenge, valid for the sign-in challenge's lifetime; nothing is stored."""
    now = now or datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.challenge_ttl_seconds)
    body = f"{secrets.token_urlsafe(18)}.{int(expires_at.timestamp())}"
    return CheckChallenge(token=f"{body}.{_mac(settings, body)}", expires_at=expires_at)


def _challenge_problem(settings: Settings, token: str, now: datetime) -> str | None:
    """None for a genuine, live check challenge; else the reason code."""
    body, _, mac = token.strip().rpartition(".")
    _nonce, _, expires = body.partition(".")
    if not body or not expires.isdigit() or not hmac.compare_digest(mac, _mac(settings, body)):
        return "challenge_unknown"
    if int(expires) <= now.timestamp():
        return "challenge_expired"
    return None


def mask_rnokpp(value: str) -> str:
    """A РНОКПП as the check shows it: the first two and last two digits («12******90»)."""
    digits = value.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def days_left(until: datetime, now: datetime) -> int:
    """Days until `until`, a part of a day counting as one (0 on its last day); once it has passed, minus
    the whole days since (0 on the day it ended)."""
    return math.ceil((until - now) / timedelta(days=1))


def certificate_report(verification: Verification, *, now: datetime | None = None) -> KepReport:
    """The report of one verification for `Purpose.SIGN_IN` (pure: no database, nothing personal)."""
    now = now or datetime.now(UTC)
    problems: list[tuple[str, str]] = []
    if not verification.ok:
        code = verification.reason.value if verification.reason else "invalid"
        problems.append((code, verification.message_uk))
    identity = verification.identity
    if identity is None:
        return KepReport(
            accepted=False, reasons=[m for _, m in problems], reason_codes=[c for c, _ in problems]
        )
    said = {message for _, message in problems}
    if identity.valid_until < now and MESSAGES_UK[ReasonCode.EXPIRED] not in said:
        problems.append((ReasonCode.EXPIRED.value, MESSAGES_UK[ReasonCode.EXPIRED]))
    if identity.valid_from > now and MESSAGES_UK[ReasonCode.NOT_YET_VALID] not in said:
        problems.append((ReasonCode.NOT_YET_VALID.value, MESSAGES_UK[ReasonCode.NOT_YET_VALID]))
    if not identity.rnokpp or not identity.edrpou:
        problems.append(("no_identity", CHECK_MESSAGES_UK["no_identity"]))
    left = days_left(identity.valid_until, now)
    notes: list[str] = []
    if not problems:
        notes.append(ACCEPTED_UK)
        if left <= REMINDER_DAYS[0]:
            notes.append(
                f"Строк чинності сертифіката спливає через {left} дн. ({format_kyiv(identity.valid_until)}): "
                "отримайте новий КЕП завчасно."
            )
    return KepReport(
        accepted=not problems,
        reasons=[message for _, message in problems],
        reason_codes=[code for code, _ in problems],
        notes=notes,
        subject_name=identity.common_name,
        title=identity.title,
        organization=identity.organization,
        issuer=identity.issuer,
        serial=identity.certificate_serial,
        key_algorithm=identity.key_algorithm.value,
        valid_from=identity.valid_from,
        valid_until=identity.valid_until,
        days_left=left,
        edrpou=identity.edrpou,
        rnokpp_masked=mask_rnokpp(identity.rnokpp) if identity.rnokpp else None,
    )


def _refused(code: str) -> KepReport:
    return KepReport(accepted=False, reasons=[CHECK_MESSAGES_UK[code]], reason_codes=[code])


def _rate_limited(session: Session, settings: Settings, client_key: str, now: datetime) -> bool:
    since = now - timedelta(seconds=settings.signin_failure_window_seconds)
    count = session.scalar(
        select(func.count())
        .select_from(SigninAttempt)
        .where(SigninAttempt.client_key == CHECK_CLIENT_PREFIX + client_key, SigninAttempt.at >= since)
    )
    return (count or 0) >= CHECKS_PER_WINDOW


def _record(session: Session, client_key: str, report: KepReport, now: datetime) -> None:
    reason = report.reason_codes[0] if report.reason_codes else None
    session.add(
        SigninAttempt(
            client_key=(CHECK_CLIENT_PREFIX + client_key)[:200],
            person_id=None,
            ok=report.accepted,
            reason=f"kep-check:{reason}"[:64] if reason else "kep-check",
            at=now,
        )
    )
    session.flush()


def _own_card(
    session: Session, settings: Settings, viewer_id: int, report: KepReport, rnokpp: str | None
) -> bool:
    """Whether the certificate's РНОКПП and ЄДРПОУ are those of the viewer's own card."""
    viewer = session.get(Person, viewer_id)
    if viewer is None or not rnokpp or not report.edrpou:
        return False
    try:
        same_person = read_rnokpp(viewer, settings=settings) == normalise_rnokpp(rnokpp)
    except (ValidationFailed, DecryptionFailed):
        return False
    unit = session.get(OrgUnit, viewer.org_unit_id)
    return same_person and unit is not None and effective_edrpou(session, unit) == report.edrpou


def _finish(
    *,
    session: Session,
    settings: Settings,
    verification: Verification,
    client_key: str,
    viewer_id: int | None,
    now: datetime,
) -> KepReport:
    report = certificate_report(verification, now=now)
    if viewer_id is not None and verification.identity is not None:
        report.own_card = _own_card(session, settings, viewer_id, report, verification.identity.rnokpp)
    _record(session, client_key, report, now)
    return report


def check_certificate(
    *,
    session: Session,
    settings: Settings,
    trust: TrustList,
    certificate: bytes,
    client_key: str,
    viewer_id: int | None = None,
    now: datetime | None = None,
) -> KepReport:
    """Check an uploaded certificate (DER or PEM) as the sign-in would; rate-limited per client."""
    now = now or datetime.now(UTC)
    if _rate_limited(session, settings, client_key, now):
        return _refused("rate_limited")
    verification = verify_certificate(
        certificate, trust=trust, purpose=Purpose.SIGN_IN, at=now, max_bytes=MAX_CERTIFICATE_BYTES
    )
    return _finish(
        session=session, settings=settings, verification=verification, client_key=client_key,
        viewer_id=viewer_id, now=now,
    )  # fmt: skip


def check_signed_challenge(
    *,
    session: Session,
    settings: Settings,
    trust: TrustList,
    token: str,
    signature: bytes,
    client_key: str,
    viewer_id: int | None = None,
    now: datetime | None = None,
) -> KepReport:
    """Check a signature over a check challenge as the sign-in would check one; rate-limited per client."""
    now = now or datetime.now(UTC)
    if _rate_limited(session, settings, client_key, now):
        return _refused("rate_limited")
    problem = _challenge_problem(settings, token, now)
    if problem is not None:
        report = _refused(problem)
        _record(session, client_key, report, now)
        return report
    verification = verify_detached(
        signature,
        check_challenge_content(token),
        trust=trust,
        purpose=Purpose.SIGN_IN,
        max_bytes=settings.max_signature_bytes,
    )
    return _finish(
        session=session, settings=settings, verification=verification, client_key=client_key,
        viewer_id=viewer_id, now=now,
    )  # fmt: skip


# --- the person's own certificate ----------------------------------------------------------------------


class LastSigninKep(BaseModel):
    """The certificate of a person's last sign-in."""

    issuer: str | None
    serial: str | None
    not_after: datetime
    days_left: int
    expired: bool


def last_signin_kep(*, session: Session, person_id: int, now: datetime | None = None) -> LastSigninKep | None:
    """The certificate a person last signed in with (None before their first sign-in)."""
    person = session.get(Person, person_id)
    if person is None or person.kep_not_after is None:
        return None
    now = now or datetime.now(UTC)
    return LastSigninKep(
        issuer=person.kep_issuer,
        serial=person.kep_serial,
        not_after=person.kep_not_after,
        days_left=days_left(person.kep_not_after, now),
        expired=person.kep_not_after <= now,
    )


# --- the directory: expiring certificates by scope --------------------------------------------------------


class ExpiringPerson(BaseModel):
    """A person whose КЕП expires within the period (or has expired)."""

    person_id: int
    full_name: str
    role: PersonRole
    role_title: str
    email: str
    org_unit_id: int
    org_unit_name: str
    oblast_id: int | None
    oblast_name: str | None
    kep_issuer: str | None
    kep_serial: str | None
    kep_not_after: datetime
    days_left: int
    expired: bool


class ExpiringCount(BaseModel):
    """How many persons of one unit (or oblast) have a КЕП that expires soon, and how many expired."""

    id: int | None
    name: str
    expiring: int
    expired: int


class ExpiringKeps(BaseModel):
    """Persons whose КЕП expires within `within_days` in a scope, with counts per unit and per oblast."""

    scope_unit_id: int
    scope_unit_name: str
    within_days: int
    as_of: datetime
    total: int
    expired: int
    persons: list[ExpiringPerson]
    per_unit: list[ExpiringCount]
    per_oblast: list[ExpiringCount]


def _scope_unit(session: Session, viewer: Person, org_unit_id: int | None) -> OrgUnit:
    if viewer.role not in DIRECTORY_ROLES or viewer.state != PersonState.ACTIVE:
        raise RoleNotAllowed(
            "Строки чинності КЕП бачать працівники ІОА, адміністратори ОУО і керівники закладів.",
            role=viewer.role.value,
        )
    own = session.get_one(OrgUnit, viewer.org_unit_id)
    if org_unit_id is None or org_unit_id == own.id:
        return own
    unit = session.get(OrgUnit, org_unit_id)
    if unit is None:
        raise NotFound(f"Одиницю № {org_unit_id} не знайдено.", unit_id=org_unit_id)
    if own.id not in unit.lineage:
        raise NotInScope(
            f"Одиниця: «{unit.name}» поза вашою зоною відповідальності ({own.name}).", unit_id=unit.id
        )
    return unit


def expiring_persons(
    *,
    session: Session,
    viewer: Person,
    within_days: int,
    now: datetime | None = None,
    org_unit_id: int | None = None,
) -> ExpiringKeps:
    """Active persons in `viewer`'s scope (or in `org_unit_id` inside it) whose last sign-in КЕП expires
    within `within_days` days from `now` or has already expired, soonest first, with counts per unit
    and per oblast.

    Scope: institute staff — the whole country; ОУО admins — their unit's subtree; directors — their
    school and its branches. RoleNotAllowed for any other role, NotInScope for a unit outside the scope,
    ValidationFailed (field `within`) for a period outside 0…366 days. Read-only.
    """
    if not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise ValidationFailed("within", f"Період: від 0 до {MAX_WITHIN_DAYS} днів.")
    now = now or datetime.now(UTC)
    scope = _scope_unit(session, viewer, org_unit_id)
    unit, oblast = aliased(OrgUnit, name="unit"), aliased(OrgUnit, name="oblast")
    oblast_of = func.coalesce(unit.oblast_id, case((unit.level == OrgLevel.OBLAST, unit.id)))
    rows = session.execute(
        select(Person, unit, oblast)
        .join(unit, unit.id == Person.org_unit_id)
        .outerjoin(oblast, oblast.id == oblast_of)
        .where(
            Person.state == PersonState.ACTIVE,
            Person.kep_not_after.is_not(None),
            Person.kep_not_after <= now + timedelta(days=within_days),
            Person.org_unit_id == func.any(subtree_ids(scope)),
        )
        .order_by(Person.kep_not_after, Person.id)
    ).all()
    persons: list[ExpiringPerson] = []
    per_unit: dict[int | None, ExpiringCount] = {}
    per_oblast: dict[int | None, ExpiringCount] = {}
    for person, person_unit, person_oblast in rows:
        assert person.kep_not_after is not None
        expired = person.kep_not_after <= now
        persons.append(
            ExpiringPerson(
                person_id=person.id,
                full_name=person.full_name,
                role=person.role,
                role_title=role_title(person.role),
                email=person.email,
                org_unit_id=person_unit.id,
                org_unit_name=person_unit.name,
                oblast_id=person_oblast.id if person_oblast else None,
                oblast_name=person_oblast.name if person_oblast else None,
                kep_issuer=person.kep_issuer,
                kep_serial=person.kep_serial,
                kep_not_after=person.kep_not_after,
                days_left=days_left(person.kep_not_after, now),
                expired=expired,
            )
        )
        oblast_key = person_oblast.id if person_oblast else None
        oblast_name = person_oblast.name if person_oblast else NO_OBLAST_UK
        for counts, key, name in (
            (per_unit, person_unit.id, person_unit.name),
            (per_oblast, oblast_key, oblast_name),
        ):
            row = counts.setdefault(key, ExpiringCount(id=key, name=name, expiring=0, expired=0))
            if expired:
                row.expired += 1
            else:
                row.expiring += 1
    return ExpiringKeps(
        scope_unit_id=scope.id,
        scope_unit_name=scope.name,
        within_days=within_days,
        as_of=now,
        total=len(persons),
        expired=sum(1 for p in persons if p.expired),
        persons=persons,
        per_unit=sorted(per_unit.values(), key=lambda c: (-(c.expiring + c.expired), c.name)),
        per_oblast=sorted(per_oblast.values(), key=lambda c: (-(c.expiring + c.expired), c.name)),
    )


# --- reminders ------------------------------------------------------------------------------------------


def managing_body(session: Session, unit: OrgUnit) -> OrgUnit | None:
    """The ОУО told about a unit's staff: the unit's managing body, else its nearest ОУО (or national)
    ancestor — for an ОУО, the ОУО above it. None for the national root."""
    if unit.managing_body_id is not None and unit.managing_body_id != unit.id:
        return session.get(OrgUnit, unit.managing_body_id)
    for ancestor_id in ancestor_ids(session, unit.id):
        ancestor = session.get(OrgUnit, ancestor_id)
        if ancestor is not None and ancestor.level in ADMIN_ROLE_OF_LEVEL:
            return ancestor
    return None


def _body_admins(session: Session, body: OrgUnit, *, besides: int) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.org_unit_id == body.id,
                Person.role == ADMIN_ROLE_OF_LEVEL[body.level],
                Person.state == PersonState.ACTIVE,
                Person.id != besides,
            )
            .order_by(Person.id)
        )
    )


def _check_link() -> str:
    return f"{get_settings().public_url.rstrip('/')}/kep-check"


def _remind(session: Session, person: Person, threshold: int, now: datetime) -> int:
    """Enqueue the person's reminder and one to each admin of their managing ОУО; how many messages."""
    not_after = person.kep_not_after
    assert not_after is not None
    unit = session.get_one(OrgUnit, person.org_unit_id)
    body = managing_body(session, unit)
    admins = (
        _body_admins(session, body, besides=person.id) if body and body.level in ADMIN_ROLE_OF_LEVEL else []
    )
    stamp = int(not_after.timestamp())
    for recipient in [person, *admins]:
        enqueue(
            session=session,
            template=TEMPLATE,
            to_address=recipient.email,
            variables=KepExpiring(
                recipient_name=recipient.full_name,
                about_self=recipient.id == person.id,
                person_name=person.full_name,
                role_title=role_title(person.role),
                org_name=unit.name,
                not_after=format_kyiv(not_after),
                days_left=days_left(not_after, now),
                threshold_days=threshold,
                issuer=person.kep_issuer,
                link=_check_link(),
            ),
            idempotency_key=f"kep-expiry-{threshold}-{person.id}-{stamp}-{recipient.id}",
        )
    return 1 + len(admins)


def send_expiry_reminders(*, session: Session, now: datetime | None = None) -> list[int]:
    """Remind active persons whose КЕП ends within 30 (or 7) days, and their ОУО; the persons' ids.

    Once per certificate and threshold: `kep_reminded_30_for` / `kep_reminded_7_for` keep the
    `kep_not_after` each reminder was sent for, so a new certificate (a new end date) starts afresh. A
    person first found inside 7 days gets the 7-day reminder only. An expired certificate gets none.
    """
    now = now or datetime.now(UTC)
    week, month = now + timedelta(days=REMINDER_DAYS[1]), now + timedelta(days=REMINDER_DAYS[0])
    due = session.scalars(
        select(Person)
        .where(
            Person.state == PersonState.ACTIVE,
            Person.kep_not_after.is_not(None),
            Person.kep_not_after > now,
            Person.kep_not_after <= month,
            or_(
                Person.kep_reminded_30_for.is_distinct_from(Person.kep_not_after),
                and_(
                    Person.kep_not_after <= week,
                    Person.kep_reminded_7_for.is_distinct_from(Person.kep_not_after),
                ),
            ),
        )
        .order_by(Person.id)
        .with_for_update(of=Person, skip_locked=True)
    ).all()
    reminded: list[int] = []
    for person in due:
        not_after = person.kep_not_after
        assert not_after is not None
        threshold = REMINDER_DAYS[1] if not_after <= week else REMINDER_DAYS[0]
        _remind(session, person, threshold, now)
        person.kep_reminded_30_for = not_after  # the 7-day reminder stands for the 30-day one too
        if threshold == REMINDER_DAYS[1]:
            person.kep_reminded_7_for = not_after
        reminded.append(person.id)
    session.flush()
    return reminded
