"""ОІС connection (DESIGN §3 item 6): an operator company registers with its КЕП, applies with a signed
accession agreement, is reviewed item by item (failed → returned, fixed, resubmitted), gets the
Institute's signed conformity conclusion, has its agreement approved by a second institute admin and is
CONNECTED with capability `receive`. Also the extended review round (for `receive_transmit`) and what
«Моя ОІС» and the staff's «ОІС» page show.

Services take keyword-only arguments and the session and never commit; the `*_command` functions at the
end own the unit of work and wake the waiting run after it commits.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.ua import edrpou as edrpou_rules

from aikom.core.actor import Actor
from aikom.core.calendar import KYIV
from aikom.core.decisions import canonical_json
from aikom.core.errors import DomainError, NotFound, RoleNotAllowed, ValidationFailed
from aikom.core.kep.identity import Identity
from aikom.core.kep.reasons import Purpose
from aikom.core.kep.trust import TrustList
from aikom.core.kep.verify import verify_detached
from aikom.core.ois_catalogue import CheckItem, get_catalogue
from aikom.mail.templates import OisConnectionNotice
from aikom.models import (
    Account,
    AccountState,
    Agreement,
    AgreementState,
    ApprovalTask,
    Decision,
    Ois,
    OisCapability,
    OisConclusion,
    OisPhase,
    OisReview,
    OisState,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ReviewOutcome,
    ReviewRound,
    SignedDecision,
    SigninAttempt,
    SigninChallenge,
    TaskState,
)
from aikom.processes.ois_connection import (
    AGREEMENT_STEP,
    RESUBMIT_STEP,
    REVIEW_STEP,
    SPEC,
    TYPE,
    OisConnectionFacts,
    OisConnectionParams,
    SelfAssessmentItem,
)
from aikom.services import approvals, audit
from aikom.services.approvals import SignedPayload
from aikom.services.decisions import store_signed_decision, verify_signer
from aikom.services.outbox import enqueue
from aikom.services.persons import PersonData, create_person, find_persons_by_rnokpp
from aikom.services.processes import create_process
from aikom.services.signin import challenge_content, too_many_failures
from aikom.settings import Settings, get_settings

MAX_AGREEMENT_BYTES = 5 * 1024 * 1024  # the accession agreement file (a PDF, usually well below this)
DOCUMENT_MAX_AGE = timedelta(hours=24)
DOCUMENT_CLOCK_SKEW = timedelta(minutes=5)
CONCLUSION_PREFIX = "ВЗ"  # «висновок про відповідність»: ВЗ-2026-0001
AGREEMENT_PREFIX = "ДП"  # «договір про приєднання»: ДП-2026-0001
REVIEW_KIND = "ois_conformity_review"
# Institute staff who see applications, reviews and conclusions (the admins also review and approve).
STAFF_ROLES = frozenset({PersonRole.INSTITUTE_ADMIN, PersonRole.MANAGER})
LIVE_STATES = (
    OisState.APPLIED,
    OisState.IN_REVIEW,
    OisState.RETURNED,
    OisState.CONNECTED,
    OisState.SUSPENDED,
)
STATE_LABELS_UK = {
    OisState.APPLIED: "заявку подано",
    OisState.IN_REVIEW: "на розгляді",
    OisState.RETURNED: "повернуто на доопрацювання",
    OisState.CONNECTED: "підключено",
    OisState.REJECTED: "відмовлено",
    OisState.SUSPENDED: "призупинено",
    OisState.DISCONNECTED: "відключено",
}
CAPABILITY_LABELS_UK = {
    OisCapability.NONE: "немає",
    OisCapability.RECEIVE: "отримання даних",
    OisCapability.RECEIVE_TRANSMIT: "отримання і передавання даних",
}
ROUND_LABELS_UK = {ReviewRound.CONNECTION: "підключення", ReviewRound.EXTENDED: "розширена"}


# --- one exception per rule -------------------------------------------------------------------


class CompanyEdrpouInvalid(ValidationFailed):
    """An operator company is a legal entity: its certificate carries a valid ЄДРПОУ."""

    def __init__(self, value: str | None) -> None:
        super().__init__(
            "edrpou",
            f"ЄДРПОУ компанії: у сертифікаті КЕП «{value or '—'}» — це не правильний код юридичної особи "
            "(8 цифр із контрольною цифрою). Для реєстрації потрібен КЕП працівника вашої компанії.",
        )


class CertificateLacksIdentity(ValidationFailed):
    """Registration needs the signer's РНОКПП and the company's ЄДРПОУ from the certificate."""

    def __init__(self) -> None:
        super().__init__(
            "signature",
            "КЕП: у сертифікаті немає РНОКПП підписувача або ЄДРПОУ компанії — для реєстрації оператора ОІС "
            "потрібен КЕП працівника юридичної особи.",
        )


class RegistrationSignatureRefused(ValidationFailed):
    """The signed challenge did not verify."""

    def __init__(self, message_uk: str) -> None:
        super().__init__("signature", f"Підпис виклику не прийнято: {message_uk}")


class ChallengeNotUsable(ValidationFailed):
    """A registration challenge is single-use and short-lived."""

    def __init__(self, why_uk: str) -> None:
        super().__init__("nonce", f"Виклик для реєстрації: {why_uk} Отримайте новий виклик і підпишіть його.")


class RegistrationRateLimited(DomainError):
    """Too many refused sign-ins or registrations from one client (the sign-in's limit)."""

    code = "rate_limited"

    def __init__(self) -> None:
        super().__init__("Забагато невдалих спроб входу чи реєстрації. Спробуйте пізніше.")


class EdrpouBelongsToEducationUnit(DomainError):
    """A school or an ОУО is not an ОІС operator."""

    code = "edrpou_is_education_unit"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"ЄДРПОУ {unit.edrpou} належить «{unit.name}» — закладу чи органу управління освітою в АІКОМ, "
            "а не оператору ОІС; зареєструвати його як оператора ОІС не можна.",
            org_unit_id=unit.id,
        )


class OperatorAlreadyRegistered(DomainError):
    """The signer already has an operator card of this company: they sign in instead."""

    code = "operator_already_registered"

    def __init__(self, person: Person) -> None:
        super().__init__(
            f"Вас уже зареєстровано як оператора ОІС (картка № {person.id}): увійдіть з КЕП на сторінці "
            "«Вхід».",
            person_id=person.id,
        )


class NotOisOperator(RoleNotAllowed):
    """Only an operator of a registered company applies, resubmits and sees «Моя ОІС»."""

    def __init__(self) -> None:
        super().__init__(f"{SPEC.title_uk}: {SPEC.who_may_start_uk}")


