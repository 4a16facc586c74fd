"""ОІС connection services on a real database with real КЕП signatures: the operator's registration, the
application's refusals, the review rules (own company, four-eyes), the conclusion, the connection."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.kep import TrustList
from aikom.core.kep.reasons import Purpose
from aikom.core.kep.verify import verify_detached
from aikom.core.pki import IssuedPerson
from aikom.mail.templates import render
from aikom.models import (
    Account,
    AccountState,
    Agreement,
    AgreementState,
    ApprovalTask,
    Decision,
    EmailMessage,
    Ois,
    OisCapability,
    OisConclusion,
    OisPhase,
    OisReview,
    OisState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ReviewRound,
    TaskState,
)
from aikom.processes import get_spec, screen_of
from aikom.processes.ois_connection import OisConnectionParams, SelfAssessmentItem
from aikom.services import approvals, queue
from aikom.services import ois_connection as oc
from aikom.services import ois_connection_views as views
from aikom.services.approvals import ApprovalRequest, StepHasOwnScreen
from aikom.services.processes import create_process
from aikom.services.queue import QueueFilters
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import get_settings
from tests import factories as f
from tests.signing import SigningPki, decide_signed, sign

AGREEMENT = "Договір про приєднання до АІКОМ. Сторона: ТОВ «Е-Журнал». Дата: 30.11.2026.".encode()
CHECKS = [c.code for c in oc.checklist()]
EXTENDED = [c.code for c in oc.checklist(ReviewRound.EXTENDED)]


@dataclass
class Operator:
    person: Person
    company: OrgUnit
    holder: IssuedPerson


@dataclass
class Institute:
    reviewer: Person
    approver: Person


def _register(session: Session, signing: SigningPki, trust: TrustList, edrpou: str, name: str) -> Operator:
    holder = signing.issue(name=name, edrpou=edrpou, rnokpp=f.rnokpp())
    challenge = issue_challenge(session=session, settings=get_settings())
    registration = oc.register_operator(
        session=session,
        settings=get_settings(),
        trust=trust,
        nonce=challenge.nonce,
        signature=sign(holder, challenge.content),
        email=f"operator{edrpou}@ejournal.example.org",
        company_name="ТОВ «Е-Журнал»",
    )
    return Operator(
        person=session.get_one(Person, registration.person_id),
        company=session.get_one(OrgUnit, registration.org_unit_id),
        holder=holder,
    )


@pytest.fixture
def institute(session: Session) -> Institute:
    units = f.cascade(session, with_edrpou=True)
    units["national"].edrpou = f.edrpou()
    account = f.account(session, units["national"])
    return Institute(
        reviewer=f.person(session, account, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp()),
        approver=f.person(session, account, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp()),
    )


@pytest.fixture
def operator(session: Session, signing_pki: SigningPki, trust: TrustList, institute: Institute) -> Operator:
    return _register(session, signing_pki, trust, f.edrpou(), "Петренко Олена Іванівна")


def _params(
    holder: IssuedPerson, *, content: bytes = AGREEMENT, signature: bytes | None = None
) -> OisConnectionParams:
    signature = sign(holder, content) if signature is None else signature
    return OisConnectionParams(
        system_name="Е-Журнал",
        site="https://ejournal.example.org",
        contact_name="Петренко Олена",
        contact_email="connect@ejournal.example.org",
        contact_phone="+380441234567",
        agreement_file_name="договір.pdf",
        agreement_base64=base64.b64encode(content).decode(),
        agreement_signature_base64=base64.b64encode(signature).decode(),
        self_assessment=[SelfAssessmentItem(code=c, met=True) for c in CHECKS],
    )


def _apply(session: Session, operator: Operator, trust: TrustList) -> tuple[Ois, Process]:
    process = oc.start_application(
        session=session, actor=f.actor(operator.person), params=_params(operator.holder), trust=trust
    )
    ois_id = process.parameters["ois_id"]
    return session.get_one(Ois, ois_id), process


def _open_step(
    session: Session, process: Process, step_key: str, roles: list[PersonRole], **extra: object
) -> int:
    """What the flow does at a human step (the flow itself is tested in tests/flows)."""
    task = approvals.create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key=step_key,
            title=step_key,
            allowed_roles=roles,
            due_business_days=5,
            **extra,  # type: ignore[arg-type]
        ),
    )
    return task.id


def _review(
    session: Session,
    signing: SigningPki,
    trust: TrustList,
    ois: Ois,
    reviewer: Person,
    failed: dict[str, str] | None = None,
    round_: ReviewRound = ReviewRound.CONNECTION,
) -> OisReview:
    failed = failed or {}
    codes = CHECKS if round_ == ReviewRound.CONNECTION else EXTENDED
    items = [oc.ReviewItemInput(code=c, passed=c not in failed, note=failed.get(c)) for c in codes]
    document = oc.review_document(session=session, ois_id=ois.id, actor=reviewer, items=items, round_=round_)
    signature = sign(signing.certificate_for(session, reviewer), document)
    return oc.submit_review(
        session=session, actor=reviewer, document=document, signature=signature, trust=trust
    )


def _count(session: Session, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(session.scalar(query) or 0)


# --- registration -----------------------------------------------------------------------------


def test_an_operator_registers_with_its_company_kep_and_then_signs_in(
    session: Session, signing_pki: SigningPki, trust: TrustList, operator: Operator
) -> None:
    company, person = operator.company, operator.person
    assert company.level == OrgLevel.OIS_COMPANY and company.name == "ТОВ «Е-Журнал»"
    national = session.get_one(OrgUnit, company.parent_id)
    assert national.level == OrgLevel.NATIONAL
    assert session.scalars(select(Account.state).where(Account.org_unit_id == company.id)).one() == (
        AccountState.ACTIVE
    )
    assert (person.role, person.state, person.full_name) == (
        PersonRole.OIS_OPERATOR,
        PersonState.ACTIVE,
        "Петренко Олена Іванівна",
    )

    # Signing in as usual with the same КЕП.
    challenge = issue_challenge(session=session, settings=get_settings())
    result = sign_in(
        session=session,
        settings=get_settings(),
        trust=trust,
        nonce=challenge.nonce,
        signature=sign(operator.holder, challenge.content),
        client_key="test-ois",
    )
    assert result.ok and result.person_id == person.id

    # A colleague of the same company: the company is found, not created again.
    colleague = _register(session, signing_pki, trust, company.edrpou or "", "Іваненко Петро")
    assert colleague.company.id == company.id
    # Registering twice is refused, naming the card.
    challenge = issue_challenge(session=session, settings=get_settings())
    with pytest.raises(oc.OperatorAlreadyRegistered, match=f"картка № {person.id}"):
        oc.register_operator(
            session=session,
            settings=get_settings(),
            trust=trust,
            nonce=challenge.nonce,
            signature=sign(operator.holder, challenge.content),
            email="again@example.org",
        )


def test_a_refused_registration_burns_its_challenge_and_counts_towards_the_limit(
    session: Session, signing_pki: SigningPki, trust: TrustList, institute: Institute
) -> None:
    settings = get_settings()
    client = f"test-reg-{f.edrpou()}"
    stranger = signing_pki.issue(name="Без Назви", edrpou=f.edrpou(), rnokpp=f.rnokpp())
    for _ in range(settings.signin_max_failures):
        challenge = issue_challenge(session=session, settings=settings)
        with pytest.raises(oc.RegistrationSignatureRefused), session.begin_nested():
            oc.register_operator(
                session=session,
                settings=settings,
                trust=trust,
                nonce=challenge.nonce,
                signature=sign(stranger, b"not the challenge"),
                email="x@example.org",
                company_name="ТОВ «Х»",
                client_key=client,
            )
        oc.registration_refused(session=session, nonce=challenge.nonce, client_key=client, reason="signature")
        with pytest.raises(oc.ChallengeNotUsable, match="його вже використано"):
            oc.register_operator(
                session=session,
                settings=settings,
                trust=trust,
                nonce=challenge.nonce,
                signature=sign(stranger, challenge.content),
                email="x@example.org",
                company_name="ТОВ «Х»",
            )
    challenge = issue_challenge(session=session, settings=settings)
    with pytest.raises(oc.RegistrationRateLimited, match="Забагато невдалих спроб"):
        oc.register_operator(
            session=session,
            settings=settings,
            trust=trust,
            nonce=challenge.nonce,
            signature=sign(stranger, challenge.content),
            email="x@example.org",
            company_name="ТОВ «Х»",
            client_key=client,
        )


def test_a_school_edrpou_is_not_an_operator_company(
    session: Session, signing_pki: SigningPki, trust: TrustList, institute: Institute
) -> None:
    school = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.SCHOOL, OrgUnit.edrpou.is_not(None))
        .order_by(OrgUnit.id.desc())
    ).first()
    assert school is not None and school.edrpou is not None
    with pytest.raises(oc.EdrpouBelongsToEducationUnit, match="не оператору ОІС"):
        _register(session, signing_pki, trust, school.edrpou, "Хтось Інший")


# --- the application's refusals ---------------------------------------------------------------


def test_an_unsigned_or_foreign_or_oversize_agreement_is_refused_and_nothing_is_written(
    session: Session, signing_pki: SigningPki, trust: TrustList, operator: Operator
) -> None:
    actor = f.actor(operator.person)
    stranger = signing_pki.issue(name="Чужа Компанія", edrpou=f.edrpou(), rnokpp=f.rnokpp())
    cases: list[tuple[OisConnectionParams, type[Exception], str]] = [
        (_params(operator.holder, signature=b""), oc.AgreementUnsigned, "додайте файл КЕП-підпису"),
        (
            _params(operator.holder, signature=sign(stranger, AGREEMENT)),
            oc.AgreementSignedByOtherCompany,
            "КЕП іншої юридичної особи",
        ),
        (
            _params(operator.holder, signature=sign(operator.holder, b"other text")),
            oc.AgreementSignatureInvalid,
            "Підпис договору про приєднання не прийнято",
        ),
        (
            _params(operator.holder, content=b"%PDF" + b"x" * oc.MAX_AGREEMENT_BYTES),
            oc.AgreementTooLarge,
            "більший за допустимі 5 МБ",
        ),
    ]
    for params, error, message in cases:
        with pytest.raises(error, match=message):
            oc.start_application(session=session, actor=actor, params=params, trust=trust)
    incomplete = _params(operator.holder)
    incomplete.self_assessment = incomplete.self_assessment[1:]
    with pytest.raises(oc.SelfAssessmentIncomplete, match=f"немає відповіді на вимоги {CHECKS[0]}"):
        oc.start_application(session=session, actor=actor, params=incomplete, trust=trust)
    assert _count(session, Ois, operator_org_unit_id=operator.company.id) == 0
    assert _count(session, Process, requester_person_id=operator.person.id) == 0


def test_only_an_operator_applies_and_only_once_per_system(
    session: Session, trust: TrustList, operator: Operator, institute: Institute
) -> None:
    with pytest.raises(oc.NotOisOperator):
        oc.start_application(
            session=session, actor=f.actor(institute.reviewer), params=_params(operator.holder), trust=trust
        )
    ois, process = _apply(session, operator, trust)
    assert (ois.state, ois.submission_count, ois.company_edrpou) == (
        OisState.IN_REVIEW,
        1,
        operator.company.edrpou,
    )
    agreement = session.scalars(select(Agreement).where(Agreement.ois_id == ois.id)).one()
    assert agreement.signer_edrpou == operator.company.edrpou and agreement.signature
    assert process.subject_org_unit_id == operator.company.id
    with pytest.raises(oc.ApplicationAlreadyLive, match="Е-Журнал"):
        _apply(session, operator, trust)


# --- review, resubmission, conclusion, agreement, connection ----------------------------------


def test_review_fix_resubmit_conclusion_and_four_eyes_agreement(
    session: Session, signing_pki: SigningPki, trust: TrustList, operator: Operator, institute: Institute
) -> None:
    ois, process = _apply(session, operator, trust)
    roles = [PersonRole.INSTITUTE_ADMIN]
    _open_step(session, process, "review-1", roles, excluded_person_id=operator.person.id)

    # Nobody of the applicant's own company reviews it.
    items = [oc.ReviewItemInput(code=c, passed=True) for c in CHECKS]
    with pytest.raises(oc.ReviewerFromApplicantCompany):
        oc.review_document(session=session, ois_id=ois.id, actor=operator.person, items=items)
    # A failed item needs a note.
    with pytest.raises(oc.ReviewItemsInvalid, match=f"{CHECKS[1]} не виконана"):
        oc.review_document(
            session=session,
            ois_id=ois.id,
            actor=institute.reviewer,
            items=[oc.ReviewItemInput(code=c, passed=c != CHECKS[1]) for c in CHECKS],
        )

    # 1. Review with a failed item → RETURNED, no conclusion.
    first = _review(
        session, signing_pki, trust, ois, institute.reviewer, {CHECKS[1]: "Ключі зберігаються відкрито"}
    )
    assert first.outcome.value == "failed" and first.submission_no == 1
    assert ois.state == OisState.RETURNED
    assert _count(session, OisConclusion, ois_id=ois.id) == 0
    review_task = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process.id, ApprovalTask.step_key == "review-1")
    ).one()
    assert (review_task.state, review_task.decision) == (TaskState.DECIDED, Decision.REJECT)
    assert oc.review_outcome(session=session, process_id=process.id, step_key="review-1") == "returned"
    mail = session.scalars(
        select(EmailMessage).where(EmailMessage.to_address == "connect@ejournal.example.org")
    ).one()
    assert mail.template == "ois_connection_notice"
    assert "Ключі зберігаються відкрито" in str(mail.variables)

    # 2. The operator fixes it and resubmits (a КЕП-signed confirmation) → submission 2, IN_REVIEW.
    _open_step(
        session, process, "resubmit-1", [PersonRole.OIS_OPERATOR],
        scope_org_unit_id=operator.company.id, decisions=[Decision.CONFIRM, Decision.REJECT],
    )  # fmt: skip
    document = oc.resubmit_document(
        session=session, ois_id=ois.id, actor=operator.person, comment="Виправлено"
    )
    signed = approvals.SignedPayload(
        document=document, signature=sign(signing_pki.certificate_for(session, operator.person), document)
    )
    oc.resubmit_application(
        session=session,
        ois_id=ois.id,
        actor=f.actor(operator.person),
        changes=oc.ApplicationChanges(site="https://new.ejournal.example.org", comment="Виправлено"),
        signed=signed,
        trust=trust,
    )
    assert (ois.state, ois.submission_count, ois.site) == (
        OisState.IN_REVIEW,
        2,
        "https://new.ejournal.example.org",
    )

    # 3. The second review passes: the conclusion is issued, numbered, dated, signed by the reviewer.
    _open_step(session, process, "review-2", roles, excluded_person_id=operator.person.id)
    second = _review(session, signing_pki, trust, ois, institute.reviewer)
    assert second.outcome.value == "passed" and second.submission_no == 2
    conclusion = session.scalars(select(OisConclusion).where(OisConclusion.ois_id == ois.id)).one()
    year = datetime.now(UTC).year
    assert conclusion.number.startswith(f"ВЗ-{year}-") and conclusion.signer_id == institute.reviewer.id
    assert [i["code"] for i in conclusion.findings] == CHECKS
    check = verify_detached(conclusion.signature, conclusion.document, trust=trust, purpose=Purpose.DECISION)
    assert check.ok and check.identity is not None and check.identity.edrpou != operator.company.edrpou
    assert "Висновок про відповідність Технічним вимогам" in conclusion.document.decode()
    history = session.scalars(
        select(OisReview.outcome).where(OisReview.ois_id == ois.id).order_by(OisReview.id)
    )
    assert [o.value for o in history] == ["failed", "passed"]

    # 4. The reviewer may not approve the agreement (four-eyes); another admin does, signed.
    step = _open_step(session, process, "agreement", roles, excluded_person_id=institute.reviewer.id)
    task = session.get_one(ApprovalTask, step)
    with pytest.raises(oc.ReviewerMayNotApproveAgreement, match="чотирьох очей"):
        oc.agreement_document(
            session=session, ois_id=ois.id, actor=institute.reviewer, decision=Decision.APPROVE, comment=None
        )
    own = approvals.decision_document(
        task=task, actor=institute.reviewer, decision=Decision.APPROVE, comment=None
    )
    with pytest.raises(oc.ReviewerMayNotApproveAgreement):
        oc.decide_agreement(
            session=session,
            ois_id=ois.id,
            actor=institute.reviewer,
            decision=Decision.APPROVE,
            comment=None,
            signed=approvals.SignedPayload(
                document=own, signature=sign(signing_pki.certificate_for(session, institute.reviewer), own)
            ),
            trust=trust,
        )
    document = oc.agreement_document(
        session=session, ois_id=ois.id, actor=institute.approver, decision=Decision.APPROVE, comment=None
    )
    oc.decide_agreement(
        session=session,
        ois_id=ois.id,
        actor=institute.approver,
        decision=Decision.APPROVE,
        comment=None,
        signed=approvals.SignedPayload(
            document=document,
            signature=sign(signing_pki.certificate_for(session, institute.approver), document),
        ),
        trust=trust,
    )

    # 5. Connected: receive from now, the agreement numbered and dated, a client id, the operator emailed.
    oc.connect(session=session, process_id=process.id, step_key="agreement")
    assert (ois.state, ois.capability) == (OisState.CONNECTED, OisCapability.RECEIVE)
    assert ois.client_id and ois.connected_at is not None
    agreement = session.scalars(
        select(Agreement).where(Agreement.ois_id == ois.id, Agreement.state == AgreementState.APPROVED)
    ).one()
    assert agreement.number and agreement.number.startswith(f"ДП-{year}-")
    assert agreement.agreement_date is not None and agreement.approved_by_id == institute.approver.id
    assert agreement.decision_id is not None
    phase = session.scalars(select(OisPhase).where(OisPhase.ois_id == ois.id)).one()
    assert phase.capability == OisCapability.RECEIVE and phase.review_id == second.id
    subjects = [
        m.variables["headline"]
        for m in session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == "connect@ejournal.example.org")
        )
    ]
    assert "ОІС підключено до АІКОМ" in subjects

    # 6. The operator's page shows it all; the conclusion downloads for the operator and the staff only.
    card = views.my_systems(session=session, person_id=operator.person.id)[0]
    assert card.state_label == "підключено" and card.agreement_number == agreement.number
    assert [r.outcome for r in card.reviews] == ["failed", "passed"]
    assert card.reviews[1].conclusion_number == conclusion.number
    for viewer in (operator.person, institute.approver):
        file = views.conclusion_file(session=session, viewer_id=viewer.id, conclusion_id=conclusion.id)
        assert file.document == conclusion.document
    director = session.scalars(select(Person).where(Person.role == PersonRole.DIRECTOR)).first()
    other_company = f.org_unit(
        session,
        level=OrgLevel.OIS_COMPANY,
        parent=session.get_one(OrgUnit, operator.company.parent_id),
        edrpou=f.edrpou(),
    )
    outsiders = [f.person(session, f.account(session, other_company), role=PersonRole.OIS_OPERATOR)]
    if director is not None:
        outsiders.append(director)
    for viewer in outsiders:
        with pytest.raises(oc.NotAllowedToSee):
            views.conclusion_file(session=session, viewer_id=viewer.id, conclusion_id=conclusion.id)
        with pytest.raises(oc.NotAllowedToSee):
            views.staff_applications(session=session, viewer_id=viewer.id)


def test_the_extended_review_is_for_a_connected_ois(
    session: Session, signing_pki: SigningPki, trust: TrustList, operator: Operator, institute: Institute
) -> None:
    ois, _ = _apply(session, operator, trust)
    with pytest.raises(oc.NotConnected, match="Розширена перевірка"):
        _review(session, signing_pki, trust, ois, institute.reviewer, round_=ReviewRound.EXTENDED)
    ois.state = OisState.CONNECTED
    ois.capability = OisCapability.RECEIVE
    session.flush()
    failed = _review(
        session, signing_pki, trust, ois, institute.reviewer, {EXTENDED[0]: "Немає журналу змін"},
        round_=ReviewRound.EXTENDED,
    )  # fmt: skip
    passed = _review(session, signing_pki, trust, ois, institute.reviewer, round_=ReviewRound.EXTENDED)
    assert [(r.round, r.outcome.value, r.submission_no) for r in (failed, passed)] == [
        (ReviewRound.EXTENDED, "failed", 1),
        (ReviewRound.EXTENDED, "passed", 2),
    ]
    assert ois.state == OisState.CONNECTED  # an extended review never changes the connection itself
    headlines = [
        m.variables["headline"]
        for m in session.scalars(
            select(EmailMessage)
            .where(EmailMessage.to_address == "connect@ejournal.example.org")
            .order_by(EmailMessage.id)
        )
    ]
    assert headlines == ["розширену перевірку не пройдено", "розширену перевірку пройдено"]
    assert _count(session, OisConclusion, ois_id=ois.id) == 0


# --- steps with a screen of their own -----------------------------------------------------------
# The review checklist, the agreement for a different admin and the operator's resubmission are never
# decided in the generic work queue: a decision there is refused with a message naming the page and the
# command, nothing is recorded; the queue row and the email about the step point to the right page («ОІС»,
# «Моя ОІС»), never to «Мої завдання».


def test_the_process_declares_which_steps_have_a_screen_of_their_own() -> None:
    spec = get_spec("ois-connection")
    for key in ("review-1", "review-3-2"):  # a review asked again keeps its screen
        screen = spec.screen_for(key)
        assert screen is not None and (screen.page, screen.page_title_uk) == ("ois", "ОІС"), key
        assert "aikom ois review" in screen.command_uk
    resubmit = screen_of("ois-connection", "resubmit-2")
    assert resubmit is not None and (resubmit.page, resubmit.page_title_uk) == ("my-ois", "Моя ОІС")
    assert "aikom ois resubmit" in resubmit.command_uk
    agreement = screen_of("ois-connection", "agreement")
    assert agreement is not None and agreement.page == "ois" and "aikom ois agreement" in agreement.command_uk
    # Steps of other processes stay in the generic queue.
    assert screen_of("director-replacement", "approve") is None
    assert screen_of("ois-connection", "reviewer") is None  # a prefix only when followed by «-N»


def test_a_review_step_is_refused_in_the_generic_queue_and_leaves_nothing(
    session: Session, signing_pki: SigningPki, trust: TrustList, institute: Institute, operator: Operator
) -> None:
    ois, process = _apply(session, operator, trust)
    task_id = _open_step(
        session, process, "review-1", [PersonRole.INSTITUTE_ADMIN], excluded_person_id=operator.person.id
    )
    for decision in (Decision.REJECT, Decision.APPROVE):
        with pytest.raises(StepHasOwnScreen) as refused:
            decide_signed(session, signing_pki, task_id=task_id, actor=institute.reviewer, decision=decision)
        message = refused.value.message_uk
        assert f"Завдання №{task_id}" in message
        assert (
            "на сторінці «ОІС» панелі АІКОМ" in message
            and f"{get_settings().public_url.rstrip('/')}/ois" in message
        )
        assert "`aikom ois review --document … --signature …`" in message
    task = session.get_one(ApprovalTask, task_id)
    assert (task.state, task.decision) == (TaskState.OPEN, None)
    assert session.get_one(type(ois), ois.id).state == OisState.IN_REVIEW
    assert session.scalars(select(OisReview).where(OisReview.ois_id == ois.id)).first() is None

    # The queue shows it with where it is decided; the review on its own screen decides the same task.
    row = next(
        r
        for r in queue.queue_page(session=session, actor=institute.reviewer, filters=QueueFilters()).rows
        if r.task_id == task_id
    )
    assert (row.screen_page, row.screen_title) == ("ois", "ОІС")
    assert row.screen_command is not None and "aikom ois review" in row.screen_command
    _review(session, signing_pki, trust, ois, institute.reviewer, {"TR-02": "Шифруйте ключі"})
    task = session.get_one(ApprovalTask, task_id)
    assert (task.state, task.decision, task.decided_by_id) == (
        TaskState.DECIDED,
        Decision.REJECT,
        institute.reviewer.id,
    )
    assert [
        r.outcome.value for r in session.scalars(select(OisReview).where(OisReview.ois_id == ois.id))
    ] == ["failed"]


def test_the_resubmit_step_emails_the_operator_a_link_to_my_ois(
    session: Session, signing_pki: SigningPki, trust: TrustList, institute: Institute, operator: Operator
) -> None:
    ois, process = _apply(session, operator, trust)
    _open_step(
        session, process, "review-1", [PersonRole.INSTITUTE_ADMIN], excluded_person_id=operator.person.id
    )
    _review(session, signing_pki, trust, ois, institute.reviewer, {"TR-02": "Шифруйте ключі"})
    task_id = _open_step(
        session,
        process,
        "resubmit-1",
        [PersonRole.OIS_OPERATOR],
        scope_org_unit_id=operator.company.id,
        decisions=[Decision.CONFIRM],
    )
    [message] = session.scalars(
        select(EmailMessage).where(
            EmailMessage.idempotency_key == f"approval-task-{task_id}-person-{operator.person.id}"
        )
    ).all()
    assert message.template == "approval_requested" and message.to_address == operator.person.email
    base = get_settings().public_url.rstrip("/")
    assert (message.variables["link"], message.variables["page_title"]) == (f"{base}/my-ois", "Моя ОІС")
    rendered = render("approval_requested", message.variables)
    assert "на сторінці «Моя ОІС» панелі АІКОМ" in rendered.text and f"{base}/my-ois" in rendered.text
    assert "/tasks" not in rendered.text and "/tasks" not in rendered.html

    # Confirming it in the generic queue is refused; the operator resubmits on «Моя ОІС» (or the CLI).
    with pytest.raises(StepHasOwnScreen) as refused:
        decide_signed(session, signing_pki, task_id=task_id, actor=operator.person, decision=Decision.CONFIRM)
    assert "«Моя ОІС»" in refused.value.message_uk and "aikom ois resubmit" in refused.value.message_uk
    assert session.get_one(ApprovalTask, task_id).state == TaskState.OPEN
    assert session.get_one(type(ois), ois.id).state == OisState.RETURNED


def test_a_step_of_the_generic_queue_still_links_to_the_queue(session: Session, institute: Institute) -> None:
    from tests import factories as f

    process = create_process(
        session=session,
        type="director-replacement",
        actor=f.actor(institute.reviewer),
        subject_org_unit_id=institute.reviewer.org_unit_id,
        title="Заміна керівника",
    )
    task = approvals.create_task(
        session=session,
        request=approvals.ApprovalRequest(
            process_id=process.id,
            step_key="approve",
            title="Погодити",
            allowed_roles=[PersonRole.INSTITUTE_ADMIN],
            excluded_person_id=institute.reviewer.id,
            due_business_days=5,
        ),
    )
    fields = approvals.task_email_fields(session, task, institute.approver)
    assert fields["link"].endswith(f"/tasks?task={task.id}") and fields["page_title"] == "Мої завдання"
