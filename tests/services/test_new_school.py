"""The new-school process's registry findings on real register rows, and its start's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError, ValidationFailed
from aikom.models import (
    Account,
    EmailMessage,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    Process,
    ProcessState,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
)
from aikom.processes.new_school import NewSchoolParams
from aikom.services.new_school import (
    EdrpouBadCheckDigit,
    EdrpouIsActiveSchool,
    NewSchoolAlreadyRequested,
    NewSchoolFindings,
    NotEducationBodyAdmin,
    RequestOutOfScope,
    start_new_school,
    verify_new_school,
)
from aikom.services.support import file_request
from tests import factories as f
from tests.imports.helpers import (
    BERDIANSK_HROMADA,
    REGISTER,
    import_fixture_katottg,
    import_fixture_schools,
    unit_by,
)

LIQUIDATED = Path(__file__).resolve().parents[1] / "fixtures" / "new_school" / "export-liquidated.csv"
# Real codes of the ЄДЕБО register: Бердянська ЗОШ № 3 (not in the excerpt), Травнева ЗОШ (liquidated per
# the ЄДЕБО export), Дівнинська ЗОШ (an active school of the excerpt).
NOT_IN_EXCERPT = "26338854"
LIQUIDATED_CODE = "26372905"
ACTIVE_SCHOOL = "26251461"
BAD_CHECK_DIGIT = "26338855"
BERDIANSK_NO3 = (
    "Бердянська загальноосвітня школа І-ІІІ ступенів № 3 Бердянської міської ради Запорізької області"
)


@pytest.fixture
def excerpt(session: Session) -> Session:
    """The fixture codifier, the ЄДЕБО register excerpt and a liquidated school imported."""
    import_fixture_katottg(session)
    import_fixture_schools(session, REGISTER)
    import_fixture_schools(session, LIQUIDATED)
    return session


def _hromada_admin(session: Session) -> Person:
    hromada = unit_by(session, katottg=BERDIANSK_HROMADA)
    return f.person(session, f.account(session, hromada), role=PersonRole.HROMADA_ADMIN)


def _verify(
    session: Session, edrpou: str, name: str = BERDIANSK_NO3, settlement: str = "м. Бердянськ"
) -> NewSchoolFindings:
    hromada = unit_by(session, katottg=BERDIANSK_HROMADA)
    return verify_new_school(
        session=session, edrpou=edrpou, name=name, settlement=settlement, requesting_unit_id=hromada.id
    )


def _params(edrpou: str, **extra: object) -> NewSchoolParams:
    return NewSchoolParams.model_validate(
        {"edrpou": edrpou, "name": BERDIANSK_NO3, "settlement": "м. Бердянськ", **extra}
    )


def test_a_valid_code_not_in_the_register_is_free_and_alike_schools_are_ranked(excerpt: Session) -> None:
    findings = _verify(excerpt, NOT_IN_EXCERPT)
    assert findings.edrpou_valid and findings.blocking is None
    assert findings.active_unit is None and findings.former_units == []
    # ЄДЕБО: the school № 7 of the same city first (alike name, same settlement); schools of other villages
    # whose names share only the common words fall below the threshold.
    names = [m.unit.name for m in findings.edebo_matches]
    assert names[0].startswith("Бердянська загальноосвітня школа І-ІІІ ступенів № 7")
    assert findings.edebo_matches[0].same_settlement and findings.edebo_matches[0].score > 90
    assert not any(n.startswith("Дівнинська") for n in names)
    # КАТОТТГ: the settlement lies in the Бердянська hromada.
    assert findings.settlement_unit is not None and findings.settlement_unit.name.startswith("Бердянськ")
    rows = dict(map(tuple, findings.rows()))  # type: ignore[arg-type]
    assert rows["ЄДРПОУ: формат і контрольна цифра"] == "правильні"
    assert rows["ЄДРПОУ серед чинних одиниць АІКОМ"] == "немає (код вільний)"


def test_edebo_matches_are_ranked_by_name_and_settlement(excerpt: Session) -> None:
    name = "Дівнинська загальноосвітня школа І-ІІІ ступенів Олександрівської сільської ради"
    findings = _verify(excerpt, NOT_IN_EXCERPT, name=name, settlement="с. Дівнинське")
    ranked = [(m.unit.name.split()[0], m.same_settlement) for m in findings.edebo_matches]
    # The two Дівнинські schools of the excerpt first (same village), the likest name of them at the top.
    assert ranked[:2] == [("Дівнинська", True), ("Дівнинська", True)]
    assert findings.edebo_matches[0].unit.name.startswith("Дівнинська загальноосвітня школа")
    scores = [m.score for m in findings.edebo_matches]
    assert scores == sorted(scores, reverse=True)
    assert all(not same for _, same in ranked[2:])


def test_a_code_of_a_liquidated_school_is_shown_with_it(excerpt: Session) -> None:
    findings = _verify(excerpt, LIQUIDATED_CODE, name="Травнева гімназія", settlement="с. Травневе")
    assert findings.edrpou_valid and findings.active_unit is None
    assert [(u.name[:8], u.status) for u in findings.former_units] == [
        ("Травнева", OrgStatus.LIQUIDATED.value)
    ]
    rows = dict(map(tuple, findings.rows()))  # type: ignore[arg-type]
    assert "Травнева загальноосвітня школа" in rows["Ліквідовані / реорганізовані з цим кодом"]
    assert "ліквідовано" in rows["Ліквідовані / реорганізовані з цим кодом"]


def test_a_bad_check_digit_is_said_on_the_screen(excerpt: Session) -> None:
    findings = _verify(excerpt, BAD_CHECK_DIGIT)
    assert not findings.edrpou_valid
    assert findings.blocking is not None and "контрольну цифру" in findings.blocking
    rows = dict(map(tuple, findings.rows()))  # type: ignore[arg-type]
    assert rows["ЄДРПОУ: формат і контрольна цифра"].startswith("ПОМИЛКА — Код ЄДРПОУ")


def test_a_code_of_an_active_school_names_it(excerpt: Session) -> None:
    findings = _verify(excerpt, ACTIVE_SCHOOL)
    assert findings.active_unit is not None and findings.active_unit.name.startswith("Дівнинська")
    assert findings.blocking is not None and "Дівнинська" in findings.blocking


def test_the_start_opens_a_support_request_linked_to_the_process(excerpt: Session) -> None:
    admin = _hromada_admin(excerpt)
    process = start_new_school(
        session=excerpt,
        actor=f.actor(admin),
        params=_params(NOT_IN_EXCERPT, comment="Новий заклад з 1 вересня"),
    )
    assert process.state == ProcessState.STARTING
    request = excerpt.scalars(select(SupportRequest).where(SupportRequest.process_id == process.id)).one()
    assert (request.type, request.state, request.edrpou) == (
        SupportRequestType.NEW_SCHOOL,
        SupportRequestState.NEW,
        NOT_IN_EXCERPT,
    )
    assert request.requester_person_id == admin.id and request.org_unit_id == admin.org_unit_id
    assert process.parameters["support_request_id"] == request.id
    acks = excerpt.scalars(
        select(EmailMessage.to_address).where(EmailMessage.template == "support_reply")
    ).all()
    assert admin.email in acks


def test_the_start_refuses_a_bad_check_digit_naming_the_field(excerpt: Session) -> None:
    admin = _hromada_admin(excerpt)
    with pytest.raises(EdrpouBadCheckDigit) as refused:
        start_new_school(session=excerpt, actor=f.actor(admin), params=_params(BAD_CHECK_DIGIT))
    assert refused.value.field == "edrpou"
    assert refused.value.message_uk.startswith("Код ЄДРПОУ: «26338855» має неправильну контрольну цифру")
    with pytest.raises(ValidationFailed, match="рівно 8 цифр"):
        start_new_school(session=excerpt, actor=f.actor(admin), params=_params("2633885"))


def test_the_start_refuses_a_code_of_an_active_school_naming_it(excerpt: Session) -> None:
    admin = _hromada_admin(excerpt)
    with pytest.raises(EdrpouIsActiveSchool, match="Дівнинська загальноосвітня школа"):
        start_new_school(session=excerpt, actor=f.actor(admin), params=_params(ACTIVE_SCHOOL))
    # Nothing recorded for this requester (the shared database may hold other tests' processes).
    mine = select(Process).where(Process.type == "new-school", Process.requester_person_id == admin.id)
    assert excerpt.scalars(mine).first() is None


def test_the_start_refuses_a_wrong_role_and_a_request_out_of_scope(excerpt: Session) -> None:
    # A school of the excerpt with no account yet (another test of this database may have given one).
    school = excerpt.scalars(
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.SCHOOL, ~exists().where(Account.org_unit_id == OrgUnit.id))
        .order_by(OrgUnit.id)
    ).first()
    assert school is not None
    director = f.person(excerpt, f.account(excerpt, school), role=PersonRole.DIRECTOR)
    with pytest.raises(NotEducationBodyAdmin, match="адміністратор органу управління освітою"):
        start_new_school(session=excerpt, actor=f.actor(director), params=_params(NOT_IN_EXCERPT))

    admin = _hromada_admin(excerpt)
    other = f.cascade(excerpt)["hromada"]
    stranger = f.person(excerpt, f.account(excerpt, other), role=PersonRole.HROMADA_ADMIN)
    foreign = SupportRequest(
        type=SupportRequestType.NEW_SCHOOL,
        subject="Новий заклад",
        body="…",
        requester_person_id=stranger.id,
        requester_email=stranger.email,
        org_unit_id=other.id,
        payload={},
    )
    excerpt.add(foreign)
    excerpt.flush()
    with pytest.raises(RequestOutOfScope, match=f"Звернення №{foreign.id}"):
        start_new_school(
            session=excerpt,
            actor=f.actor(admin),
            params=_params(NOT_IN_EXCERPT, support_request_id=foreign.id),
        )
    assert isinstance(RequestOutOfScope(1), DomainError)


def test_the_desk_starts_it_from_the_requesters_request_on_their_behalf(excerpt: Session) -> None:
    admin = _hromada_admin(excerpt)
    national = excerpt.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).first()
    assert national is not None
    agent = f.person(excerpt, f.account(excerpt, national), role=PersonRole.SUPPORT_AGENT)
    filed = file_request(
        session=excerpt,
        actor=f.actor(admin),
        type=SupportRequestType.NEW_SCHOOL,
        subject="Немає нашої школи",
        body=f"Школа № 3, ЄДРПОУ {NOT_IN_EXCERPT}",
    )
    process = start_new_school(
        session=excerpt,
        actor=f.actor(agent, on_behalf_of=admin),
        params=_params(NOT_IN_EXCERPT, support_request_id=filed.id),
    )
    assert process.requester_person_id == admin.id
    assert process.parameters["support_request_id"] == filed.id
    assert filed.process_id == process.id and filed.edrpou == NOT_IN_EXCERPT
    requests = excerpt.scalars(
        select(SupportRequest).where(SupportRequest.requester_person_id == admin.id)
    ).all()
    assert len(requests) == 1  # the request was used, not doubled
    with pytest.raises(NewSchoolAlreadyRequested, match=f"№ {process.id}"):
        start_new_school(session=excerpt, actor=f.actor(admin), params=_params(NOT_IN_EXCERPT))