class ApplicationAlreadyLive(DomainError):
    """One live application (or connection) per system of a company."""

    code = "ois_application_live"

    def __init__(self, ois: Ois) -> None:
        super().__init__(
            f"Назва ОІС: для «{ois.system_name}» вашої компанії вже є заявка чи підключення (№ {ois.id}, "
            f"{STATE_LABELS_UK[ois.state]}).",
            ois_id=ois.id,
        )


class AgreementUnsigned(ValidationFailed):
    """The accession agreement comes with its КЕП signature."""

    def __init__(self) -> None:
        super().__init__(
            "agreement_signature",
            "Договір про приєднання: додайте файл КЕП-підпису договору (.p7s), накладеного КЕП вашої "
            "компанії.",
        )


class AgreementTooLarge(ValidationFailed):
    """The agreement file has a size limit."""

    def __init__(self, size: int) -> None:
        super().__init__(
            "agreement",
            f"Договір про приєднання: файл {size / 1024 / 1024:.1f} МБ більший за допустимі "
            f"{MAX_AGREEMENT_BYTES // 1024 // 1024} МБ.",
        )


class AgreementEmpty(ValidationFailed):
    """An empty or undecodable file is no agreement."""

    def __init__(self) -> None:
        super().__init__("agreement", "Договір про приєднання: файл порожній або пошкоджений.")


class AgreementSignatureInvalid(ValidationFailed):
    """The agreement's signature did not verify."""

    def __init__(self, message_uk: str) -> None:
        super().__init__("agreement_signature", f"Підпис договору про приєднання не прийнято: {message_uk}")


class AgreementSignedByOtherCompany(ValidationFailed):
    """The agreement is signed by the applicant's own company."""

    def __init__(self, signed: str | None, company: str) -> None:
        super().__init__(
            "agreement_signature",
            f"Договір про приєднання підписано КЕП іншої юридичної особи (ЄДРПОУ {signed or '—'}); його має "
            f"підписати КЕП вашої компанії (ЄДРПОУ {company}).",
        )


class SelfAssessmentIncomplete(ValidationFailed):
    """The self-assessment answers every requirement of the connection checklist, and only those."""

    def __init__(self, missing: Sequence[str], unknown: Sequence[str]) -> None:
        parts = []
        if missing:
            parts.append(f"немає відповіді на вимоги {', '.join(missing)}")
        if unknown:
            parts.append(f"невідомі вимоги {', '.join(unknown)}")
        super().__init__("self_assessment", f"Самооцінка: {'; '.join(parts)}.")


class ReviewItemsInvalid(ValidationFailed):
    """A review covers every checklist item of its round; a failed item says what to fix."""

    def __init__(self, detail: str) -> None:
        super().__init__("items", f"Перевірка за переліком вимог: {detail}")


class ReviewerFromApplicantCompany(DomainError):
    """Nobody of the applicant's own company reviews its application."""

    code = "ois_reviewer_own_company"

    def __init__(self) -> None:
        super().__init__(
            "Перевірку відповідності не може проводити працівник компанії-заявника: її проводить "
            "технічний адміністратор ІОА."
        )


class ReviewerMayNotApproveAgreement(DomainError):
    """Four-eyes: the agreement is approved by another institute admin than the one who reviewed."""

    code = "ois_four_eyes"

    def __init__(self) -> None:
        super().__init__(
            "Договір про приєднання погоджує інший технічний адміністратор ІОА, ніж той, хто перевіряв "
            "відповідність (принцип «чотирьох очей»)."
        )


class NoOpenStep(DomainError):
    """The application does not wait for this step now."""

    code = "ois_step_not_open"

    def __init__(self, ois_id: int, what_uk: str) -> None:
        super().__init__(f"ОІС № {ois_id}: зараз не очікує {what_uk}.", ois_id=ois_id)


class ReviewDocumentMismatch(DomainError):
    """The signed review document is not the review being submitted (or is stale)."""

    code = "ois_review_document_mismatch"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Документ перевірки: {detail} Сформуйте документ заново і підпишіть його.")


class NotConnected(DomainError):
    """The extended review is for a connected ОІС."""

    code = "ois_not_connected"

    def __init__(self, ois: Ois) -> None:
        super().__init__(
            f"Розширена перевірка — лише для підключеної ОІС; «{ois.system_name}» зараз "
            f"{STATE_LABELS_UK[ois.state]}.",
            ois_id=ois.id,
        )


class NotAllowedToSee(RoleNotAllowed):
    """Operators see their own company's ОІС; institute staff see all; nobody else anything."""

    def __init__(self) -> None:
        super().__init__(
            "Відомості про заявки ОІС бачать лише оператор цієї ОІС і працівники ІОА, що їх розглядають."
        )


# --- registration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """A registered operator: the company unit, its account and the signer's card."""

    person_id: int
    org_unit_id: int
    account_id: int
    company_created: bool


def national_unit(session: Session) -> OrgUnit:
    """The national unit an operator company hangs under (the institute's scope covers it)."""
    unit = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL).order_by(OrgUnit.id).limit(1)
    ).first()
    if unit is None:
        raise NotFound("Національний рівень ще не створено: спершу імпортуйте реєстри.")
    return unit


