"""Branches: a hub's director asks, the managing ОУО confirms, the branch is created under the hub; every
refusal names the field and the rule, and changes nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError, RoleNotAllowed
from aikom.core.validation import validation_message_uk
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    AuditEntry,
    EmailMessage,
    KeyKind,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.processes.branch import BranchFacts, BranchParams
from aikom.services import branches
from aikom.services.appointments import PersonAlreadyInRole
from aikom.services.org import effective_edrpou
from tests import factories


@dataclass
class Hub:
    """A hub school (ЄДЕБО: «Опорний») managed by a hromada; its director, deputy and the hromada admin."""

    hromada: OrgUnit
    rayon: OrgUnit
    school: OrgUnit
    director: Person
    deputy: Person
    admin: Person


def _hub(session: Session, *, mark: str | None = "hub") -> Hub:
    units = factories.cascade(session, with_edrpou=True)
    school = units["school"]
    school.edebo_mark = mark
    session.flush()
    account = factories.account(session, school)
    director = factories.person(session, account, role=PersonRole.DIRECTOR, rnokpp=factories.rnokpp())
    deputy = factories.person(session, account, role=PersonRole.DEPUTY, appointed_by=director)
    admin = factories.person(
        session, factories.account(session, units["hromada"]), role=PersonRole.HROMADA_ADMIN
    )
    return Hub(units["hromada"], units["rayon"], school, director, deputy, admin)


def _edebo_id() -> str:
    return str(random.randrange(10**11, 10**12))


def _params(**fields: Any) -> BranchParams:
    data: dict[str, Any] = {"name": "Філія «Берізка»", "settlement": "с. Берізки"}
    data.update(fields)
    return BranchParams.model_validate(data)


def _with_edrpou(edrpou: str | None = None, rnokpp: str | None = None, **fields: Any) -> BranchParams:
    return _params(
        edrpou=edrpou or factories.edrpou(),
        official_email="bereza@osvita.example.org",
        head={
            "full_name": "Гнатюк Олена Петрівна",
            "rnokpp": rnokpp or factories.rnokpp(),
            "email": "hnatiuk@example.org",
            "position": "Завідувач філії",
        },
        **fields,
    )


def _start(session: Session, person: Person, params: BranchParams) -> Process:
    return branches.start_branch(session=session, actor=factories.actor(person), params=params)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refused(session: Session, person: Person, params: BranchParams, error: type[DomainError]) -> str:
    """Start and expect `error`; nothing is recorded. Its message."""
    before = (_count(session, Process), _count(session, OrgUnit), _count(session, AuditEntry))
    with pytest.raises(error) as refused:
        _start(session, person, params)
    assert (_count(session, Process), _count(session, OrgUnit), _count(session, AuditEntry)) == before
    return refused.value.message_uk


# --- what a start records ------------------------------------------------------------------------


def test_a_hubs_director_asks_for_a_branch_and_the_head_rnokpp_is_sealed(session: Session) -> None:
    hub = _hub(session)
    process = _start(session, hub.director, _with_edrpou())
    assert process.state == ProcessState.STARTING and process.subject_org_unit_id == hub.school.id
    facts = BranchFacts.model_validate(process.parameters)
    assert (facts.hub_id, facts.managing_body_id) == (hub.school.id, hub.hromada.id)
    assert facts.head is not None and facts.head_rnokpp_sealed and "rnokpp" not in process.parameters["head"]
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "branch.requested", AuditEntry.object_id == str(process.id)
        )
    ).one()
    assert entry.actor_person_id == hub.director.id
    # The approving ОУО admin is shown the request, never the head's РНОКПП.
    assert "rnokpp" not in str(facts.shown()).lower()


def test_a_school_with_branches_is_a_hub_without_the_registers_mark(session: Session) -> None:
    hub = _hub(session, mark=None)
    _refused(session, hub.director, _params(), branches.NotAHub)
    factories.org_unit(session, level=OrgLevel.BRANCH, parent=hub.school, oblast_id=hub.school.oblast_id)
    assert _start(session, hub.director, _params()).type == "branch"


def test_the_managing_ouo_confirms_or_the_ouo_above_when_it_has_no_active_admin(session: Session) -> None:
    hub = _hub(session)
    process = _start(session, hub.director, _params())
    assert branches.approver_scope(session=session, process_id=process.id) == (
        PersonRole.HROMADA_ADMIN,
        hub.hromada.id,
    )
    hub.admin.state = PersonState.INACTIVE
    session.flush()
    assert branches.approver_scope(session=session, process_id=process.id) == (
        PersonRole.RAYON_ADMIN,
        hub.rayon.id,
    )


# --- what a confirmed request creates ------------------------------------------------------------


def test_a_branch_without_edrpou_hangs_under_the_hub_and_signs_with_its_edrpou(session: Session) -> None:
    hub = _hub(session)
    edebo_id = _edebo_id()
    process = _start(session, hub.director, _params(edebo_id="000" + edebo_id))
    created = branches.create_branch(session=session, process_id=process.id)
    assert created.head_id is None and not created.account_opened
    branch = session.get_one(OrgUnit, created.branch_id)
    assert (branch.level, branch.parent_id, branch.managing_body_id, branch.oblast_id) == (
        OrgLevel.BRANCH,
        hub.school.id,
        hub.hromada.id,
        hub.school.oblast_id,
    )
    session.refresh(branch)
    assert branch.lineage[-2:] == [hub.school.id, branch.id]
    assert (branch.edrpou, branch.edebo_id, branch.settlement) == (None, edebo_id, "с. Берізки")
    assert effective_edrpou(session, branch) == hub.school.edrpou
    assert session.scalars(select(Account).where(Account.org_unit_id == branch.id)).first() is None
    # A retried step creates nothing twice.
    assert branches.create_branch(session=session, process_id=process.id).branch_id == branch.id
    assert _count_children(session, hub.school) == 1


def _count_children(session: Session, unit: OrgUnit) -> int:
    return int(session.scalar(select(func.count()).where(OrgUnit.parent_id == unit.id)) or 0)


def test_a_branch_with_edrpou_gets_an_account_keys_and_a_pending_head(session: Session) -> None:
    hub = _hub(session)
    edrpou = factories.edrpou()
    process = _start(session, hub.director, _with_edrpou(edrpou))
    created = branches.create_branch(session=session, process_id=process.id)
    assert created.head_id is not None and created.account_opened
    branch = session.get_one(OrgUnit, created.branch_id)
    assert branch.edrpou == edrpou and effective_edrpou(session, branch) == edrpou
    account = session.scalars(select(Account).where(Account.org_unit_id == branch.id)).one()
    assert account.state == AccountState.PENDING
    kinds = set(session.scalars(select(AccessKey.kind).where(AccessKey.account_id == account.id)))
    assert kinds == {KeyKind.BASE, KeyKind.API}
    head = session.get_one(Person, created.head_id)
    assert (head.role, head.state, head.org_unit_id, head.account_id) == (
        PersonRole.DIRECTOR,
        PersonState.PENDING,
        branch.id,
        account.id,
    )
    base_key_mail = session.scalars(
        select(EmailMessage).where(
            EmailMessage.template == "base_key_issued", EmailMessage.to_address == "bereza@osvita.example.org"
        )
    ).one()
    assert base_key_mail.secret_ciphertext is not None
    again = branches.create_branch(session=session, process_id=process.id)
    assert (again.branch_id, again.head_id) == (branch.id, head.id)
    assert len(session.scalars(select(Person).where(Person.org_unit_id == branch.id)).all()) == 1


def test_a_code_taken_while_the_ouo_decided_stops_the_creation(session: Session) -> None:
    hub = _hub(session)
    edrpou = factories.edrpou()
    process = _start(session, hub.director, _with_edrpou(edrpou))
    factories.org_unit(
        session, level=OrgLevel.SCHOOL, parent=hub.hromada, name="Гімназія-сусід", edrpou=edrpou
    )
    with pytest.raises(branches.BranchEdrpouTaken) as taken:
        branches.create_branch(session=session, process_id=process.id)
    assert "Гімназія-сусід" in taken.value.message_uk
    assert _count_children(session, hub.school) == 0


# --- refusals --------------------------------------------------------------------------------------


def test_a_deputy_may_not_create_a_branch(session: Session) -> None:
    hub = _hub(session)
    message = _refused(session, hub.deputy, _params(), branches.NotHubDirector)
    assert "заступник не може створити філію" in message
    _refused(session, hub.admin, _params(), branches.NotHubDirector)
    hub.director.state = PersonState.PENDING  # not signed in yet: no powers to use
    session.flush()
    assert "не активна" in _refused(session, hub.director, _params(), RoleNotAllowed)


def test_a_branch_has_no_branches(session: Session) -> None:
    hub = _hub(session)
    branch = factories.org_unit(
        session,
        level=OrgLevel.BRANCH,
        parent=hub.school,
        oblast_id=hub.school.oblast_id,
        edrpou=factories.edrpou(),
    )
    head = factories.person(session, factories.account(session, branch), role=PersonRole.DIRECTOR)
    message = _refused(session, head, _params(), branches.BranchUnderBranch)
    assert message.startswith("Опорний заклад:") and "не може мати власних філій" in message


def test_a_school_that_is_not_a_hub_creates_no_branch(session: Session) -> None:
    plain = _hub(session, mark=None)
    message = _refused(session, plain.director, _params(), branches.NotAHub)
    assert "не є опорним закладом" in message and "«Опорний»" in message
    marked_branch = _hub(session, mark="branch")
    assert "ЄДЕБО позначає його як філію" in _refused(
        session, marked_branch.director, _params(), branches.NotAHub
    )
    closed = _hub(session)
    closed.school.status = OrgStatus.LIQUIDATED
    session.flush()
    assert "не діє" in _refused(session, closed.director, _params(), branches.NotAHub)


def test_an_edrpou_of_another_active_unit_is_refused(session: Session) -> None:
    hub = _hub(session)
    other = factories.org_unit(
        session, level=OrgLevel.SCHOOL, parent=hub.hromada, name="Ліцей № 7", edrpou=factories.edrpou()
    )
    assert other.edrpou is not None and hub.school.edrpou is not None
    message = _refused(session, hub.director, _with_edrpou(other.edrpou), branches.BranchEdrpouTaken)
    assert message.startswith("ЄДРПОУ:") and "Ліцей № 7" in message
    own = _refused(session, hub.director, _with_edrpou(hub.school.edrpou), branches.BranchEdrpouTaken)
    assert "код самого опорного закладу" in own
    # A liquidated unit's code may live on in a new legal entity's branch.
    other.status = OrgStatus.LIQUIDATED
    session.flush()
    assert _start(session, hub.director, _with_edrpou(other.edrpou)).type == "branch"


def test_a_bad_edrpou_check_digit_or_format_names_the_field() -> None:
    good = factories.edrpou()
    bad = good[:7] + str((int(good[7]) + 1) % 10)
    with pytest.raises(ValidationError) as wrong_digit:
        _params(edrpou=bad)
    message = validation_message_uk(wrong_digit.value)
    assert message.startswith(f"ЄДРПОУ: «{bad}» має неправильну контрольну цифру (очікувалась {good[7]})")
    for typed, rule in (("1234567", "8 цифр"), ("12a45678", "8 цифр"), ("00000000", "заповнювач")):
        with pytest.raises(ValidationError) as refused:
            _params(edrpou=typed)
        assert rule in validation_message_uk(refused.value)
    with pytest.raises(ValidationError) as every_field:
        BranchParams.model_validate({"name": " ", "settlement": "", "edebo_id": "12-3"})
    text = validation_message_uk(every_field.value)
    assert "Назва: обов'язкове поле" in text and "Населений пункт: обов'язкове поле" in text
    assert "Код ЄДЕБО: лише цифри" in text
    assert _params(edrpou="  ", edebo_id="").edrpou is None


def test_an_edebo_id_already_used_is_refused(session: Session) -> None:
    hub = _hub(session)
    used = _edebo_id()
    factories.org_unit(
        session, level=OrgLevel.SCHOOL, parent=hub.hromada, name="Школа з кодом", edebo_id=used
    )
    message = _refused(session, hub.director, _params(edebo_id=used), branches.EdeboIdTaken)
    assert message.startswith("Код ЄДЕБО:") and "Школа з кодом" in message


def test_a_head_goes_with_an_own_edrpou_and_only_with_it(session: Session) -> None:
    hub = _hub(session)
    without = _with_edrpou().model_copy(update={"edrpou": None})
    assert _refused(session, hub.director, without, branches.HeadWithoutEdrpou).startswith("Керівник філії:")
    no_head = _params(edrpou=factories.edrpou(), official_email="b@example.org")
    assert _refused(session, hub.director, no_head, branches.HeadRequired).startswith("Керівник філії:")
    no_email = _with_edrpou().model_copy(update={"official_email": None})
    assert _refused(session, hub.director, no_email, branches.HeadRequired).startswith(
        "Офіційна електронна пошта:"
    )


def test_a_head_who_already_directs_a_school_is_refused(session: Session) -> None:
    hub = _hub(session)
    busy = factories.rnokpp()
    other = factories.org_unit(session, level=OrgLevel.SCHOOL, parent=hub.hromada, name="Ліцей № 9")
    factories.person(session, factories.account(session, other), role=PersonRole.DIRECTOR, rnokpp=busy)
    message = _refused(session, hub.director, _with_edrpou(rnokpp=busy), PersonAlreadyInRole)
    assert message.startswith("РНОКПП:") and "Ліцей № 9" in message


def test_the_same_branch_is_not_asked_for_twice_while_the_first_request_runs(session: Session) -> None:
    hub = _hub(session)
    edrpou, edebo_id = factories.edrpou(), _edebo_id()
    first = _start(session, hub.director, _with_edrpou(edrpou, edebo_id=edebo_id))
    by_code = _refused(
        session, hub.director, _with_edrpou(edrpou, name="Інша"), branches.BranchAlreadyRequested
    )
    assert by_code.startswith("ЄДРПОУ:") and f"№ {first.id}" in by_code
    by_edebo = _refused(
        session, hub.director, _params(name="Інша", edebo_id=edebo_id), branches.BranchAlreadyRequested
    )
    assert by_edebo.startswith("Код ЄДЕБО:")
    assert _refused(session, hub.director, _params(), branches.BranchAlreadyRequested).startswith("Назва:")
    first.state = ProcessState.REJECTED
    session.flush()
    assert _start(session, hub.director, _params()).type == "branch"
