"""A connected ОІС after connection: the capability in force by dated phases, widening to
`receive_transmit` (only after a passed extended review, from a date, by another admin's signed decision),
suspension and reinstatement, disconnection (grants revoked), emails, audit, the public list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.kep import TrustList
from aikom.core.ois_decisions import OisAction
from aikom.mail.templates import render
from aikom.models import (
    Account,
    AuditEntry,
    EmailMessage,
    GrantState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OisState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    ReviewOutcome,
    SignedDecision,
)
from aikom.services import ois_admin as svc
from aikom.services.approvals import SignedPayload
from aikom.services.decisions import reverify_decision
from tests import factories as f
from tests import ois_factories as of
from tests.signing import SigningPki, sign

# Real КЕП certificates are valid from today: decisions are signed now, phases dated from now on.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(KYIV).date()
LATER = TODAY + timedelta(days=40)  # a phase date in the future


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW is the test's own moment: the test PKI issues a person's КЕП when first used (valid from five
    minutes before), so a moment taken when the module was imported may precede it in a long run."""
    global NOW, TODAY, LATER
    NOW = datetime.now(UTC).replace(microsecond=0)
    TODAY = NOW.astimezone(KYIV).date()
    LATER = TODAY + timedelta(days=40)


@dataclass
class World:
    national: OrgUnit
    hromada: OrgUnit
    admin: Person
    reviewer: Person
    manager: Person
    director: Person
    school_account: Account


@pytest.fixture
def world(session: Session) -> World:
    units = f.cascade(session, with_edrpou=True)
    units["national"].edrpou = f.edrpou()
    national = f.account(session, units["national"])
    school_account = f.account(session, units["school"])
    return World(
        national=units["national"],
        hromada=units["hromada"],
        admin=f.person(
            session, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp(), name="Адмін Один"
        ),
        reviewer=f.person(
            session, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp(), name="Рев Два"
        ),
        manager=f.person(session, national, role=PersonRole.MANAGER, rnokpp=f.rnokpp()),
        director=f.person(session, school_account, role=PersonRole.DIRECTOR, rnokpp=f.rnokpp()),
        school_account=school_account,
    )


def _signed(
    session: Session,
    signing: SigningPki,
    person: Person,
    *,
    action: OisAction,
    ois: Ois,
    reason: str = "",
    effective_on: date | None = None,
    at: datetime | None = None,
) -> SignedPayload:
    document = svc.decision_document(
        action=action,
        ois_id=ois.id,
        actor_id=person.id,
        reason=reason,
        effective_on=effective_on,
        at=at or NOW,
    )
    return SignedPayload(
        document=document, signature=sign(signing.certificate_for(session, person), document)
    )


def _widen(
    session: Session,
    signing: SigningPki,
    trust: TrustList,
    person: Person,
    ois: Ois,
    day: date,
    *,
    comment: str = "",
    signed: SignedPayload | None = None,
) -> OisPhase:
    signed = signed or _signed(
        session, signing, person, action=OisAction.WIDEN, ois=ois, reason=comment, effective_on=day
    )
    return svc.widen_capability(
        session=session, actor=f.actor(person), ois_id=ois.id, effective_on=day, comment=comment,
        signed=signed, trust=trust, now=NOW,
    )  # fmt: skip


def _decide(
    session: Session,
    signing: SigningPki,
    trust: TrustList,
    person: Person,
    ois: Ois,
    action: OisAction,
    reason: str,
    *,
    at: datetime | None = None,
) -> object:
    at = at or NOW
    signed = _signed(session, signing, person, action=action, ois=ois, reason=reason, at=at)
    call = {
        OisAction.SUSPEND: svc.suspend,
        OisAction.REINSTATE: svc.reinstate,
        OisAction.DISCONNECT: svc.disconnect,
    }
    return call[action](
        session=session,
        actor=f.actor(person),
        ois_id=ois.id,
        reason=reason,
        signed=signed,
        trust=trust,
        now=at,
    )


def _school(session: Session, world: World, name: str) -> tuple[OrgUnit, Account]:
    unit = f.org_unit(session, level=OrgLevel.SCHOOL, parent=world.hromada, name=name, edrpou=f.edrpou())
    return unit, f.account(session, unit)