def enrol_operator(
    *,
    session: Session,
    identity: Identity,
    company_name: str | None,
    email: str,
    settings: Settings | None = None,
) -> Registration:
    """Find or create the company (level ois_company, its ЄДРПОУ, under the national unit) and its account,
    and create the signer's operator card (ACTIVE: the КЕП signature was the verification)."""
    if not identity.rnokpp or not identity.edrpou:
        raise CertificateLacksIdentity()
    edrpou = identity.edrpou.strip()
    if len(edrpou) != 8 or not edrpou.isdigit() or not edrpou_rules.is_valid(edrpou):
        raise CompanyEdrpouInvalid(edrpou)
    unit = session.scalars(
        select(OrgUnit).where(OrgUnit.edrpou == edrpou, OrgUnit.status == OrgStatus.ACTIVE)
    ).first()
    created = False
    if unit is not None and unit.level != OrgLevel.OIS_COMPANY:
        raise EdrpouBelongsToEducationUnit(unit)
    name = " ".join((company_name or identity.organization or "").split())
    if unit is None:
        if len(name) < 2:
            raise ValidationFailed("company_name", "Назва компанії: обов'язкове поле (від 2 символів).")
        unit = OrgUnit(
            level=OrgLevel.OIS_COMPANY,
            name=name[:500],
            status=OrgStatus.ACTIVE,
            parent_id=national_unit(session).id,
            edrpou=edrpou,
        )
        session.add(unit)
        session.flush()
        created = True
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    if account is None:
        account = Account(org_unit_id=unit.id, state=AccountState.ACTIVE)
        session.add(account)
        session.flush()
    existing = [
        p
        for p in find_persons_by_rnokpp(session=session, rnokpp=identity.rnokpp, settings=settings)
        if p.org_unit_id == unit.id and p.state != PersonState.INACTIVE
    ]
    if existing:
        raise OperatorAlreadyRegistered(existing[0])
    full_name = identity.common_name or " ".join(x for x in (identity.surname, identity.given_name) if x)
    person = create_person(
        session=session,
        account=account,
        role=PersonRole.OIS_OPERATOR,
        data=PersonData(full_name=full_name, email=email, rnokpp=identity.rnokpp, title=identity.title),
        actor_label=full_name,
        state=PersonState.ACTIVE,
        settings=settings,
    )
    person.activated_at = datetime.now(UTC)
    person.kep_issuer, person.kep_serial = identity.issuer[:500], identity.certificate_serial[:100]
    person.kep_not_after = identity.valid_until
    audit.record(
        session=session,
        action="ois.operator_registered",
        object_type="org_unit",
        object_id=unit.id,
        details={"edrpou": edrpou, "person_id": person.id, "company_created": created},
        actor_person_id=person.id,
        actor_label=person.full_name,
    )
    session.flush()
    return Registration(
        person_id=person.id, org_unit_id=unit.id, account_id=account.id, company_created=created
    )


