"""Connected ОІС after connection: the capability in force (dated phases), suspension, reinstatement and
disconnection — and the cancellation of a widening not yet in force — by an institute admin's КЕП-signed
decision, the public list of connected ОІС and the staff's view of them (phases, grants per ОІС).

Each change is ONE signed decision of one institute admin (no second approver: the rules ask for a
decision that takes effect at once — «its grants stop working at once»), verified and stored like every
approval (`signed_decision`), with an audit entry and an email to the operator. Widening to
`receive_transmit` needs the extended review passed and a decider other than its reviewer (four-eyes, as
agreement approval after the connection review).

The public list holds CONNECTED ОІС only: a suspended one is left out while it is suspended (a school could
not grant it access, and the order publishes the list of connected ОІС), and is listed again once reinstated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from aikom.core.actor import Actor
from aikom.core.calendar import KYIV
from aikom.core.errors import DomainError, NotFound, RoleNotAllowed, ValidationFailed
from aikom.core.kep.trust import TrustList
from aikom.core.ois_decisions import OisAction, OisDecisionDocument
from aikom.core.timefmt import format_date, format_kyiv
from aikom.mail.templates import OisNotice, OisSchoolNotice
from aikom.models import (
    Agreement,
    AgreementState,
    GrantState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OisReview,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    ReviewOutcome,
    ReviewRound,
    SignedDecision,
)
from aikom.models.ois import OisState
from aikom.services import audit, outbox
from aikom.services.approvals import DOCUMENT_CLOCK_SKEW, DOCUMENT_MAX_AGE, SignedPayload
from aikom.settings import get_settings

# Who changes a connected ОІС, and who reads the staff's view (the manager read-only, DESIGN §1).
DECIDER_ROLES = frozenset({PersonRole.INSTITUTE_ADMIN})
STAFF_VIEW_ROLES = frozenset({PersonRole.INSTITUTE_ADMIN, PersonRole.MANAGER})
PUBLIC_STATES = (OisState.CONNECTED,)
# The ОІС the staff's «connected systems» cover: connected once (suspended and disconnected ones too).
AFTER_CONNECTION = (OisState.CONNECTED, OisState.SUSPENDED, OisState.DISCONNECTED)
REASON_MAX = 1000
GRANT_REASON_MAX = 500

CAPABILITY_UK: dict[OisCapability, str] = {
    OisCapability.NONE: "немає доступу",
    OisCapability.RECEIVE: "отримання даних",
    OisCapability.RECEIVE_TRANSMIT: "отримання і передавання даних",
}
STATE_UK: dict[OisState, str] = {
    OisState.APPLIED: "заявку подано",
    OisState.IN_REVIEW: "на розгляді",
    OisState.CONNECTED: "підключена",
    OisState.REJECTED: "відхилена",
    OisState.SUSPENDED: "зупинена",
    OisState.RETURNED: "повернута на доопрацювання",
    OisState.DISCONNECTED: "відключена",
}
ACTION_UK: dict[OisAction, str] = {
    OisAction.WIDEN: "розширення можливостей до отримання і передавання даних",
    OisAction.SUSPEND: "зупинення",
    OisAction.REINSTATE: "відновлення",
    OisAction.DISCONNECT: "відключення",
    OisAction.CANCEL_WIDENING: "скасування запланованого розширення до передавання даних",
}


# --- one exception per rule -------------------------------------------------------------------------


class OisNotFound(NotFound):
    """No ОІС with this id."""

    def __init__(self, ois_id: int) -> None:
        super().__init__(f"ОІС №{ois_id} не знайдено.", ois_id=ois_id)


class OisDecidersOnly(RoleNotAllowed):
    """Only an active institute admin changes a connected ОІС."""

    def __init__(self) -> None:
        super().__init__(
            "Змінювати можливості ОІС, зупиняти, відновлювати й відключати її може лише активний технічний "
            "адміністратор ІОА."
        )


class OisStaffOnly(RoleNotAllowed):
    """The staff's view of ОІС is for institute admins and managers."""

    def __init__(self) -> None:
        super().__init__(
            "Повні відомості про ОІС (контакти, фази, доступи закладів) — лише для технічних адміністраторів "
            "ІОА та керівників і аналітиків; публічний перелік підключених ОІС доступний усім."
        )


class OisNotConnected(DomainError):
    """The ОІС is not in the state this decision needs."""

    code = "ois_not_connected"

    def __init__(self, ois: Ois, what: str) -> None:
        super().__init__(
            f"ОІС «{ois.system_name}» зараз у стані «{STATE_UK[ois.state]}»: {what}", ois_id=ois.id
        )