def _emails(session: Session, ois: Ois) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == ois.contact_email).order_by(EmailMessage.id)
        )
    )


def _audit(session: Session, ois: Ois) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "ois", AuditEntry.object_id == str(ois.id))
            .order_by(AuditEntry.id)
        )
    )


def test_capability_in_force_follows_the_latest_effective_phase_and_the_state(
    session: Session, world: World
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer, connected_at=NOW - timedelta(days=30))
    assert svc.capability_in_force(ois, NOW - timedelta(days=31)) == OisCapability.NONE  # before any phase
    assert svc.capability_in_force(ois, NOW) == OisCapability.RECEIVE
    ois.state = OisState.SUSPENDED
    assert svc.capability_in_force(ois, NOW) == OisCapability.NONE
    ois.state = OisState.DISCONNECTED
    assert svc.capability_in_force(ois, NOW) == OisCapability.NONE
    applied = Ois(system_name="Нова", company_name="ТОВ", company_edrpou=f.edrpou(), contact_email="x@y.ua")
    session.add(applied)
    session.flush()
    assert svc.capability_in_force(applied, NOW) == OisCapability.NONE


def test_the_rule_over_phases_in_memory_agrees() -> None:
    start, later = NOW - timedelta(days=10), NOW + timedelta(days=10)
    phases = [(start, OisCapability.RECEIVE), (later, OisCapability.RECEIVE_TRANSMIT)]
    assert svc.capability_of(OisState.CONNECTED, phases, start - timedelta(seconds=1)) == OisCapability.NONE
    assert svc.capability_of(OisState.CONNECTED, phases, NOW) == OisCapability.RECEIVE
    assert svc.capability_of(OisState.CONNECTED, phases, later) == OisCapability.RECEIVE_TRANSMIT
    assert svc.capability_of(OisState.SUSPENDED, phases, later) == OisCapability.NONE
    assert svc.capability_of(OisState.CONNECTED, [], NOW) == OisCapability.NONE