def register_operator(
    *,
    session: Session,
    settings: Settings,
    trust: TrustList,
    nonce: str,
    signature: bytes,
    email: str,
    company_name: str | None = None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> Registration:
    """Register an operator from a challenge signed with the company's КЕП (the challenge is burnt).

    With a `client_key`, a client over the sign-in's failure limit is refused first; a refused attempt is
    recorded (and its challenge burnt) by `registration_refused` in the caller's next unit of work."""
    now = now or datetime.now(UTC)
    if client_key is not None and too_many_failures(
        session=session, settings=settings, client_key=client_key, now=now
    ):
        raise RegistrationRateLimited()
    challenge = session.scalars(
        select(SigninChallenge).where(SigninChallenge.nonce == nonce).with_for_update()
    ).one_or_none()
    if challenge is None:
        raise ChallengeNotUsable("його не знайдено.")
    if challenge.used_at is not None:
        raise ChallengeNotUsable("його вже використано.")
    challenge.used_at = now
    if challenge.expires_at <= now:
        raise ChallengeNotUsable("термін його дії минув.")
    verification = verify_detached(
        signature,
        challenge_content(nonce),
        trust=trust,
        purpose=Purpose.SIGN_IN,
        max_bytes=settings.max_signature_bytes,
    )
    if not verification.ok or verification.identity is None:
        raise RegistrationSignatureRefused(verification.message_uk)
    return enrol_operator(
        session=session,
        identity=verification.identity,
        company_name=company_name,
        email=email,
        settings=settings,
    )


def registration_refused(
    *, session: Session, nonce: str, client_key: str, reason: str, now: datetime | None = None
) -> None:
    """A refused registration: its challenge burnt (never tried twice) and a failed attempt recorded (it
    counts towards the client's sign-in failure limit)."""
    now = now or datetime.now(UTC)
    challenge = session.scalars(
        select(SigninChallenge).where(SigninChallenge.nonce == nonce).with_for_update()
    ).one_or_none()
    if challenge is not None and challenge.used_at is None:
        challenge.used_at = now
    session.add(SigninAttempt(client_key=client_key, person_id=None, ok=False, reason=reason[:64], at=now))
    session.flush()


# --- the application --------------------------------------------------------------------------


def operator_of(session: Session, actor: Actor | int) -> tuple[Person, OrgUnit]:
    """The acting operator and their company; NotOisOperator for anyone else."""
    person_id = actor if isinstance(actor, int) else actor.requester_id
    person = session.get(Person, person_id) if person_id is not None else None
    unit = session.get(OrgUnit, person.org_unit_id) if person is not None else None
    if (
        person is None
        or unit is None
        or person.role != PersonRole.OIS_OPERATOR
        or person.state != PersonState.ACTIVE
        or unit.level != OrgLevel.OIS_COMPANY
        or unit.edrpou is None
    ):
        raise NotOisOperator()
    return person, unit


def _decode(value: str, error: ValidationFailed) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error from exc


def check_agreement(
    *, content: bytes, signature: bytes, company_edrpou: str, trust: TrustList, settings: Settings
) -> tuple[str | None, str | None]:
    """The agreement is non-empty, within the size limit, and signed (qualified, nonRepudiation) with a
    КЕП of the company itself; the signer's name and certificate serial."""
    if not content:
        raise AgreementEmpty()
    if len(content) > MAX_AGREEMENT_BYTES:
        raise AgreementTooLarge(len(content))
    if not signature:
        raise AgreementUnsigned()
    verification = verify_detached(
        signature, content, trust=trust, purpose=Purpose.DECISION, max_bytes=settings.max_signature_bytes
    )
    if not verification.ok:
        raise AgreementSignatureInvalid(verification.message_uk)
    identity = verification.identity
    if identity is None or identity.edrpou != company_edrpou:
        raise AgreementSignedByOtherCompany(identity.edrpou if identity else None, company_edrpou)
    return identity.common_name, identity.certificate_serial


def check_self_assessment(items: Sequence[SelfAssessmentItem]) -> dict[str, Any]:
    """The self-assessment as stored: every connection requirement answered once, nothing else."""
    codes = [c.code for c in get_catalogue().checklist(ReviewRound.CONNECTION.value)]
    given = [i.code for i in items]
    missing = [c for c in codes if c not in given]
    unknown = [c for c in given if c not in codes] + sorted({c for c in given if given.count(c) > 1})
    if missing or unknown:
        raise SelfAssessmentIncomplete(missing, unknown)
    return {i.code: {"met": i.met, "note": (i.note or "").strip() or None} for i in items}


def _store_agreement(
    session: Session,
    ois: Ois,
    *,
    file_name: str,
    content: bytes,
    signature: bytes,
    signer: tuple[str | None, str | None],
    company_edrpou: str,
) -> Agreement:
    for old in session.scalars(
        select(Agreement).where(Agreement.ois_id == ois.id, Agreement.state == AgreementState.SUBMITTED)
    ):
        old.state = AgreementState.SUPERSEDED
    agreement = Agreement(
        ois_id=ois.id,
        file_name=file_name[:300],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        signature=signature,
        signer_edrpou=company_edrpou,
        signer_name=(signer[0] or "")[:300] or None,
        signer_serial=(signer[1] or "")[:100] or None,
        state=AgreementState.SUBMITTED,
    )
    session.add(agreement)
    session.flush()
    return agreement


def start_application(
    *,
    session: Session,
    actor: Actor,
    params: OisConnectionParams,
    trust: TrustList | None = None,
    settings: Settings | None = None,
) -> Process:
    """Validate the application (the agreement's signature by the company's КЕП, the self-assessment),
    record the ОІС (IN_REVIEW, submission 1) with its agreement, and the process (STARTING)."""
    from aikom.services.trust import current_trust_list

    settings = settings or get_settings()
    person, company = operator_of(session, actor)
    assert company.edrpou is not None
    live = session.scalars(
        select(Ois).where(
            Ois.operator_org_unit_id == company.id,
            func.lower(Ois.system_name) == params.system_name.lower(),
            Ois.state.in_(LIVE_STATES),
        )
    ).first()
    if live is not None:
        raise ApplicationAlreadyLive(live)
    content = _decode(params.agreement_base64, AgreementEmpty())
    signature = _decode(params.agreement_signature_base64, AgreementUnsigned())
    signer = check_agreement(
        content=content,
        signature=signature,
        company_edrpou=company.edrpou,
        trust=trust if trust is not None else current_trust_list(settings),
        settings=settings,
    )
    assessment = check_self_assessment(params.self_assessment)
    now = datetime.now(UTC)
    ois = Ois(
        system_name=params.system_name,
        company_name=company.name,
        company_edrpou=company.edrpou,
        site=params.site,
        contact_name=params.contact_name,
        contact_email=params.contact_email,
        contact_phone=(params.contact_phone or "").strip() or None,
        state=OisState.IN_REVIEW,
        capability=OisCapability.NONE,
        self_assessment=assessment,
        operator_person_id=person.id,
        operator_org_unit_id=company.id,
        submission_count=1,
        state_changed_at=now,
    )
    session.add(ois)
    session.flush()
    _store_agreement(
        session,
        ois,
        file_name=params.agreement_file_name,
        content=content,
        signature=signature,
        signer=signer,
        company_edrpou=company.edrpou,
    )
    facts = OisConnectionFacts(
        ois_id=ois.id,
        system_name=ois.system_name,
        company_name=company.name,
        company_edrpou=company.edrpou,
        company_unit_id=company.id,
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=company.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {ois.system_name} ({company.name})",
    )
    audit.record(
        session=session,
        action="ois.applied",
        object_type="ois",
        object_id=ois.id,
        details={"process_id": process.id, "edrpou": company.edrpou, "system_name": ois.system_name},
        actor=actor,
    )
    session.flush()
    return process


def get_ois(session: Session, ois_id: int, *, lock: bool = False) -> Ois:
    """The ОІС, or NotFound."""
    ois = session.get(Ois, ois_id, with_for_update=lock or None, populate_existing=lock)
    if ois is None:
        raise NotFound(f"ОІС № {ois_id} не знайдено.", ois_id=ois_id)
    return ois


def process_of(session: Session, ois_id: int) -> Process:
    """The (latest) connection process of an ОІС."""
    for process in session.scalars(select(Process).where(Process.type == TYPE).order_by(Process.id.desc())):
        if process.parameters.get("ois_id") == ois_id:
            return process
    raise NotFound(f"Процес підключення ОІС № {ois_id} не знайдено.", ois_id=ois_id)


def facts_of(session: Session, process_id: int) -> tuple[Process, OisConnectionFacts]:
    """The process and its typed facts."""
    process = session.get(Process, process_id)
    if process is None or process.type != TYPE:
        raise NotFound(f"Процес № {process_id} не знайдено.")
    return process, OisConnectionFacts.model_validate(process.parameters)


def open_task(session: Session, ois_id: int, prefix: str) -> ApprovalTask | None:
    """The open step of the ОІС's process whose key starts with `prefix` (review, resubmit, agreement)."""
    try:
        process = process_of(session, ois_id)
    except NotFound:
        return None
    return session.scalars(
        select(ApprovalTask)
        .where(
            ApprovalTask.process_id == process.id,
            ApprovalTask.state == TaskState.OPEN,
            ApprovalTask.step_key.startswith(prefix),
        )
        .order_by(ApprovalTask.id.desc())
    ).first()


def current_agreement(session: Session, ois_id: int) -> Agreement | None:
    """The agreement in force or under review (the latest not superseded)."""
    return session.scalars(
        select(Agreement)
        .where(Agreement.ois_id == ois_id, Agreement.state != AgreementState.SUPERSEDED)
        .order_by(Agreement.id.desc())
    ).first()


# --- the review document (signed by the reviewer; when it passes: the conformity conclusion) --------


class ReviewItemInput(BaseModel):
    """The reviewer's finding on one requirement."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    code: str
    passed: bool
    note: str | None = Field(default=None, max_length=2000)


@dataclass(frozen=True)
class ReviewDocument:
    """What a reviewer signs: every finding, the outcome and — when the connection review passes — the
    Institute's conformity conclusion's number and date. Canonical JSON, like a decision document."""

    kind: str
    title: str
    ois: int
    system_name: str
    company_name: str
    company_edrpou: str
    round: str
    submission: int
    task: int | None
    process: int | None
    reviewer: int
    reviewer_name: str
    outcome: str
    items: list[dict[str, Any]]
    comment: str
    conclusion_number: str | None
    issued_on: str | None
    time: str
    issuer: str = "ДНУ «Інститут освітньої аналітики»"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> ReviewDocument:
        """Parse; ReviewDocumentMismatch unless it is a review document in canonical form."""
        try:
            raw = json.loads(data.decode("utf-8"))
            document = cls(**raw)
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as error:
            raise ReviewDocumentMismatch("файл не є документом перевірки ОІС.") from error
        if document.kind != REVIEW_KIND or document.to_bytes() != data:
            raise ReviewDocumentMismatch("файл не є документом перевірки ОІС у канонічному вигляді.")
        return document

    @property
    def signed_at(self) -> datetime:
        """When the document was formed."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00"))