class ExtendedReviewNotPassed(DomainError):
    """Widening to `receive_transmit` needs the extended conformity review passed (its latest round)."""

    code = "ois_extended_review_not_passed"

    def __init__(self, ois: Ois, outcome: ReviewOutcome | None) -> None:
        said = "ще не проводили" if outcome is None else "останній раз не пройдено"
        super().__init__(
            f"Розширити можливості ОІС «{ois.system_name}» до передавання даних можна лише після пройденої "
            f"розширеної перевірки відповідності технічним вимогам; її {said}.",
            ois_id=ois.id,
        )


class ReviewerMayNotDecide(DomainError):
    """Four-eyes: whoever passed the extended review does not also decide the widening."""

    code = "ois_four_eyes"

    def __init__(self) -> None:
        super().__init__(
            "Рішення про розширення можливостей ухвалює інший адміністратор ІОА, ніж той, хто провів "
            "розширену перевірку (принцип чотирьох очей)."
        )


class TransmitAlreadyDecided(DomainError):
    """A `receive_transmit` phase exists already (in force or planned)."""

    code = "ois_transmit_already_decided"

    def __init__(self, ois: Ois, phase: OisPhase, now: datetime) -> None:
        when = "чинна" if phase.effective_from <= now else "запланована"
        super().__init__(
            f"Для ОІС «{ois.system_name}» фаза «{CAPABILITY_UK[OisCapability.RECEIVE_TRANSMIT]}» уже {when} "
            f"з {format_kyiv(phase.effective_from)}.",
            ois_id=ois.id,
        )


class NoPlannedWidening(DomainError):
    """Only a widening not yet in force is cancelled; one in force is stopped by suspending the ОІС."""

    code = "ois_no_planned_widening"

    def __init__(self, ois: Ois, in_force: OisPhase | None) -> None:
        if in_force is not None:
            message = (
                f"Для ОІС «{ois.system_name}» передавання даних уже чинне з "
                f"{format_kyiv(in_force.effective_from)}: чинну фазу не скасовують; щоб припинити обмін "
                "даними, зупиніть ОІС."
            )
        else:
            message = f"Для ОІС «{ois.system_name}» немає запланованого розширення до передавання даних."
        super().__init__(message, ois_id=ois.id)


class OisDecisionSignatureRequired(DomainError):
    """A decision about an ОІС is signed with КЕП."""

    code = "decision_signature_required"

    def __init__(self) -> None:
        super().__init__("Рішення щодо ОІС має бути підписане КЕП: додайте документ рішення і його підпис.")


class OisDecisionDocumentMismatch(DomainError):
    """The signed document is not this decision."""

    code = "decision_document_mismatch"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Підписаний документ не відповідає рішенню: {detail}.")


class OisDecisionDocumentOutdated(DomainError):
    """The signed document's time is too far from now."""

    code = "decision_document_outdated"

    def __init__(self, signed_at: datetime) -> None:
        super().__init__(
            f"Документ рішення підписано {format_kyiv(signed_at)} — надто давно або з майбутнім часом; "
            "сформуйте і підпишіть документ ще раз."
        )


# --- the capability in force --------------------------------------------------------------------------


def phase_in_force(session: Session, ois_id: int, at: datetime) -> OisPhase | None:
    """The latest phase already effective at `at` (None: none yet)."""
    return session.scalars(
        select(OisPhase)
        .where(OisPhase.ois_id == ois_id, OisPhase.effective_from <= at)
        .order_by(OisPhase.effective_from.desc(), OisPhase.id.desc())
        .limit(1)
    ).first()


def capability_in_force(
    ois: Ois, at: datetime | None = None, *, session: Session | None = None
) -> OisCapability:
    """What `ois` may do at `at` (now by default): the capability of its latest phase already effective,
    NONE when it has none, and NONE whenever it is not CONNECTED (suspended, disconnected, not yet)."""
    if ois.state != OisState.CONNECTED:
        return OisCapability.NONE
    db = session or object_session(ois)
    if db is None:
        raise ValueError("capability_in_force needs an ОІС attached to a session, or a session")
    phase = phase_in_force(db, ois.id, at or datetime.now(UTC))
    return phase.capability if phase is not None else OisCapability.NONE


def capability_of(
    state: OisState, phases: Iterable[tuple[datetime, OisCapability]], at: datetime
) -> OisCapability:
    """The same rule without the database, over (effective_from, capability) pairs already loaded — for a
    caller that keeps an ОІС's phases in memory (the access decision point)."""
    if state != OisState.CONNECTED:
        return OisCapability.NONE
    effective = [(since, capability) for since, capability in phases if since <= at]
    # The latest effective date wins; among phases of one date, the last one given (they come in id order).
    return max(enumerate(effective), key=lambda e: (e[1][0], e[0]))[1][1] if effective else OisCapability.NONE


