"""Director replacement rules, without the engine: who may start, who approves, what changes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.errors import NotInScope, RoleNotAllowed
from aikom.core.kep import TrustList
from aikom.core.validation import validation_message_uk
from aikom.mail.templates import render
from aikom.models import (
    AccessKey,
    AccountState,
    ApprovalTask,
    AuditEntry,
    Decision,
    EmailMessage,
    OrgUnit,
    PersonRole,
    PersonState,
    Process,
    TaskState,
)
from aikom.models.account import Account, Person
from aikom.processes.director_replacement import DirectorReplacementParams
from aikom.services import approvals, directors
from aikom.services.approvals import FIRST_SIGNIN_STEP, ApprovalRequest, SelfApprovalForbidden
from aikom.services.directors import ReplacementAlreadyRunning, SameDirector
from aikom.services.keys import issue_account_keys
from aikom.services.persons import PersonData, create_person, read_rnokpp
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import Settings
from tests import factories as f
from tests.signing import SigningPki, decide_signed

SCHOOL_EDRPOU = "20077720"
NEW_RNOKPP = "2345678902"
OLD_RNOKPP = "1234567899"


def _admin(session: Session, acc: Account, name: str, rnokpp: str) -> Person:
    return create_person(
        session=session,
        account=acc,
        role=PersonRole.HROMADA_ADMIN,
        state=PersonState.ACTIVE,
        data=PersonData(full_name=name, email=f"{rnokpp}@example.org", rnokpp=rnokpp),
        actor_label="test",
    )


@pytest.fixture
def world(session: Session) -> dict[str, object]:
    units = f.cascade(session)
    school = units["school"]
    school.edrpou = SCHOOL_EDRPOU
    school.managing_body_id = units["hromada"].id
    hromada_acc = f.account(session, units["hromada"])
    admin_1 = _admin(session, hromada_acc, "Поліщук Світлана", "3000000008")
    school_acc = f.account(session, school)
    keys = issue_account_keys(session=session, account=school_acc, actor_label="test")
    old = create_person(
        session=session,
        account=school_acc,
        role=PersonRole.DIRECTOR,
        state=PersonState.ACTIVE,
        data=PersonData(full_name="Старий Директор", email="old@example.org", rnokpp=OLD_RNOKPP),
        actor_label="test",
    )
    deputy = create_person(
        session=session,
        account=school_acc,
        role=PersonRole.DEPUTY,
        state=PersonState.ACTIVE,
        data=PersonData(full_name="Заступник Перший", email="dep@example.org", rnokpp="3000001007"),
        actor_label="test",
        appointed_by_id=old.id,
    )
    return {
        "units": units,
        "school": school,
        "admin_1": admin_1,
        "hromada_acc": hromada_acc,
        "old": old,
        "deputy": deputy,
        "keys": keys,
        "school_acc": school_acc,
    }


def _new_director(**overrides: object) -> dict[str, Any]:
    data: dict[str, Any] = {
        "full_name": "Нова Директорка Оксана",
        "rnokpp": NEW_RNOKPP,
        "email": "new@example.org",
        "order_no": "15-к",
        "order_date": date(2026, 11, 1),
    }
    data.update(overrides)
    return data


def _form(school: str = SCHOOL_EDRPOU, **overrides: object) -> DirectorReplacementParams:
    return DirectorReplacementParams.model_validate(
        {"school": school, "new_director": _new_director(**overrides)}
    )


def _start(session: Session, actor: Person, school: str = SCHOOL_EDRPOU, **overrides: object) -> Process:
    return directors.start_replacement(
        session=session, actor=f.actor(actor), params=_form(school, **overrides)
    )


def _processes_of(session: Session, school: OrgUnit) -> list[Process]:
    return list(session.scalars(select(Process).where(Process.subject_org_unit_id == school.id)))


def test_start_creates_the_process_without_clear_rnokpp(session: Session, world: dict) -> None:
    process = _start(session, world["admin_1"])
    assert process.parameters["new_director"]["full_name"] == "Нова Директорка Оксана"
    assert NEW_RNOKPP not in str(process.parameters)
    assert process.parameters["former_director_id"] == world["old"].id
    assert process.title == f"Заміна керівника закладу освіти: {world['school'].name}"
    assert (process.requester_person_id, process.started_by_id) == (world["admin_1"].id, world["admin_1"].id)
    # The school may be named by its number as well as by its ЄДРПОУ.
    assert directors.facts_of(process).school_id == world["school"].id


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        ({"email": "not-an-email"}, "Електронна пошта"),
        ({"rnokpp": "1234567890"}, "РНОКПП"),
        ({"full_name": "Я"}, "ПІБ"),
        ({"order_no": " "}, "Номер наказу"),
        ({"order_date": date.today() + timedelta(days=3)}, "Дата наказу"),
    ],
)
def test_bad_form_names_the_field_and_changes_nothing(
    session: Session, world: dict, overrides: dict, label: str
) -> None:
    with pytest.raises(ValidationError) as error:
        _form(**overrides)
    message = validation_message_uk(error.value)
    assert message.startswith(f"{label}: ") and ";" not in message  # that field only
    assert _processes_of(session, world["school"]) == []


def test_every_missing_field_of_the_new_director_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as error:
        DirectorReplacementParams.model_validate({"school": SCHOOL_EDRPOU, "new_director": {}})
    message = validation_message_uk(error.value)
    for label in ("ПІБ", "РНОКПП", "Електронна пошта", "Номер наказу", "Дата наказу"):
        assert f"{label}: обов'язкове поле" in message


@pytest.mark.parametrize("name", ["[Іван Петренко](https://evil.example)", "Іван Петренко 2", "**Іван**"])
def test_a_name_with_markup_or_digits_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        _form(full_name=name)
    assert validation_message_uk(error.value) == "ПІБ: лише літери, апостроф, дефіс, пробіл і крапка."


def test_only_the_managing_ouo_may_start(session: Session, world: dict) -> None:
    other_hromada = f.org_unit(session, level=world["units"]["hromada"].level, parent=world["units"]["rayon"])
    stranger = _admin(session, f.account(session, other_hromada), "Чужий Адмін", "3000002006")
    with pytest.raises(NotInScope):
        _start(session, stranger)
    with pytest.raises(RoleNotAllowed):
        _start(session, world["deputy"])
    assert _processes_of(session, world["school"]) == []


def test_the_support_desk_starts_it_on_the_managing_admins_behalf(session: Session, world: dict) -> None:
    agent = f.person(session, f.account(session, world["units"]["national"]), role=PersonRole.SUPPORT_AGENT)
    admin = world["admin_1"]

    process = directors.start_replacement(
        session=session, actor=f.actor(agent, on_behalf_of=admin), params=_form()
    )

    assert (process.requester_person_id, process.started_by_id) == (admin.id, agent.id)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "director_replacement.started", AuditEntry.object_id == str(process.id)
        )
    ).one()
    assert (entry.actor_person_id, entry.actor_label) == (agent.id, agent.full_name)
    assert entry.details["on_behalf_of"] == admin.id
    assert entry.details["on_behalf_of_label"] == admin.full_name
    # The approval step as the flow opens it: neither the requester nor the agent may decide it.
    colleague = _admin(session, world["hromada_acc"], "Савченко Петро", "3000003005")
    role, unit = directors.approver_scope(session, process)
    assert (role, unit) == (PersonRole.HROMADA_ADMIN, world["units"]["hromada"].id)
    task = approvals.create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key="approve",
            title="Погодити заміну керівника",
            allowed_roles=[role],
            scope_org_unit_id=unit,
            excluded_person_id=process.requester_person_id,
            due_business_days=5,
        ),
    )
    with pytest.raises(SelfApprovalForbidden):
        approvals.check_may_decide(session=session, task=task, actor=admin, decision=Decision.APPROVE)
    with pytest.raises(RoleNotAllowed):
        approvals.check_may_decide(session=session, task=task, actor=agent, decision=Decision.APPROVE)
    approvals.check_may_decide(session=session, task=task, actor=colleague, decision=Decision.APPROVE)


def test_one_replacement_at_a_time_and_not_the_same_person(session: Session, world: dict) -> None:
    with pytest.raises(SameDirector):
        _start(session, world["admin_1"], rnokpp=OLD_RNOKPP)
    _start(session, world["admin_1"], school=str(world["school"].id))
    with pytest.raises(ReplacementAlreadyRunning):
        _start(session, world["admin_1"])


def test_approver_is_another_admin_of_the_ouo_else_the_parent(session: Session, world: dict) -> None:
    process = _start(session, world["admin_1"])
    role, unit = directors.approver_scope(session, process)
    assert (role, unit) == (PersonRole.RAYON_ADMIN, world["units"]["rayon"].id)
    _admin(session, world["hromada_acc"], "Савченко Петро", "3000003005")
    role, unit = directors.approver_scope(session, process)
    assert (role, unit) == (PersonRole.HROMADA_ADMIN, world["units"]["hromada"].id)


def test_apply_replaces_persons_keeps_keys_and_is_idempotent(session: Session, world: dict) -> None:
    process = _start(session, world["admin_1"])
    keys_before = session.scalars(
        select(
            AccessKey.public_id,
        ).where(AccessKey.account_id == world["school_acc"].id)
    ).all()
    new_id = directors.apply_replacement(session=session, process_id=process.id)
    assert directors.apply_replacement(session=session, process_id=process.id) == new_id
    old, new = world["old"], session.get(Person, new_id)
    session.refresh(old)
    assert old.state == PersonState.INACTIVE and old.is_former
    assert new is not None and new.state == PersonState.PENDING and read_rnokpp(new) == NEW_RNOKPP
    assert new.appointment_order_no == "15-к"
    mails = session.scalars(select(EmailMessage).where(EmailMessage.to_address == "new@example.org")).all()
    assert [m.template for m in mails] == ["person_appointed"]
    task = session.scalars(select(ApprovalTask).where(ApprovalTask.process_id == process.id)).one()
    assert (task.step_key, task.assignee_person_id, task.state) == (FIRST_SIGNIN_STEP, new_id, TaskState.OPEN)
    assert (
        session.scalars(
            select(AccessKey.public_id).where(AccessKey.account_id == world["school_acc"].id)
        ).all()
        == keys_before
    )
    assert session.get(Account, world["school_acc"].id).state == AccountState.ACTIVE  # type: ignore[union-attr]


def test_first_sign_in_of_the_new_director_closes_the_step(
    session: Session, world: dict, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    pki.init(settings.pki_dir)
    process = _start(session, world["admin_1"])
    new_id = directors.apply_replacement(session=session, process_id=process.id)
    cert = pki.issue_person(
        settings.pki_dir, name="Нова Директорка", edrpou=SCHOOL_EDRPOU, rnokpp=NEW_RNOKPP, title="Директор"
    )
    challenge = issue_challenge(session=session, settings=settings)
    result = sign_in(
        session=session,
        settings=settings,
        trust=TrustList.load(pki.trust_dir(settings.pki_dir)),
        nonce=challenge.nonce,
        client_key="t",
        signature=pki.sign_detached(cert.key, cert.certificate, challenge.content),
    )
    assert result.ok and result.activated and result.person_id == new_id
    task = session.scalars(select(ApprovalTask).where(ApprovalTask.process_id == process.id)).one()
    assert result.decided_task_ids == (task.id,)
    assert task.state == TaskState.DECIDED and task.decided_by_id == new_id


def test_deputies_of_the_former_director_are_reviewed(session: Session, world: dict) -> None:
    other = create_person(
        session=session,
        account=world["school_acc"],
        role=PersonRole.DEPUTY,
        state=PersonState.ACTIVE,
        data=PersonData(full_name="Заступник Другий", email="dep2@example.org", rnokpp="3000004004"),
        actor_label="test",
        appointed_by_id=world["old"].id,
    )
    process = _start(session, world["admin_1"])
    new_id = directors.apply_replacement(session=session, process_id=process.id)
    reviewed = directors.open_deputy_reviews(session=session, process_id=process.id)
    assert [p.id for p in reviewed] == [world["deputy"].id, other.id]
    steps = session.scalars(
        select(ApprovalTask.step_key).where(
            ApprovalTask.process_id == process.id, ApprovalTask.assignee_person_id == new_id
        )
    ).all()
    assert set(steps) == {FIRST_SIGNIN_STEP, f"deputy-{world['deputy'].id}", f"deputy-{other.id}"}
    directors.apply_deputy_decision(
        session=session, process_id=process.id, deputy_id=world["deputy"].id, keep=True
    )
    directors.apply_deputy_decision(session=session, process_id=process.id, deputy_id=other.id, keep=False)
    session.refresh(world["deputy"])
    session.refresh(other)
    assert world["deputy"].state == PersonState.ACTIVE and world["deputy"].appointed_by_id == new_id
    assert other.state == PersonState.INACTIVE


def test_a_school_without_an_account_cannot_have_its_director_replaced(session: Session, world: dict) -> None:
    other = f.org_unit(
        session,
        level=world["school"].level,
        parent=world["units"]["hromada"],
        edrpou=f.edrpou(),
        managing_body_id=world["units"]["hromada"].id,
    )
    with pytest.raises(directors.SchoolWithoutAccount) as refused:
        _start(session, world["admin_1"], school=str(other.id))
    assert "облікового запису" in refused.value.message_uk
    listed = [s.id for s in directors.managed_schools(session=session, actor=world["admin_1"])]
    assert world["school"].id in listed and other.id not in listed


def test_the_outcome_emails_tell_each_person_what_changed_and_never_a_full_rnokpp(
    session: Session, world: dict, signing_pki: SigningPki
) -> None:
    kept, dropped = (
        world["deputy"],
        create_person(
            session=session,
            account=world["school_acc"],
            role=PersonRole.DEPUTY,
            state=PersonState.ACTIVE,
            data=PersonData(full_name="Заступник Другий", email="dep2@example.org", rnokpp="3000004004"),
            actor_label="test",
            appointed_by_id=world["old"].id,
        ),
    )
    process = _start(session, world["admin_1"])
    new = session.get_one(Person, directors.apply_replacement(session=session, process_id=process.id))
    new.state = PersonState.ACTIVE  # the first КЕП sign-in
    approvals.confirm_first_signin(session=session, person=new)
    directors.open_deputy_reviews(session=session, process_id=process.id)
    for deputy, decision in ((kept, Decision.CONFIRM), (dropped, Decision.DEACTIVATE)):
        review = session.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process.id, ApprovalTask.step_key == f"deputy-{deputy.id}"
            )
        ).one()
        decide_signed(session, signing_pki, task_id=review.id, actor=new, decision=decision)
        directors.apply_deputy_decision(
            session=session, process_id=process.id, deputy_id=deputy.id, keep=decision == Decision.CONFIRM
        )

    directors.notify_outcome(session=session, process_id=process.id)

    def mails_to(address: str, template: str) -> list[EmailMessage]:
        return list(
            session.scalars(
                select(EmailMessage).where(
                    EmailMessage.to_address == address, EmailMessage.template == template
                )
            )
        )

    (outcome,) = mails_to(world["admin_1"].email, "process_outcome")
    assert outcome.variables["outcome"] == "завершено"
    assert outcome.variables["facts"] == [
        "Новий керівник: Нова Директорка Оксана — картку активовано першим входом із КЕП.",
        "Колишній керівник Старий Директор: картку деактивовано (позначено як колишнього).",
        "Заступник Заступник Перший: повноваження підтверджено новим керівником.",
        "Заступник Заступник Другий: деактивовано новим керівником.",
    ]
    (former,) = mails_to("old@example.org", "person_notice")
    assert any("призначено Нова Директорка Оксана" in line for line in former.variables["lines"])
    assert "15-к" in " ".join(former.variables["lines"])
    (deactivated,) = mails_to("dep2@example.org", "person_notice")
    assert "деактивовано" in " ".join(deactivated.variables["lines"])
    assert mails_to("dep@example.org", "person_notice") == []  # a confirmed deputy is not told anything

    every_rnokpp = {NEW_RNOKPP, OLD_RNOKPP, "3000001007", "3000004004", "3000000008"}
    sent = session.scalars(
        select(EmailMessage).where(
            EmailMessage.to_address.in_(
                [world["admin_1"].email, "old@example.org", "dep@example.org", "dep2@example.org", new.email]
            )
        )
    ).all()
    assert {m.template for m in sent} >= {"process_outcome", "person_notice", "person_appointed"}
    for message in sent:
        rendered = render(message.template, message.variables)
        for text in (rendered.subject, rendered.text, rendered.html):
            assert not any(number in text for number in every_rnokpp), (message.template, text)