def _checked_items(round_: ReviewRound, items: Sequence[ReviewItemInput]) -> list[dict[str, Any]]:
    checklist: tuple[CheckItem, ...] = get_catalogue().checklist(round_.value)
    by_code = {i.code: i for i in items}
    codes = [c.code for c in checklist]
    missing = [c for c in codes if c not in by_code]
    unknown = [i.code for i in items if i.code not in codes]
    if missing or unknown or len(by_code) != len(items):
        parts = [f"немає висновку щодо {', '.join(missing)}" if missing else ""]
        parts.append(f"невідомі вимоги {', '.join(unknown)}" if unknown else "")
        parts.append("вимогу вказано двічі" if len(by_code) != len(items) else "")
        raise ReviewItemsInvalid("; ".join(p for p in parts if p) + ".")
    rows = []
    for check in checklist:
        item = by_code[check.code]
        note = (item.note or "").strip()
        if not item.passed and not note:
            raise ReviewItemsInvalid(f"вимога {check.code} не виконана — додайте примітку, що виправити.")
        rows.append({"code": check.code, "text": check.text, "passed": item.passed, "note": note or None})
    return rows


def year_number(session: Session, column: Any, prefix: str, year: int) -> str:
    stem = f"{prefix}-{year}-"
    taken = session.scalars(select(column).where(column.like(f"{stem}%"))).all()
    highest = max((int(n.rsplit("-", 1)[1]) for n in taken if n and n.rsplit("-", 1)[1].isdigit()), default=0)
    return f"{stem}{highest + 1:04d}"