def capabilities_in_force(session: Session, oises: Iterable[Ois], at: datetime) -> dict[int, OisCapability]:
    """`capability_in_force` of many ОІС in one query (lists)."""
    rows = list(oises)
    connected = [o.id for o in rows if o.state == OisState.CONNECTED]
    result = dict.fromkeys((o.id for o in rows), OisCapability.NONE)
    if connected:
        latest = (
            select(OisPhase.ois_id, OisPhase.capability)
            .where(OisPhase.ois_id.in_(connected), OisPhase.effective_from <= at)
            .distinct(OisPhase.ois_id)
            .order_by(OisPhase.ois_id, OisPhase.effective_from.desc(), OisPhase.id.desc())
        )
        for ois_id, capability in session.execute(latest).tuples():
            result[ois_id] = capability
    return result


# --- decisions ----------------------------------------------------------------------------------------


def decision_document(
    *,
    action: OisAction,
    ois_id: int,
    actor_id: int,
    reason: str | None,
    effective_on: date | None = None,
    at: datetime | None = None,
) -> bytes:
    """The canonical bytes an institute admin signs with КЕП for this decision (time: `at`, else now)."""
    return OisDecisionDocument.create(
        action=action, ois=ois_id, actor=actor_id, reason=reason, effective_on=effective_on, at=at
    ).to_bytes()


def _decider(session: Session, actor: Actor) -> Person:
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None or person.role not in DECIDER_ROLES or person.state != PersonState.ACTIVE:
        raise OisDecidersOnly()
    return person


def _locked_ois(session: Session, ois_id: int) -> Ois:
    ois = session.get(Ois, ois_id, with_for_update=True, populate_existing=True)
    if ois is None:
        raise OisNotFound(ois_id)
    return ois


def _clean_reason(reason: str | None, *, required: bool, limit: int = REASON_MAX) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise ValidationFailed(
            "reason", "Причина: вкажіть, чому ухвалюється рішення — без неї його не внесено."
        )
    if len(text) > limit:
        raise ValidationFailed("reason", f"Причина: не довше за {limit} символів (зараз {len(text)}).")
    return text


def _verify_and_store(
    *,
    session: Session,
    signer: Person,
    signed: SignedPayload | None,
    trust: TrustList | None,
    action: OisAction,
    ois_id: int,
    reason: str,
    effective_on: date | None,
    now: datetime,
) -> SignedDecision:
    """The document says exactly this decision, is fresh, and the signer's own КЕП signed it; stored."""
    from aikom.services.decisions import store_signed_decision, verify_signer
    from aikom.services.trust import current_trust_list
    from aikom.settings import get_settings

    if signed is None:
        raise OisDecisionSignatureRequired()
    try:
        parsed = OisDecisionDocument.from_bytes(signed.document)
    except ValueError as error:
        raise OisDecisionDocumentMismatch("документ пошкоджений або не в канонічному вигляді") from error
    expected = {
        "action": action.value,
        "ois": ois_id,
        "actor": signer.id,
        "reason": reason,
        "effective_on": effective_on.isoformat() if effective_on else "",
    }
    for field, value in expected.items():
        if getattr(parsed, field) != value:
            raise OisDecisionDocumentMismatch(f"поле «{field}» має інше значення")
    if not now - DOCUMENT_MAX_AGE <= parsed.signed_at <= now + DOCUMENT_CLOCK_SKEW:
        raise OisDecisionDocumentOutdated(parsed.signed_at)
    settings = get_settings()
    trust = trust if trust is not None else current_trust_list(settings)
    verification = verify_signer(
        session=session,
        trust=trust,
        signer=signer,
        document=signed.document,
        signature=signed.signature,
        at=now,
        max_bytes=settings.max_signature_bytes,
    )
    return store_signed_decision(
        session=session,
        trust=trust,
        task_id=None,
        signer=signer,
        document=signed.document,
        signature=signed.signature,
        verification=verification,
    )


def _tell_operator(session: Session, ois: Ois, *, subject: str, lines: list[str], key: str) -> None:
    """The application's contact is emailed, and the operator's person card too when its address differs."""
    recipients = [(ois.contact_email, ois.contact_name or ois.company_name, key)]
    person = session.get(Person, ois.operator_person_id) if ois.operator_person_id else None
    if person is not None and person.email.strip().lower() != ois.contact_email.strip().lower():
        recipients.append((person.email, person.full_name, f"{key}-operator"))
    for address, name, idempotency_key in recipients:
        outbox.enqueue(
            session=session,
            template="ois_notice",
            to_address=address,
            variables=OisNotice(
                recipient_name=name, subject=subject, system_name=ois.system_name, lines=lines
            ),
            idempotency_key=idempotency_key,
        )