def test_widening_is_refused_without_a_passed_extended_review(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    with pytest.raises(svc.ExtendedReviewNotPassed) as never:
        _widen(session, signing_pki, trust, world.admin, ois, LATER)
    assert "розширеної перевірки" in never.value.message_uk and "ще не проводили" in never.value.message_uk
    of.review_of(session, ois, reviewer=world.reviewer, outcome=ReviewOutcome.FAILED)
    with pytest.raises(svc.ExtendedReviewNotPassed) as failed:
        _widen(session, signing_pki, trust, world.admin, ois, LATER)
    assert "останній раз не пройдено" in failed.value.message_uk
    decisions = session.scalars(
        select(SignedDecision).where(SignedDecision.signer_person_id == world.admin.id)
    )
    assert decisions.all() == []
    assert _emails(session, ois) == [] and _audit(session, ois) == []
    assert svc.capability_in_force(ois, NOW + timedelta(days=100)) == OisCapability.RECEIVE


def test_a_future_phase_widens_the_capability_only_from_its_date(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    company = f.org_unit(
        session, level=OrgLevel.OIS_COMPANY, parent=world.national, edrpou=ois.company_edrpou
    )
    operator_account = f.account(session, company)
    operator = f.person(session, operator_account, role=PersonRole.OIS_OPERATOR, email="op@firm.ua")
    ois.operator_org_unit_id, ois.operator_person_id = company.id, operator.id
    review = of.review_of(session, ois, reviewer=world.reviewer)
    phase = _widen(session, signing_pki, trust, world.admin, ois, LATER, comment="Рішення №5")
    assert (
        phase.review_id == review.id and phase.created_by_id == world.admin.id and phase.note == "Рішення №5"
    )
    starts = datetime.combine(LATER, time(0), tzinfo=KYIV)  # the start of that day in Kyiv
    assert phase.effective_from == starts
    assert svc.capability_in_force(ois, NOW) == OisCapability.RECEIVE
    assert svc.capability_in_force(ois, starts - timedelta(seconds=1)) == OisCapability.RECEIVE
    assert svc.capability_in_force(ois, starts) == OisCapability.RECEIVE_TRANSMIT
    assert svc.capability_in_force(ois, starts + timedelta(days=90)) == OisCapability.RECEIVE_TRANSMIT
    # The signed decision is kept and verifies again from the stored bytes.
    assert phase.decision_id is not None
    stored = session.get_one(SignedDecision, phase.decision_id)
    assert stored.task_id is None and stored.signer_person_id == world.admin.id
    assert json.loads(stored.document)["action"] == "widen"
    assert reverify_decision(session=session, trust=trust, decision_id=stored.id).verification.ok
    [email] = _emails(session, ois)
    assert email.template == "ois_notice" and email.idempotency_key == f"ois-{ois.id}-phase-{phase.id}"
    # The operator's own card is told too (its address differs from the application's contact).
    [to_operator] = session.scalars(select(EmailMessage).where(EmailMessage.to_address == "op@firm.ua")).all()
    assert to_operator.variables["lines"] == email.variables["lines"]
    assert f"{LATER:%d.%m.%Y} 00:00 за київським часом" in " ".join(email.variables["lines"])
    assert _audit(session, ois) == ["ois.phase_added"]
    # The staff's view shows the phase as planned before the date, in force after it.
    manager = f.actor(world.manager)
    [before] = [o for o in svc.staff_list(session=session, actor=manager, at=NOW) if o.id == ois.id]
    assert [(p.capability, p.status) for p in before.phases] == [
        (OisCapability.RECEIVE, "in_force"),
        (OisCapability.RECEIVE_TRANSMIT, "planned"),
    ]
    [after] = [o for o in svc.staff_list(session=session, actor=manager, at=starts) if o.id == ois.id]
    assert [p.status for p in after.phases] == ["superseded", "in_force"]
    assert after.capability == OisCapability.RECEIVE_TRANSMIT
    with pytest.raises(svc.TransmitAlreadyDecided) as twice:
        _widen(session, signing_pki, trust, world.admin, ois, LATER + timedelta(days=1))
    assert "уже запланована" in twice.value.message_uk


def test_widening_refusals_name_the_rule(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    of.review_of(session, ois, reviewer=world.reviewer)
    with pytest.raises(ValidationFailed) as past:
        _widen(session, signing_pki, trust, world.admin, ois, TODAY - timedelta(days=1))
    assert (
        past.value.field == "effective_on"
        and f"не раніше за сьогодні ({TODAY:%d.%m.%Y})" in past.value.message_uk
    )
    with pytest.raises(svc.ReviewerMayNotDecide):
        _widen(session, signing_pki, trust, world.reviewer, ois, LATER)
    with pytest.raises(svc.OisDecidersOnly):
        _widen(session, signing_pki, trust, world.manager, ois, LATER)
    with pytest.raises(svc.OisDecisionSignatureRequired):
        svc.widen_capability(
            session=session, actor=f.actor(world.admin), ois_id=ois.id, effective_on=LATER, signed=None,
            trust=trust, now=NOW,
        )  # fmt: skip
    # A signature over another date, or by someone else's КЕП, is refused.
    other_day = _signed(
        session,
        signing_pki,
        world.admin,
        action=OisAction.WIDEN,
        ois=ois,
        effective_on=LATER + timedelta(days=1),
    )
    with pytest.raises(svc.OisDecisionDocumentMismatch) as mismatch:
        _widen(session, signing_pki, trust, world.admin, ois, LATER, signed=other_day)
    assert "effective_on" in mismatch.value.message_uk
    document = svc.decision_document(
        action=OisAction.WIDEN, ois_id=ois.id, actor_id=world.admin.id, reason="", effective_on=LATER, at=NOW
    )
    holder = signing_pki.certificate_for(session, world.reviewer)
    foreign = SignedPayload(document=document, signature=sign(holder, document))
    with pytest.raises(DomainError) as wrong_signer:
        _widen(session, signing_pki, trust, world.admin, ois, LATER, signed=foreign)
    assert "іншої особи" in wrong_signer.value.message_uk
    assert _audit(session, ois) == []
    # Today is allowed (from the start of today, Kyiv): in force at once.
    _widen(session, signing_pki, trust, world.admin, ois, TODAY)
    assert svc.capability_in_force(ois, NOW) == OisCapability.RECEIVE_TRANSMIT


def _cancel(
    session: Session,
    signing: SigningPki,
    trust: TrustList,
    person: Person,
    ois: Ois,
    day: date,
    reason: str,
    *,
    at: datetime | None = None,
) -> date:
    signed = _signed(
        session, signing, person, action=OisAction.CANCEL_WIDENING, ois=ois, reason=reason, effective_on=day
    )
    return svc.cancel_widening(
        session=session, actor=f.actor(person), ois_id=ois.id, reason=reason, signed=signed, trust=trust,
        now=at or NOW,
    )  # fmt: skip


def test_a_planned_widening_is_cancelled_by_a_signed_decision_and_may_be_decided_again(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    of.review_of(session, ois, reviewer=world.reviewer)
    phase = _widen(session, signing_pki, trust, world.admin, ois, LATER)
    phase_id, widening_decision = phase.id, phase.decision_id
    assert svc.planned_widening_day(session=session, ois_id=ois.id, now=NOW) == LATER

    reason = "Помилкова дата в рішенні"
    assert _cancel(session, signing_pki, trust, world.admin, ois, LATER, reason) == LATER
    # The phase is gone: nothing comes in force on that day, the staff's view shows receive only.
    assert session.get(OisPhase, phase_id) is None
    later = datetime.combine(LATER, time(0), tzinfo=KYIV) + timedelta(days=1)
    assert svc.capability_in_force(ois, later) == OisCapability.RECEIVE
    [view] = [o for o in svc.staff_list(session=session, actor=f.actor(world.manager)) if o.id == ois.id]
    assert [p.capability for p in view.phases] == [OisCapability.RECEIVE]
    # The history stays: both decisions stored and verifiable, the audit names them and the reason.
    assert _audit(session, ois) == ["ois.phase_added", "ois.phase_cancelled"]
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "ois.phase_cancelled", AuditEntry.object_id == str(ois.id)
        )
    ).one()
    assert entry.details["phase_id"] == phase_id and entry.details["reason"] == reason
    assert entry.details["widening_decision_id"] == widening_decision
    cancelling = session.get_one(SignedDecision, entry.details["decision_id"])
    assert json.loads(cancelling.document)["action"] == "cancel_widening"
    assert reverify_decision(session=session, trust=trust, decision_id=cancelling.id).verification.ok
    # The operator is told, with the reason.
    told = _emails(session, ois)[-1]
    assert told.idempotency_key == f"ois-{ois.id}-phase-{phase_id}-cancelled"
    assert "скасував" in " ".join(told.variables["lines"]) and reason in " ".join(told.variables["lines"])
    # Another date may now be decided.
    again = _widen(session, signing_pki, trust, world.admin, ois, LATER + timedelta(days=7))
    assert again.effective_from == datetime.combine(LATER + timedelta(days=7), time(0), tzinfo=KYIV)


def test_a_widening_cancellation_is_refused_when_nothing_is_planned_or_it_is_in_force(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    of.review_of(session, ois, reviewer=world.reviewer)
    with pytest.raises(svc.NoPlannedWidening) as nothing:
        svc.planned_widening_day(session=session, ois_id=ois.id, now=NOW)
    assert "немає запланованого розширення" in nothing.value.message_uk
    phase = _widen(session, signing_pki, trust, world.admin, ois, LATER)
    # A reason is required, a manager may not decide, and the document must name the phase's day.
    with pytest.raises(ValidationFailed) as no_reason:
        _cancel(session, signing_pki, trust, world.admin, ois, LATER, "  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(svc.OisDecidersOnly):
        _cancel(session, signing_pki, trust, world.manager, ois, LATER, "Причина")
    with pytest.raises(svc.OisDecisionDocumentMismatch) as other_day:
        _cancel(session, signing_pki, trust, world.admin, ois, LATER + timedelta(days=1), "Причина")
    assert "effective_on" in other_day.value.message_uk
    # Once its day has come, the phase is in force: it is not cancelled (the ОІС is suspended instead).
    in_force = phase.effective_from + timedelta(hours=1)
    with pytest.raises(svc.NoPlannedWidening) as too_late:
        _cancel(session, signing_pki, trust, world.admin, ois, LATER, "Причина", at=in_force)
    assert "уже чинне" in too_late.value.message_uk and "зупиніть ОІС" in too_late.value.message_uk
    assert session.get(OisPhase, phase.id) is not None
    assert _audit(session, ois) == ["ois.phase_added"]


def test_suspension_keeps_grants_but_denies_and_reinstatement_restores(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    school, account = _school(session, world, "Ліцей № 3")
    grant = of.grant(session, ois, school, of.api_key(session, account))
    reason = "Інцидент безпеки: CERT-UA повідомив про витік"
    with pytest.raises(ValidationFailed) as no_reason:
        _decide(session, signing_pki, trust, world.admin, ois, OisAction.SUSPEND, "  ")
    assert no_reason.value.field == "reason"
    _decide(session, signing_pki, trust, world.admin, ois, OisAction.SUSPEND, reason)
    session.refresh(ois)
    assert ois.state == OisState.SUSPENDED and ois.state_reason == reason and ois.state_changed_at == NOW
    assert svc.capability_in_force(ois, NOW) == OisCapability.NONE
    assert session.get_one(OisGrant, grant.id).state == GrantState.ACTIVE
    assert ois.system_name not in [o.name for o in svc.public_list(session=session, at=NOW)]
    with pytest.raises(svc.OisNotConnected) as twice:
        _decide(session, signing_pki, trust, world.admin, ois, OisAction.SUSPEND, reason)
    assert "зупинена" in twice.value.message_uk

    later = NOW + timedelta(minutes=5)
    _decide(
        session, signing_pki, trust, world.reviewer, ois, OisAction.REINSTATE, "Вразливість усунуто", at=later
    )
    assert ois.state == OisState.CONNECTED
    assert svc.capability_in_force(ois, later) == OisCapability.RECEIVE
    assert ois.system_name in [o.name for o in svc.public_list(session=session, at=later)]
    assert _audit(session, ois) == ["ois.suspended", "ois.reinstated"]
    emails = _emails(session, ois)
    assert [e.variables["subject"] for e in emails] == ["роботу зупинено", "роботу відновлено"]
    assert reason in " ".join(emails[0].variables["lines"])
    assert emails[0].variables["recipient_name"] == "Коваль Петро Іванович"
    letter = render(emails[0].template, emails[0].variables)
    assert letter.subject == f"АІКОМ: ОІС «{ois.system_name}» — роботу зупинено"
    assert "Шановна(ий) Коваль Петро Іванович!" in letter.text and f"Причина: {reason}" in letter.text
    assert "Доступи закладів освіти (1) збережено" in letter.text


def test_the_operators_letter_escapes_what_people_typed(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    reason = "<script>alert(1)</script> & ще"
    _decide(session, signing_pki, trust, world.admin, ois, OisAction.DISCONNECT, reason)
    [email] = _emails(session, ois)
    letter = render(email.template, email.variables)
    assert "<script>" not in letter.html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ще" in letter.html
    assert f"Причина: {reason}" in letter.text


def test_disconnection_revokes_the_active_grants_and_is_final(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    other = of.connected_ois(session, reviewer=world.reviewer)
    first, first_account = _school(session, world, "Гімназія № 1")
    second, second_account = _school(session, world, "Гімназія № 2")
    first_key, second_key = of.api_key(session, first_account), of.api_key(session, second_account)
    grants = [of.grant(session, ois, first, first_key), of.grant(session, ois, second, second_key)]
    kept = of.grant(session, other, first, first_key)
    reason = "Договір розірвано з ініціативи оператора"
    done = _decide(session, signing_pki, trust, world.admin, ois, OisAction.DISCONNECT, reason)
    assert isinstance(done, svc.Disconnection)
    assert sorted(done.revoked_grant_ids) == sorted(g.id for g in grants)
    for g in grants:
        row = session.get_one(OisGrant, g.id)
        assert (
            row.state == GrantState.REVOKED and row.revoked_at == NOW and row.revoked_by_id == world.admin.id
        )
        assert row.revoke_reason == f"ОІС відключено: {reason}"
    assert session.get_one(OisGrant, kept.id).state == GrantState.ACTIVE
    assert ois.state == OisState.DISCONNECTED and svc.capability_in_force(ois, NOW) == OisCapability.NONE
    assert reverify_decision(session=session, trust=trust, decision_id=done.decision_id).verification.ok
    assert _audit(session, ois) == ["ois.disconnected"]
    revoked_entries = session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "ois_grant.revoked")
    )
    assert {str(g.id) for g in grants} <= set(revoked_entries.all())
    [email] = _emails(session, ois)
    assert email.variables["subject"] == "підключення припинено"
    assert "Доступи закладів освіти відкликано: 2." in email.variables["lines"]
    with pytest.raises(svc.OisNotConnected):  # final: no reinstatement
        _decide(session, signing_pki, trust, world.admin, ois, OisAction.REINSTATE, "Повернути")


def test_the_public_list_shows_exactly_the_published_fields_of_connected_ois(
    session: Session, world: World
) -> None:
    connected = of.connected_ois(
        session, reviewer=world.reviewer, name="Журнал «Світанок»", contact_phone="+380500000001",
        contact_email="secret.person@op.example.ua", contact_name="Таємна Особа Іванівна",
    )  # fmt: skip
    suspended = of.connected_ois(session, reviewer=world.reviewer, state=OisState.SUSPENDED)
    disconnected = of.connected_ois(session, reviewer=world.reviewer, state=OisState.DISCONNECTED)
    applied = Ois(
        system_name="Заявник", company_name="ТОВ", company_edrpou=f.edrpou(), contact_email="z@y.ua"
    )
    session.add(applied)
    session.flush()
    listed = svc.public_list(session=session, at=NOW)
    names = [o.name for o in listed]
    assert connected.system_name in names
    for hidden in (suspended, disconnected, applied):
        assert hidden.system_name not in names
    [mine] = [o for o in listed if o.name == connected.system_name]
    dumped = mine.model_dump(mode="json")
    assert set(dumped) == {"name", "company", "edrpou", "site", "capability", "since"}
    assert dumped["capability"] == "receive" and dumped["edrpou"] == connected.company_edrpou
    everything = json.dumps([o.model_dump(mode="json") for o in listed], ensure_ascii=False)
    for leak in ("secret.person@op.example.ua", "Таємна Особа", "+380500000001", connected.client_id or "?"):
        assert leak not in everything


def test_the_staff_view_is_for_admins_and_managers_with_everything(session: Session, world: World) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer, contact_email="ops@op.example.ua")
    school, account = _school(session, world, "Ліцей «Ерудит»")
    of.grant(session, ois, school, of.api_key(session, account))
    with pytest.raises(svc.OisStaffOnly):
        svc.staff_list(session=session, actor=f.actor(world.director), at=NOW)
    admin = f.actor(world.admin)
    rows = svc.staff_list(session=session, actor=admin, states=[OisState.CONNECTED], at=NOW)
    [row] = [o for o in rows if o.id == ois.id]
    assert row.contact_email == "ops@op.example.ua" and row.grants == {"active": 1, "revoked": 0}
    assert [s.school for s in row.schools] == ["Ліцей «Ерудит»"]
    assert row.agreement_number and row.capability == OisCapability.RECEIVE
    assert svc.staff_may_decide(session=session, actor=admin)
    assert not svc.staff_may_decide(session=session, actor=f.actor(world.manager))


def _school_letters(session: Session, ois: Ois) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage)
            .where(
                EmailMessage.template == "ois_school_notice",
                EmailMessage.idempotency_key.like(f"ois-school-{ois.id}-%"),
            )
            .order_by(EmailMessage.to_address, EmailMessage.id)
        )
    )


def test_suspension_and_disconnection_tell_the_directors_of_the_schools_with_active_grants(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    other = of.connected_ois(session, reviewer=world.reviewer)
    # A school with a director (and a deputy, never told); one without a director (its official address);
    # one whose grant was revoked earlier; one whose grant is to another ОІС.
    lyceum, lyceum_account = _school(session, world, "Ліцей «Сузір'я»")
    director = f.person(session, lyceum_account, role=PersonRole.DIRECTOR, email="director@lyceum.example.ua")
    deputy = f.person(session, lyceum_account, role=PersonRole.DEPUTY, email="deputy@lyceum.example.ua")
    gymnasium, gymnasium_account = _school(session, world, "Гімназія без керівника")
    gymnasium.official_email = "office@gymnasium.example.ua"
    revoked_school, revoked_account = _school(session, world, "Школа, що відкликала доступ")
    f.person(session, revoked_account, role=PersonRole.DIRECTOR, email="revoked@school.example.ua")
    elsewhere, elsewhere_account = _school(session, world, "Школа іншої ОІС")
    f.person(session, elsewhere_account, role=PersonRole.DIRECTOR, email="elsewhere@school.example.ua")
    lyceum_grant = of.grant(session, ois, lyceum, of.api_key(session, lyceum_account))
    gymnasium_grant = of.grant(session, ois, gymnasium, of.api_key(session, gymnasium_account))
    old = of.grant(session, ois, revoked_school, of.api_key(session, revoked_account))
    old.state, old.revoked_at = GrantState.REVOKED, NOW - timedelta(days=3)
    of.grant(session, other, elsewhere, of.api_key(session, elsewhere_account))
    session.flush()

    reason = "Інцидент безпеки: витік ключів"
    _decide(session, signing_pki, trust, world.admin, ois, OisAction.SUSPEND, reason)
    letters = _school_letters(session, ois)
    assert [(m.to_address, m.variables["school_name"]) for m in letters] == [
        ("director@lyceum.example.ua", "Ліцей «Сузір'я»"),
        ("office@gymnasium.example.ua", "Гімназія без керівника"),
    ]
    assert letters[0].variables["recipient_name"] == director.full_name
    assert letters[1].variables["recipient_name"] == "Керівнику закладу"
    assert deputy.email not in [m.to_address for m in letters]
    letter = render("ois_school_notice", letters[0].variables)
    assert letter.subject == f"АІКОМ: ОІС «{ois.system_name}» — роботу зупинено"
    assert f"Шановна(ий) {director.full_name}!" in letter.text
    assert (
        f"Заклад освіти «Ліцей «Сузір'я»» надав доступ до своїх даних ОІС «{ois.system_name}»" in letter.text
    )
    assert (
        f"Причина: {reason}" in letter.text and f"Доступ вашого закладу: №{lyceum_grant.id}." in letter.text
    )
    assert "Доступ вашого закладу збережено" in letter.text and "/ois-access" in letter.text
    assert (
        f"Доступ вашого закладу: №{gymnasium_grant.id}."
        in render("ois_school_notice", letters[1].variables).text
    )

    # Reinstated, then disconnected: each affected school is told once more, that its grant is revoked.
    later = NOW + timedelta(minutes=5)
    _decide(session, signing_pki, trust, world.admin, ois, OisAction.REINSTATE, "Усунуто", at=later)
    assert len(_school_letters(session, ois)) == 2
    _decide(
        session, signing_pki, trust, world.admin, ois, OisAction.DISCONNECT, "Договір розірвано", at=later
    )
    told = [m for m in _school_letters(session, ois) if m.id not in {x.id for x in letters}]
    assert sorted(m.to_address for m in told) == ["director@lyceum.example.ua", "office@gymnasium.example.ua"]
    assert {m.variables["subject"] for m in told} == {"підключення припинено, доступ закладу відкликано"}
    text = render("ois_school_notice", told[0].variables).text
    assert "Причина: Договір розірвано" in text and "Доступ вашого закладу до цієї ОІС відкликано" in text


def test_a_suspension_without_active_grants_tells_no_school(
    session: Session, world: World, signing_pki: SigningPki, trust: TrustList
) -> None:
    ois = of.connected_ois(session, reviewer=world.reviewer)
    _decide(session, signing_pki, trust, world.admin, ois, OisAction.SUSPEND, "Планова перевірка")
    assert _school_letters(session, ois) == []
    assert [e.variables["subject"] for e in _emails(session, ois)] == ["роботу зупинено"]