def _moment(at: datetime | None) -> datetime:
    return (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def _build_review_document(
    session: Session,
    *,
    ois: Ois,
    round_: ReviewRound,
    reviewer: Person,
    items: Sequence[ReviewItemInput],
    comment: str | None,
    at: datetime,
) -> tuple[ReviewDocument, ApprovalTask | None]:
    rows = _checked_items(round_, items)
    passed = all(r["passed"] for r in rows)
    task: ApprovalTask | None = None
    if round_ == ReviewRound.CONNECTION:
        task = open_task(session, ois.id, REVIEW_STEP)
        if task is None:
            raise NoOpenStep(ois.id, "перевірки відповідності")
        submission = ois.submission_count
    else:
        if ois.state != OisState.CONNECTED:
            raise NotConnected(ois)
        submission = 1 + (
            session.scalar(
                select(func.count())
                .select_from(OisReview)
                .where(OisReview.ois_id == ois.id, OisReview.round == ReviewRound.EXTENDED)
            )
            or 0
        )
    moment = _moment(at)
    issued = moment.astimezone(KYIV).date()
    conclusion = passed and round_ == ReviewRound.CONNECTION
    document = ReviewDocument(
        kind=REVIEW_KIND,
        title=(
            "Висновок про відповідність Технічним вимогам"
            if conclusion
            else f"Результати перевірки відповідності Технічним вимогам ({ROUND_LABELS_UK[round_]})"
        ),
        ois=ois.id,
        system_name=ois.system_name,
        company_name=ois.company_name,
        company_edrpou=ois.company_edrpou,
        round=round_.value,
        submission=submission,
        task=task.id if task else None,
        process=task.process_id if task else None,
        reviewer=reviewer.id,
        reviewer_name=reviewer.full_name,
        outcome=(ReviewOutcome.PASSED if passed else ReviewOutcome.FAILED).value,
        items=rows,
        comment=(comment or "").strip(),
        conclusion_number=(
            year_number(session, OisConclusion.number, CONCLUSION_PREFIX, issued.year) if conclusion else None
        ),
        issued_on=issued.isoformat() if conclusion else None,
        time=moment.isoformat().replace("+00:00", "Z"),
    )
    return document, task


def _check_reviewer(session: Session, ois: Ois, reviewer: Person) -> None:
    if reviewer.org_unit_id == ois.operator_org_unit_id:
        raise ReviewerFromApplicantCompany()
    unit = session.get(OrgUnit, reviewer.org_unit_id)
    if unit is not None and unit.edrpou is not None and unit.edrpou == ois.company_edrpou:
        raise ReviewerFromApplicantCompany()
    if reviewer.role != PersonRole.INSTITUTE_ADMIN:
        raise RoleNotAllowed("Перевірку відповідності ОІС проводить технічний адміністратор ІОА.")


def review_document(
    *,
    session: Session,
    ois_id: int,
    actor: Person,
    items: Sequence[ReviewItemInput],
    comment: str | None = None,
    round_: ReviewRound = ReviewRound.CONNECTION,
    at: datetime | None = None,
) -> bytes:
    """The document the reviewer signs for these findings (with the conclusion's number when it passes)."""
    ois = get_ois(session, ois_id)
    _check_reviewer(session, ois, actor)
    document, _ = _build_review_document(
        session,
        ois=ois,
        round_=round_,
        reviewer=actor,
        items=items,
        comment=comment,
        at=at or datetime.now(UTC),
    )
    return document.to_bytes()


def submit_review(
    *,
    session: Session,
    actor: Person,
    document: bytes,
    signature: bytes,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> OisReview:
    """Record a signed review (the findings are the signed document's): the review row, for a passed
    connection review the conformity conclusion, and the decision of the review step (connection round).

    A failed connection review returns the application to the operator (RETURNED)."""
    from aikom.services.trust import current_trust_list

    now = now or datetime.now(UTC)
    settings = get_settings()
    trust = trust if trust is not None else current_trust_list(settings)
    signed = ReviewDocument.from_bytes(document)
    ois = get_ois(session, signed.ois, lock=True)
    _check_reviewer(session, ois, actor)
    if signed.reviewer != actor.id:
        raise ReviewDocumentMismatch("документ сформовано для іншого рецензента.")
    if not now - DOCUMENT_MAX_AGE <= signed.signed_at <= now + DOCUMENT_CLOCK_SKEW:
        raise ReviewDocumentMismatch("документ застарів або має час із майбутнього.")
    round_ = ReviewRound(signed.round)
    items = [
        ReviewItemInput(code=i["code"], passed=bool(i["passed"]), note=i.get("note")) for i in signed.items
    ]
    expected, task = _build_review_document(
        session,
        ois=ois,
        round_=round_,
        reviewer=actor,
        items=items,
        comment=signed.comment,
        at=signed.signed_at,
    )
    if expected.to_bytes() != document:
        raise ReviewDocumentMismatch(
            "він не відповідає заявці в її поточному стані (інше подання, номер висновку вже використано "
            "чи змінено перелік вимог)."
        )
    passed = signed.outcome == ReviewOutcome.PASSED.value

    def store(task_row: ApprovalTask | None) -> SignedDecision:
        verification = verify_signer(
            session=session,
            trust=trust,
            signer=actor,
            document=document,
            signature=signature,
            at=now,
            max_bytes=settings.max_signature_bytes,
        )
        return store_signed_decision(
            session=session,
            trust=trust,
            task_id=task_row.id if task_row else None,
            signer=actor,
            document=document,
            signature=signature,
            verification=verification,
        )

    if task is not None:
        stored_ids: list[int] = []

        def sign(task_row: ApprovalTask) -> SignedDecision:
            stored = store(task_row)
            stored_ids.append(stored.id)
            return stored

        approvals.decide_with(
            session=session,
            task_id=task.id,
            actor=actor,
            decision=Decision.APPROVE if passed else Decision.REJECT,
            comment=signed.comment or None,
            sign=sign,
            now=now,
            own_screen=True,
        )
    else:
        store(None)
    review = OisReview(
        ois_id=ois.id,
        round=round_,
        submission_no=signed.submission,
        reviewer_id=actor.id,
        items=signed.items,
        outcome=ReviewOutcome(signed.outcome),
        comment=signed.comment or None,
        process_id=signed.process,
    )
    session.add(review)
    session.flush()
    if passed and signed.conclusion_number is not None and signed.issued_on is not None:
        session.add(
            OisConclusion(
                ois_id=ois.id,
                review_id=review.id,
                number=signed.conclusion_number,
                issued_on=date.fromisoformat(signed.issued_on),
                findings=signed.items,
                document=document,
                signature=signature,
                sha256=hashlib.sha256(document).hexdigest(),
                signer_id=actor.id,
            )
        )
    if round_ == ReviewRound.CONNECTION and not passed:
        ois.state = OisState.RETURNED
        ois.state_changed_at = now
        ois.state_reason = "Перевірку не пройдено: " + ", ".join(
            i["code"] for i in signed.items if not i["passed"]
        )
    if round_ == ReviewRound.EXTENDED:
        lines = [
            f"{i['code']}: {i['text']} — {i.get('note') or 'не виконано'}"
            for i in signed.items
            if not i["passed"]
        ]
        _notify_operator(
            session,
            ois,
            key=f"extended-{signed.submission}",
            headline="розширену перевірку пройдено" if passed else "розширену перевірку не пройдено",
            lines=lines + ([f"Коментар: {signed.comment}"] if signed.comment else []),
        )
    audit.record(
        session=session,
        action="ois.reviewed",
        object_type="ois",
        object_id=ois.id,
        details={
            "round": round_.value,
            "submission": signed.submission,
            "outcome": signed.outcome,
            "conclusion": signed.conclusion_number,
        },
        actor_person_id=actor.id,
        actor_label=actor.full_name,
    )
    session.flush()
    return review


# --- resubmission -----------------------------------------------------------------------------


class ApplicationChanges(BaseModel):
    """What the operator changes when resubmitting (empty: unchanged)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    site: str | None = Field(default=None, max_length=500)
    contact_name: str | None = Field(default=None, max_length=300)
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=50)
    agreement_file_name: str | None = Field(default=None, max_length=300)
    agreement: bytes | None = Field(default=None, repr=False)
    agreement_signature: bytes | None = Field(default=None, repr=False)
    self_assessment: list[SelfAssessmentItem] | None = None
    comment: str | None = Field(default=None, max_length=2000)


def resubmit_document(*, session: Session, ois_id: int, actor: Person, comment: str | None) -> bytes:
    """The decision document an operator signs to resubmit (a `confirm` of the resubmission step)."""
    task = open_task(session, ois_id, RESUBMIT_STEP)
    if task is None:
        raise NoOpenStep(ois_id, "повторного подання заявки")
    return approvals.decision_document(task=task, actor=actor, decision=Decision.CONFIRM, comment=comment)


def resubmit_application(
    *,
    session: Session,
    ois_id: int,
    actor: Actor,
    changes: ApplicationChanges,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> Ois:
    """Apply the operator's fixes to a RETURNED application and resubmit it (submission_count + 1); the
    resubmission step is decided with the operator's КЕП-signed confirmation."""
    from aikom.services.trust import current_trust_list

    now = now or datetime.now(UTC)
    settings = get_settings()
    trust = trust if trust is not None else current_trust_list(settings)
    person, company = operator_of(session, actor)
    ois = get_ois(session, ois_id, lock=True)
    if ois.operator_org_unit_id != company.id:
        raise NotAllowedToSee()
    task = open_task(session, ois_id, RESUBMIT_STEP)
    if ois.state != OisState.RETURNED or task is None:
        raise NoOpenStep(ois_id, "повторного подання заявки")
    if changes.agreement is not None or changes.agreement_signature is not None:
        assert company.edrpou is not None
        content = changes.agreement or b""
        signer = check_agreement(
            content=content,
            signature=changes.agreement_signature or b"",
            company_edrpou=company.edrpou,
            trust=trust,
            settings=settings,
        )
        _store_agreement(
            session,
            ois,
            file_name=changes.agreement_file_name or "договір.pdf",
            content=content,
            signature=changes.agreement_signature or b"",
            signer=signer,
            company_edrpou=company.edrpou,
        )
    if changes.self_assessment is not None:
        ois.self_assessment = check_self_assessment(changes.self_assessment)
    for name in ("site", "contact_name", "contact_email", "contact_phone"):
        value = getattr(changes, name)
        if value:
            setattr(ois, name, value)
    approvals.decide(
        session=session,
        task_id=task.id,
        actor=person,
        decision=Decision.CONFIRM,
        comment=changes.comment,
        signed=signed,
        trust=trust,
        now=now,
        own_screen=True,
    )
    ois.submission_count += 1
    ois.state = OisState.IN_REVIEW
    ois.state_changed_at = now
    ois.state_reason = None
    audit.record(
        session=session,
        action="ois.resubmitted",
        object_type="ois",
        object_id=ois.id,
        details={"submission": ois.submission_count},
        actor=actor,
    )
    session.flush()
    return ois


# --- the agreement ----------------------------------------------------------------------------


def passed_review(session: Session, ois_id: int) -> OisReview | None:
    """The latest passed connection review of an ОІС."""
    return session.scalars(
        select(OisReview)
        .where(
            OisReview.ois_id == ois_id,
            OisReview.round == ReviewRound.CONNECTION,
            OisReview.outcome == ReviewOutcome.PASSED,
        )
        .order_by(OisReview.id.desc())
    ).first()


def agreement_document(
    *, session: Session, ois_id: int, actor: Person, decision: Decision, comment: str | None
) -> bytes:
    """The decision document a second institute admin signs to approve (or reject) the agreement."""
    task = open_task(session, ois_id, AGREEMENT_STEP)
    if task is None:
        raise NoOpenStep(ois_id, "погодження договору")
    _check_approver(session, ois_id, actor)
    return approvals.decision_document(task=task, actor=actor, decision=decision, comment=comment)


def _check_approver(session: Session, ois_id: int, actor: Person) -> None:
    review = passed_review(session, ois_id)
    if review is not None and review.reviewer_id == actor.id:
        raise ReviewerMayNotApproveAgreement()
    ois = get_ois(session, ois_id)
    if actor.org_unit_id == ois.operator_org_unit_id:
        raise ReviewerFromApplicantCompany()


def decide_agreement(
    *,
    session: Session,
    ois_id: int,
    actor: Person,
    decision: Decision,
    comment: str | None,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> ApprovalTask:
    """A DIFFERENT institute admin than the reviewer approves (or rejects) the agreement, signed."""
    task = open_task(session, ois_id, AGREEMENT_STEP)
    if task is None:
        raise NoOpenStep(ois_id, "погодження договору")
    _check_approver(session, ois_id, actor)
    return approvals.decide(
        session=session,
        task_id=task.id,
        actor=actor,
        decision=decision,
        comment=comment,
        signed=signed,
        trust=trust,
        now=now,
        own_screen=True,
    )


# --- the flow's steps -------------------------------------------------------------------------


def application_rows(*, session: Session, process_id: int) -> list[list[str]]:
    """The application as a reviewer reads it (what the step shows beside the review page)."""
    _, facts = facts_of(session, process_id)
    ois = get_ois(session, facts.ois_id)
    agreement = current_agreement(session, ois.id)
    rows = [
        ["ОІС", f"{ois.system_name} (№ {ois.id})"],
        ["Компанія", f"{ois.company_name}, ЄДРПОУ {ois.company_edrpou}"],
        ["Сайт", ois.site or "—"],
        ["Контакти", ", ".join(x for x in (ois.contact_name, ois.contact_email, ois.contact_phone) if x)],
        ["Подання", str(ois.submission_count)],
    ]
    if agreement is not None:
        rows.append(
            ["Договір про приєднання", f"{agreement.file_name}, підписав {agreement.signer_name or '—'}"]
        )
    for code, answer in sorted(ois.self_assessment.items()):
        mark = "виконано" if answer.get("met") else "НЕ виконано"
        rows.append([f"Самооцінка {code}", mark + (f" — {answer['note']}" if answer.get("note") else "")])
    rows.append(
        [
            "Як розглянути",
            "на сторінці «ОІС» (вкладка «Заявки та перевірки») — за переліком вимог, з підписом КЕП",
        ]
    )
    return rows


def _notify_operator(session: Session, ois: Ois, *, key: str, headline: str, lines: list[str]) -> None:
    addresses = {ois.contact_email}
    operator = session.get(Person, ois.operator_person_id) if ois.operator_person_id else None
    if operator is not None:
        addresses.add(operator.email)
    for address in sorted(addresses):
        enqueue(
            session=session,
            template="ois_connection_notice",
            to_address=address,
            variables=OisConnectionNotice(
                recipient_name=ois.contact_name or ois.company_name,
                system_name=ois.system_name,
                headline=headline,
                lines=lines,
                link=f"{get_settings().public_url.rstrip('/')}/my-ois",
            ),
            idempotency_key=f"ois-{ois.id}-{key}-{address}",
        )


def review_outcome(*, session: Session, process_id: int, step_key: str) -> str:
    """After the review step: "passed", "returned" (the operator is emailed the failed items once), or
    "unreviewed": the step was approved elsewhere (the work queue) without the checklist — it is asked
    again. A rejection elsewhere returns the application with its comment."""
    _, facts = facts_of(session, process_id)
    ois = get_ois(session, facts.ois_id, lock=True)
    task = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process_id, ApprovalTask.step_key == step_key)
    ).one()
    submission = int(step_key.split("-")[1])  # review-<submission>[-<attempt>]
    review = session.scalars(
        select(OisReview).where(
            OisReview.ois_id == ois.id,
            OisReview.round == ReviewRound.CONNECTION,
            OisReview.submission_no == submission,
        )
    ).first()
    if review is not None and review.outcome == ReviewOutcome.PASSED:
        return "passed"
    if review is None and task.decision == Decision.APPROVE:
        return "unreviewed"
    if review is None and ois.state == OisState.IN_REVIEW:
        ois.state = OisState.RETURNED
        ois.state_changed_at = datetime.now(UTC)
        ois.state_reason = "Рішення ухвалено без перевірки за переліком вимог."
    lines = [
        f"{i['code']}: {i['text']} — {i.get('note') or 'не виконано'}"
        for i in (review.items if review else [])
        if not i["passed"]
    ]
    if review is None:
        lines.append(
            task.comment or "Заявку повернуто без перевірки за переліком вимог: подайте її повторно."
        )
    elif review.comment:
        lines.append(f"Коментар: {review.comment}")
    lines.append("Виправте зазначене і подайте заявку повторно на сторінці «Моя ОІС».")
    _notify_operator(
        session, ois, key=f"returned-{submission}", headline="заявку повернуто на доопрацювання", lines=lines
    )
    session.flush()
    return "returned"


def reviewer_of(*, session: Session, process_id: int) -> int:
    """Who passed the connection review (excluded from approving the agreement)."""
    _, facts = facts_of(session, process_id)
    review = passed_review(session, facts.ois_id)
    if review is None:
        raise NotFound(f"ОІС № {facts.ois_id}: немає пройденої перевірки відповідності.")
    return review.reviewer_id


def stop_application(*, session: Session, process_id: int, reason_uk: str) -> None:
    """The application ends without a connection: ОІС REJECTED, its agreement rejected, operator told."""
    _, facts = facts_of(session, process_id)
    ois = get_ois(session, facts.ois_id, lock=True)
    if ois.state in (OisState.REJECTED, OisState.CONNECTED):
        return
    ois.state = OisState.REJECTED
    ois.state_changed_at = datetime.now(UTC)
    ois.state_reason = reason_uk[:1000]
    agreement = current_agreement(session, ois.id)
    if agreement is not None and agreement.state == AgreementState.SUBMITTED:
        agreement.state = AgreementState.REJECTED
    _notify_operator(session, ois, key="rejected", headline="у підключенні відмовлено", lines=[reason_uk])
    session.flush()


def connect(*, session: Session, process_id: int, step_key: str, now: datetime | None = None) -> Ois:
    """The agreement approved in `step_key`: the agreement numbered and dated, the ОІС CONNECTED with a
    `receive` phase from now, its client id, the operator emailed. Once."""
    now = now or datetime.now(UTC)
    _, facts = facts_of(session, process_id)
    ois = get_ois(session, facts.ois_id, lock=True)
    if ois.state == OisState.CONNECTED:
        return ois
    task = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process_id, ApprovalTask.step_key == step_key)
    ).one()
    decision = session.scalars(select(SignedDecision).where(SignedDecision.task_id == task.id)).first()
    agreement = current_agreement(session, ois.id)
    if agreement is None:
        raise NotFound(f"ОІС № {ois.id}: договір не знайдено.")
    today = now.astimezone(KYIV).date()
    agreement.state = AgreementState.APPROVED
    agreement.number = agreement.number or year_number(
        session, Agreement.number, AGREEMENT_PREFIX, today.year
    )
    agreement.agreement_date = today
    agreement.approved_by_id = task.decided_by_id
    agreement.approved_at = task.decided_at or now
    agreement.decision_id = decision.id if decision else None
    review = passed_review(session, ois.id)
    session.add(
        OisPhase(
            ois_id=ois.id,
            capability=OisCapability.RECEIVE,
            effective_from=now,
            review_id=review.id if review else None,
            decision_id=decision.id if decision else None,
            created_by_id=task.decided_by_id,
            note="Підключення: отримання даних",
        )
    )
    ois.state = OisState.CONNECTED
    ois.capability = OisCapability.RECEIVE
    ois.connected_at = now
    ois.state_changed_at = now
    ois.state_reason = None
    ois.client_id = ois.client_id or f"ois-{ois.id}-{secrets.token_hex(4)}"
    conclusion = (
        session.scalars(select(OisConclusion).where(OisConclusion.review_id == review.id)).first()
        if review
        else None
    )
    audit.record(
        session=session,
        action="ois.connected",
        object_type="ois",
        object_id=ois.id,
        details={"agreement": agreement.number, "client_id": ois.client_id, "process_id": process_id},
        actor_person_id=task.decided_by_id,
        actor_label="agreement approved",
    )
    lines = [
        f"Договір про приєднання № {agreement.number} від {today:%d.%m.%Y}",
        f"Можливості: {CAPABILITY_LABELS_UK[OisCapability.RECEIVE]} (з {now.astimezone(KYIV):%d.%m.%Y})",
        f"Ідентифікатор клієнта для шлюзу: {ois.client_id}",
    ]
    if conclusion is not None:
        lines.insert(1, f"Висновок про відповідність Технічним вимогам № {conclusion.number}")
    _notify_operator(session, ois, key="connected", headline="ОІС підключено до АІКОМ", lines=lines)
    session.flush()
    return ois