def _tell_schools(
    session: Session, ois: Ois, grants: Sequence[OisGrant], *, subject: str, lines: list[str], key: str
) -> int:
    """The director of each school whose active grant the decision affects is emailed, ONE message per
    school (the school's official address when it has no active director); the number of messages."""
    schools = sorted({g.school_org_unit_id for g in grants})
    if not schools:
        return 0
    units = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(schools)))}
    directors: dict[int, Person] = {}
    for person in session.scalars(
        select(Person)
        .where(
            Person.org_unit_id.in_(schools),
            Person.role == PersonRole.DIRECTOR,
            Person.state == PersonState.ACTIVE,
        )
        .order_by(Person.id)
    ):
        directors.setdefault(person.org_unit_id, person)
    grant_ids: dict[int, list[int]] = {}
    for grant in grants:
        grant_ids.setdefault(grant.school_org_unit_id, []).append(grant.id)
    link = f"{get_settings().public_url.rstrip('/')}/ois-access"
    messages: list[outbox.Outgoing] = []
    for school_id in schools:
        unit, director = units[school_id], directors.get(school_id)
        address = director.email if director is not None else unit.official_email
        if not address:
            continue
        numbers = ", ".join(f"№{i}" for i in grant_ids[school_id])
        messages.append(
            outbox.Outgoing(
                to_address=address,
                variables=OisSchoolNotice(
                    recipient_name=director.full_name if director is not None else "Керівнику закладу",
                    school_name=unit.name,
                    system_name=ois.system_name,
                    company_name=ois.company_name,
                    subject=subject,
                    lines=[*lines, f"Доступ вашого закладу: {numbers}."],
                    link=link,
                ),
                idempotency_key=f"{key}-school-{school_id}",
            )
        )
    outbox.enqueue_many(session=session, template="ois_school_notice", messages=messages)
    return len(messages)


def _active_grants(session: Session, ois_id: int) -> list[OisGrant]:
    return list(
        session.scalars(
            select(OisGrant)
            .where(OisGrant.ois_id == ois_id, OisGrant.state == GrantState.ACTIVE)
            .order_by(OisGrant.id)
        )
    )


def _latest_extended_review(session: Session, ois_id: int) -> OisReview | None:
    return session.scalars(
        select(OisReview)
        .where(OisReview.ois_id == ois_id, OisReview.round == ReviewRound.EXTENDED)
        .order_by(OisReview.created_at.desc(), OisReview.id.desc())
        .limit(1)
    ).first()


def effective_from_of(day: date) -> datetime:
    """A phase dated `day` is in force from the start of that day in Kyiv."""
    return datetime.combine(day, time(0), tzinfo=KYIV)


def day_of(moment: datetime) -> date:
    """The day in Kyiv of `moment`: a phase's date (the inverse of `effective_from_of`), or today's."""
    return moment.astimezone(KYIV).date()


def widen_capability(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    effective_on: date,
    comment: str | None = None,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> OisPhase:
    """A dated phase `receive_transmit` from `effective_on` (today or later, Kyiv) for a CONNECTED ОІС whose
    latest extended review passed, decided by an institute admin other than its reviewer."""
    now = now or datetime.now(UTC)
    decider = _decider(session, actor)
    ois = _locked_ois(session, ois_id)
    note = _clean_reason(comment, required=False)
    if ois.state != OisState.CONNECTED:
        raise OisNotConnected(ois, "розширити можливості можна лише підключеній ОІС.")
    if effective_on < day_of(now):
        raise ValidationFailed(
            "effective_on",
            f"Дата початку фази: не раніше за сьогодні ({format_date(day_of(now))}), "
            f"а не {format_date(effective_on)}.",
        )
    review = _latest_extended_review(session, ois.id)
    if review is None or review.outcome != ReviewOutcome.PASSED:
        raise ExtendedReviewNotPassed(ois, review.outcome if review else None)
    if review.reviewer_id in actor.person_ids:
        raise ReviewerMayNotDecide()
    existing = _transmit_phase(session, ois.id)
    if existing is not None:
        raise TransmitAlreadyDecided(ois, existing, now)
    decision = _verify_and_store(
        session=session, signer=decider, signed=signed, trust=trust, action=OisAction.WIDEN, ois_id=ois.id,
        reason=note, effective_on=effective_on, now=now,
    )  # fmt: skip
    phase = OisPhase(
        ois_id=ois.id,
        capability=OisCapability.RECEIVE_TRANSMIT,
        effective_from=effective_from_of(effective_on),
        review_id=review.id,
        decision_id=decision.id,
        created_by_id=decider.id,
        note=note or None,
    )
    session.add(phase)
    session.flush()
    audit.record(
        session=session,
        action="ois.phase_added",
        object_type="ois",
        object_id=ois.id,
        details={
            "phase_id": phase.id,
            "capability": phase.capability.value,
            "effective_from": phase.effective_from.isoformat(),
            "review_id": review.id,
            "decision_id": decision.id,
            "note": note or None,
        },
        actor=actor,
    )
    _tell_operator(
        session,
        ois,
        subject="дозволено передавання даних",
        lines=[
            f"Інститут освітньої аналітики ухвалив рішення: ОІС «{ois.system_name}» пройшла розширену "
            "перевірку відповідності технічним вимогам і з "
            f"{format_kyiv(phase.effective_from)} зможе не лише отримувати, а й передавати дані до АІКОМ.",
            "До цієї дати діють чинні можливості (лише отримання даних).",
            *([f"Коментар: {note}"] if note else []),
        ],
        key=f"ois-{ois.id}-phase-{phase.id}",
    )
    return phase


def _transmit_phase(session: Session, ois_id: int) -> OisPhase | None:
    """The ОІС's `receive_transmit` phase, in force or planned (there is at most one)."""
    return session.scalars(
        select(OisPhase)
        .where(OisPhase.ois_id == ois_id, OisPhase.capability == OisCapability.RECEIVE_TRANSMIT)
        .order_by(OisPhase.effective_from)
        .limit(1)
    ).first()


def _planned_widening(session: Session, ois: Ois, now: datetime) -> OisPhase:
    phase = _transmit_phase(session, ois.id)
    if phase is None or phase.effective_from <= now:
        raise NoPlannedWidening(ois, phase)
    return phase


def planned_widening_day(*, session: Session, ois_id: int, now: datetime | None = None) -> date:
    """The day (Kyiv) from which the ОІС's planned widening would be in force: what a cancellation's
    decision document names; NoPlannedWidening when there is none still to come."""
    ois = session.get(Ois, ois_id)
    if ois is None:
        raise OisNotFound(ois_id)
    return day_of(_planned_widening(session, ois, now or datetime.now(UTC)).effective_from)


def cancel_widening(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    reason: str,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> date:
    """Cancel the ОІС's widening to `receive_transmit` before it comes in force (a wrong date, a finding
    after the review): an institute admin's signed decision with a reason. The phase is removed — it never
    was in force — and its history stays in the audit log with both decisions; the decision point stops
    expecting it at once, the operator is emailed, and a new widening may be decided. The phase's day."""
    now = now or datetime.now(UTC)
    decider = _decider(session, actor)
    ois = _locked_ois(session, ois_id)
    text = _clean_reason(reason, required=True)
    phase = _planned_widening(session, ois, now)
    day = day_of(phase.effective_from)
    decision = _verify_and_store(
        session=session, signer=decider, signed=signed, trust=trust, action=OisAction.CANCEL_WIDENING,
        ois_id=ois.id, reason=text, effective_on=day, now=now,
    )  # fmt: skip
    phase_id, effective_from = phase.id, phase.effective_from
    audit.record(
        session=session,
        action="ois.phase_cancelled",
        object_type="ois",
        object_id=ois.id,
        details={
            "phase_id": phase_id,
            "capability": phase.capability.value,
            "effective_from": effective_from.isoformat(),
            "widening_decision_id": phase.decision_id,
            "decision_id": decision.id,
            "reason": text,
        },
        actor=actor,
    )
    session.delete(phase)
    session.flush()
    _tell_operator(
        session,
        ois,
        subject="скасовано заплановане передавання даних",
        lines=[
            f"Інститут освітньої аналітики скасував рішення, за яким ОІС «{ois.system_name}» з "
            f"{format_kyiv(effective_from)} мала б отримати право передавати дані до АІКОМ.",
            f"Причина: {text}",
            "Чинні можливості не змінилися: ОІС, як і досі, лише отримує дані.",
        ],
        key=f"ois-{ois.id}-phase-{phase_id}-cancelled",
    )
    return day


def suspend(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    reason: str,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> Ois:
    """CONNECTED → SUSPENDED at once: its grants stay, but every request under them is denied meanwhile."""
    now = now or datetime.now(UTC)
    ois, text, decision = _signed_decision(
        session=session, actor=actor, ois_id=ois_id, reason=reason, signed=signed, trust=trust, now=now,
        action=OisAction.SUSPEND, allowed=(OisState.CONNECTED,),
        refusal="зупинити можна лише підключену ОІС.",
    )  # fmt: skip
    _change_state(session, ois, OisState.SUSPENDED, text, now)
    affected = _active_grants(session, ois.id)
    active = len(affected)
    audit.record(
        session=session,
        action="ois.suspended",
        object_type="ois",
        object_id=ois.id,
        details={"reason": text, "decision_id": decision.id, "active_grants": active},
        actor=actor,
    )
    _tell_operator(
        session,
        ois,
        subject="роботу зупинено",
        lines=[
            f"Інститут освітньої аналітики зупинив підключення ОІС «{ois.system_name}» до АІКОМ з "
            f"{format_kyiv(now)}.",
            f"Причина: {text}",
            f"Доступи закладів освіти ({active}) збережено, але доки підключення зупинено, жоден запит ОІС "
            "до даних не виконується. Після усунення причин Інститут може відновити підключення.",
        ],
        key=f"ois-{ois.id}-suspended-{decision.id}",
    )
    _tell_schools(
        session,
        ois,
        affected,
        subject="роботу зупинено",
        lines=[
            f"Інститут освітньої аналітики зупинив підключення цієї ОІС до АІКОМ з {format_kyiv(now)}.",
            f"Причина: {text}",
            "Доступ вашого закладу збережено, але доки підключення зупинено, ОІС не отримує даних закладу з "
            "АІКОМ і не передає їх. Про відновлення підключення повідомить оператор ОІС; переглянути стан "
            "можна на сторінці «Доступ ОІС».",
        ],
        key=f"ois-school-{ois.id}-suspended-{decision.id}",
    )
    return ois


def reinstate(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    reason: str,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> Ois:
    """SUSPENDED → CONNECTED: its grants work again, with the capability its phases give now."""
    now = now or datetime.now(UTC)
    ois, text, decision = _signed_decision(
        session=session, actor=actor, ois_id=ois_id, reason=reason, signed=signed, trust=trust, now=now,
        action=OisAction.REINSTATE, allowed=(OisState.SUSPENDED,),
        refusal="відновити можна лише зупинену ОІС.",
    )  # fmt: skip
    _change_state(session, ois, OisState.CONNECTED, text, now)
    capability = capability_in_force(ois, now, session=session)
    audit.record(
        session=session,
        action="ois.reinstated",
        object_type="ois",
        object_id=ois.id,
        details={"reason": text, "decision_id": decision.id, "capability": capability.value},
        actor=actor,
    )
    _tell_operator(
        session,
        ois,
        subject="роботу відновлено",
        lines=[
            f"Інститут освітньої аналітики відновив підключення ОІС «{ois.system_name}» до АІКОМ з "
            f"{format_kyiv(now)}.",
            f"Підстава: {text}",
            f"Чинні можливості: {CAPABILITY_UK[capability]}. Доступи закладів освіти знову діють.",
        ],
        key=f"ois-{ois.id}-reinstated-{decision.id}",
    )
    return ois


@dataclass(frozen=True)
class Disconnection:
    """What a disconnection did."""

    ois: Ois
    revoked_grant_ids: list[int]
    decision_id: int


def disconnect(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    reason: str,
    signed: SignedPayload | None,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> Disconnection:
    """CONNECTED or SUSPENDED → DISCONNECTED, final: every active grant of the ОІС revoked with the reason."""
    now = now or datetime.now(UTC)
    ois, text, decision = _signed_decision(
        session=session, actor=actor, ois_id=ois_id, reason=reason, signed=signed, trust=trust, now=now,
        action=OisAction.DISCONNECT, allowed=(OisState.CONNECTED, OisState.SUSPENDED),
        refusal="відключити можна лише підключену або зупинену ОІС.",
    )  # fmt: skip
    grants = session.scalars(
        select(OisGrant)
        .where(OisGrant.ois_id == ois.id, OisGrant.state == GrantState.ACTIVE)
        .order_by(OisGrant.id)
        .with_for_update()
    ).all()
    grant_reason = f"ОІС відключено: {text}"[:GRANT_REASON_MAX]
    for grant in grants:
        grant.state = GrantState.REVOKED
        grant.revoked_at = now
        grant.revoked_by_id = decision.signer_person_id
        grant.revoke_reason = grant_reason
    _change_state(session, ois, OisState.DISCONNECTED, text, now)
    revoked = [g.id for g in grants]
    audit.record(
        session=session,
        action="ois.disconnected",
        object_type="ois",
        object_id=ois.id,
        details={"reason": text, "decision_id": decision.id, "revoked_grant_ids": revoked},
        actor=actor,
    )
    if grants:
        audit.record_many(
            session=session,
            events=[
                audit.Event(
                    action="ois_grant.revoked",
                    object_type="ois_grant",
                    object_id=g.id,
                    details={
                        "ois_id": ois.id,
                        "school_org_unit_id": g.school_org_unit_id,
                        "reason": grant_reason,
                    },
                )
                for g in grants
            ],
            actor=actor,
        )
    _tell_operator(
        session,
        ois,
        subject="підключення припинено",
        lines=[
            f"Інститут освітньої аналітики відключив ОІС «{ois.system_name}» від АІКОМ з {format_kyiv(now)}. "
            "Це остаточно: для нового підключення потрібна нова заявка.",
            f"Причина: {text}",
            f"Доступи закладів освіти відкликано: {len(grants)}.",
        ],
        key=f"ois-{ois.id}-disconnected-{decision.id}",
    )
    _tell_schools(
        session,
        ois,
        grants,
        subject="підключення припинено, доступ закладу відкликано",
        lines=[
            f"Інститут освітньої аналітики відключив цю ОІС від АІКОМ з {format_kyiv(now)}. Це остаточно.",
            f"Причина: {text}",
            "Доступ вашого закладу до цієї ОІС відкликано: вона більше не отримує даних закладу. Доступи "
            "інших ОІС діють, як і раніше; надати доступ іншій підключеній ОІС можна на сторінці "
            "«Доступ ОІС».",
        ],
        key=f"ois-school-{ois.id}-disconnected-{decision.id}",
    )
    return Disconnection(ois=ois, revoked_grant_ids=revoked, decision_id=decision.id)


def _signed_decision(
    *,
    session: Session,
    actor: Actor,
    ois_id: int,
    reason: str,
    signed: SignedPayload | None,
    trust: TrustList | None,
    now: datetime,
    action: OisAction,
    allowed: tuple[OisState, ...],
    refusal: str,
) -> tuple[Ois, str, SignedDecision]:
    """The common start of a state decision: the decider checked, the ОІС locked in one of the `allowed`
    states, the reason cleaned, the signed decision verified and stored."""
    decider = _decider(session, actor)
    ois = _locked_ois(session, ois_id)
    text = _clean_reason(reason, required=True)
    if ois.state not in allowed:
        raise OisNotConnected(ois, refusal)
    decision = _verify_and_store(
        session=session, signer=decider, signed=signed, trust=trust, action=action, ois_id=ois.id,
        reason=text, effective_on=None, now=now,
    )  # fmt: skip
    return ois, text, decision


def _change_state(session: Session, ois: Ois, state: OisState, reason: str, now: datetime) -> None:
    ois.state = state
    ois.state_reason = reason
    ois.state_changed_at = now
    session.flush()


# --- the public list ----------------------------------------------------------------------------------


class PublicOis(BaseModel):
    """A connected ОІС as the Institute publishes it: nothing else about its operator."""

    name: str
    company: str
    edrpou: str
    site: str | None
    capability: OisCapability
    since: datetime | None


def public_list(*, session: Session, at: datetime | None = None) -> list[PublicOis]:
    """Every CONNECTED ОІС with its capability in force, by name (no sign-in needed)."""
    at = at or datetime.now(UTC)
    rows = session.scalars(
        select(Ois).where(Ois.state.in_(PUBLIC_STATES)).order_by(Ois.system_name, Ois.id)
    ).all()
    capabilities = capabilities_in_force(session, rows, at)
    return [
        PublicOis(
            name=o.system_name,
            company=o.company_name,
            edrpou=o.company_edrpou,
            site=o.site,
            capability=capabilities[o.id],
            since=o.connected_at,
        )
        for o in rows
    ]


# --- the staff's view ---------------------------------------------------------------------------------


class PhaseView(BaseModel):
    """A phase of an ОІС and where it stands at the time asked."""

    id: int
    capability: OisCapability
    effective_from: datetime
    status: str  # in_force | planned | superseded
    decided_by: str | None
    decision_id: int | None
    note: str | None


class GrantSchool(BaseModel):
    """A school's grant to an ОІС."""

    grant_id: int
    school: str
    edrpou: str | None
    state: GrantState
    granted_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class StaffOis(BaseModel):
    """Everything the staff see about one ОІС."""

    id: int
    name: str
    company: str
    edrpou: str
    site: str | None
    contact_name: str | None
    contact_email: str
    contact_phone: str | None
    client_id: str | None
    state: OisState
    state_reason: str | None
    state_changed_at: datetime | None
    connected_at: datetime | None
    capability: OisCapability
    agreement_number: str | None
    agreement_date: date | None
    extended_review: ReviewOutcome | None
    phases: list[PhaseView]
    grants: dict[str, int]
    schools: list[GrantSchool]


PHASE_STATUS_UK = {"in_force": "чинна", "planned": "запланована", "superseded": "замінена пізнішою"}


def _viewer(session: Session, actor: Actor) -> Person:
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None or person.role not in STAFF_VIEW_ROLES or person.state != PersonState.ACTIVE:
        raise OisStaffOnly()
    return person


def staff_list(
    *,
    session: Session,
    actor: Actor,
    states: Sequence[OisState] | None = None,
    at: datetime | None = None,
    schools_limit: int = 500,
) -> list[StaffOis]:
    """The ОІС in `states` (default: every state) with everything about them, for institute staff."""
    _viewer(session, actor)
    at = at or datetime.now(UTC)
    query = select(Ois).order_by(Ois.system_name, Ois.id)
    if states:
        query = query.where(Ois.state.in_(list(states)))
    rows = session.scalars(query).all()
    if not rows:
        return []
    ids = [o.id for o in rows]
    capabilities = capabilities_in_force(session, rows, at)
    phases: dict[int, list[OisPhase]] = {i: [] for i in ids}
    for phase in session.scalars(
        select(OisPhase).where(OisPhase.ois_id.in_(ids)).order_by(OisPhase.effective_from, OisPhase.id)
    ):
        phases[phase.ois_id].append(phase)
    deciders = _names(session, {p.created_by_id for ps in phases.values() for p in ps if p.created_by_id})
    agreements: dict[int, Agreement] = {}
    for agreement in session.scalars(
        select(Agreement)
        .where(Agreement.ois_id.in_(ids), Agreement.state == AgreementState.APPROVED)
        .order_by(Agreement.approved_at)
    ):
        agreements[agreement.ois_id] = agreement  # the latest approved one
    reviews: dict[int, ReviewOutcome] = {}
    for review in session.scalars(
        select(OisReview)
        .where(OisReview.ois_id.in_(ids), OisReview.round == ReviewRound.EXTENDED)
        .order_by(OisReview.created_at, OisReview.id)
    ):
        reviews[review.ois_id] = review.outcome
    counts: dict[int, dict[str, int]] = {i: {s.value: 0 for s in GrantState} for i in ids}
    for ois_id, state, count in session.execute(
        select(OisGrant.ois_id, OisGrant.state, func.count())
        .where(OisGrant.ois_id.in_(ids))
        .group_by(OisGrant.ois_id, OisGrant.state)
    ).tuples():
        counts[ois_id][GrantState(state).value] = count
    return [
        StaffOis(
            id=o.id,
            name=o.system_name,
            company=o.company_name,
            edrpou=o.company_edrpou,
            site=o.site,
            contact_name=o.contact_name,
            contact_email=o.contact_email,
            contact_phone=o.contact_phone,
            client_id=o.client_id,
            state=o.state,
            state_reason=o.state_reason,
            state_changed_at=o.state_changed_at,
            connected_at=o.connected_at,
            capability=capabilities[o.id],
            agreement_number=agreements[o.id].number if o.id in agreements else None,
            agreement_date=agreements[o.id].agreement_date if o.id in agreements else None,
            extended_review=reviews.get(o.id),
            phases=_phase_views(phases[o.id], at, deciders),
            grants=counts[o.id],
            schools=grant_schools(session=session, ois_id=o.id, limit=schools_limit),
        )
        for o in rows
    ]


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.full_name).where(Person.id.in_(ids))).tuples().all())


def _phase_views(phases: list[OisPhase], at: datetime, names: dict[int, str]) -> list[PhaseView]:
    effective = [p for p in phases if p.effective_from <= at]
    current = max(effective, key=lambda p: (p.effective_from, p.id)) if effective else None
    views = []
    for p in phases:
        status = "planned" if p.effective_from > at else ("in_force" if p is current else "superseded")
        views.append(
            PhaseView(
                id=p.id,
                capability=p.capability,
                effective_from=p.effective_from,
                status=status,
                decided_by=names.get(p.created_by_id) if p.created_by_id else None,
                decision_id=p.decision_id,
                note=p.note,
            )
        )
    return views


def grant_schools(*, session: Session, ois_id: int, limit: int = 500) -> list[GrantSchool]:
    """The schools' grants to an ОІС, active first, then by school name (at most `limit`)."""
    rows = session.execute(
        select(OisGrant, OrgUnit.name, OrgUnit.edrpou)
        .join(OrgUnit, OrgUnit.id == OisGrant.school_org_unit_id)
        .where(OisGrant.ois_id == ois_id)
        .order_by((OisGrant.state == GrantState.ACTIVE).desc(), OrgUnit.name, OisGrant.id)
        .limit(limit)
    ).tuples()
    return [
        GrantSchool(
            grant_id=g.id,
            school=name,
            edrpou=edrpou,
            state=g.state,
            granted_at=g.created_at,
            revoked_at=g.revoked_at,
            revoke_reason=g.revoke_reason,
        )
        for g, name, edrpou in rows
    ]


def staff_may_decide(*, session: Session, actor: Actor) -> bool:
    """Whether the viewer may change ОІС (an institute admin), or only read (a manager)."""
    person = _viewer(session, actor)
    return person.role in DECIDER_ROLES


def json_ready(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """Models as JSON-able dicts (the CLI's output)."""
    return [m.model_dump(mode="json") for m in models]