def checklist(round_: ReviewRound = ReviewRound.CONNECTION) -> tuple[CheckItem, ...]:
    """The configured requirements of a review round."""
    return get_catalogue().checklist(round_.value)


# --- application commands (own the unit of work; wake the waiting run after commit) -------------


def _wake(task_id: int | None, db_url: str | None, api_url: str | None) -> None:
    if task_id is None:
        return
    from aikom.orchestration.adapter import OrchestratorUnavailable
    from aikom.services.reconcile import wake_for_task

    # The decision is committed: with the engine down, the reconciler resumes the run later.
    with contextlib.suppress(OrchestratorUnavailable):
        wake_for_task(task_id, db_url=db_url, api_url=api_url)


@dataclass(frozen=True)
class ReviewSubmitted:
    """A review as recorded: its outcome and, for a passed connection review, the conclusion."""

    id: int
    round: str
    outcome: str
    conclusion_id: int | None
    conclusion_number: str | None


def submit_review_command(
    *,
    person_id: int,
    document: bytes,
    signature: bytes,
    db_url: str | None = None,
    api_url: str | None = None,
) -> ReviewSubmitted:
    """Submit a signed review, commit, wake the run; what was recorded."""
    from aikom.db import unit_of_work

    task = ReviewDocument.from_bytes(document).task
    with unit_of_work(db_url) as session:
        actor = session.get_one(Person, person_id)
        review = submit_review(session=session, actor=actor, document=document, signature=signature)
        conclusion = session.scalars(
            select(OisConclusion).where(OisConclusion.review_id == review.id)
        ).first()
        submitted = ReviewSubmitted(
            id=review.id,
            round=review.round.value,
            outcome=review.outcome.value,
            conclusion_id=conclusion.id if conclusion else None,
            conclusion_number=conclusion.number if conclusion else None,
        )
    _wake(task, db_url, api_url)
    return submitted


def resubmit_command(
    *,
    person_id: int,
    ois_id: int,
    changes: ApplicationChanges,
    signed: SignedPayload,
    db_url: str | None = None,
    api_url: str | None = None,
) -> int:
    """Resubmit a returned application, commit, wake the run; the new submission number."""
    from aikom.db import unit_of_work

    with unit_of_work(db_url) as session:
        task = open_task(session, ois_id, RESUBMIT_STEP)
        actor = Actor(person_id=person_id, label=session.get_one(Person, person_id).full_name)
        ois = resubmit_application(
            session=session, ois_id=ois_id, actor=actor, changes=changes, signed=signed
        )
        count = ois.submission_count
    _wake(task.id if task else None, db_url, api_url)
    return count


def decide_agreement_command(
    *,
    person_id: int,
    ois_id: int,
    decision: Decision,
    comment: str | None,
    signed: SignedPayload,
    db_url: str | None = None,
    api_url: str | None = None,
) -> int:
    """Approve (or reject) the agreement, commit, wake the run; the task id."""
    from aikom.db import unit_of_work

    with unit_of_work(db_url) as session:
        actor = session.get_one(Person, person_id)
        task = decide_agreement(
            session=session, ois_id=ois_id, actor=actor, decision=decision, comment=comment, signed=signed
        )
        task_id = task.id
    _wake(task_id, db_url, api_url)
    return task_id


__all__ = [
    "AgreementSignatureInvalid",
    "AgreementSignedByOtherCompany",
    "AgreementTooLarge",
    "AgreementUnsigned",
    "ApplicationChanges",
    "ReviewItemInput",
    "ReviewerFromApplicantCompany",
    "ReviewerMayNotApproveAgreement",
    "connect",
    "enrol_operator",
    "register_operator",
    "start_application",
    "submit_review",
]
