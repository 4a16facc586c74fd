"""Director replacement rules, without the engine: who may start, who approves, what changes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.errors import NotInScope, RoleNotAllowed, ValidationFailed
from aikom.core.kep import TrustList
from aikom.models import (
    AccessKey,
    AccountState,
    ApprovalTask,
    EmailMessage,
    PersonRole,
    PersonState,
    TaskState,
)
from aikom.models.account import Account, Person
from aikom.services import directors
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.directors import NewDirector, ReplacementAlreadyRunning, SameDirector
from aikom.services.keys import issue_account_keys
from aikom.services.persons import PersonData, create_person, read_rnokpp
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import Settings
from tests import factories as f

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


def _form(**overrides: object) -> NewDirector:
    data: dict[str, object] = {
        "full_name": "Нова Директорка Оксана",
        "rnokpp": NEW_RNOKPP,
        "email": "new@example.org",
        "order_no": "15-к",
        "order_date": date(2026, 11, 1),
    }
    data.update(overrides)
    return NewDirector.model_validate(data)


def test_start_creates_the_process_without_clear_rnokpp(session: Session, world: dict) -> None:
    process = directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
    assert process.parameters["new_director"]["full_name"] == "Нова Директорка Оксана"
    assert NEW_RNOKPP not in str(process.parameters)
    assert process.parameters["former_director_id"] == world["old"].id


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"rnokpp": "1234567890"}, "rnokpp"),
        ({"full_name": "Я"}, "full_name"),
        ({"order_no": " "}, "order_no"),
        ({"order_date": date.today() + timedelta(days=3)}, "appointment_order_date"),
    ],
)
def test_bad_form_names_the_field_and_changes_nothing(
    session: Session, world: dict, overrides: dict, field: str
) -> None:
    with pytest.raises(ValidationFailed) as error:
        directors.start_replacement(
            session=session,
            actor=world["admin_1"],
            school_id=world["school"].id,
            new_director=_form(**overrides),
        )
    assert error.value.field == field
    assert error.value.message_uk


def test_only_the_managing_ouo_may_start(session: Session, world: dict) -> None:
    other_hromada = f.org_unit(session, level=world["units"]["hromada"].level, parent=world["units"]["rayon"])
    stranger = _admin(session, f.account(session, other_hromada), "Чужий Адмін", "3000002006")
    with pytest.raises(NotInScope):
        directors.start_replacement(
            session=session, actor=stranger, school_id=world["school"].id, new_director=_form()
        )
    with pytest.raises(RoleNotAllowed):
        directors.start_replacement(
            session=session, actor=world["deputy"], school_id=world["school"].id, new_director=_form()
        )


def test_one_replacement_at_a_time_and_not_the_same_person(session: Session, world: dict) -> None:
    with pytest.raises(SameDirector):
        directors.start_replacement(
            session=session,
            actor=world["admin_1"],
            school_id=world["school"].id,
            new_director=_form(rnokpp=OLD_RNOKPP),
        )
    directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
    with pytest.raises(ReplacementAlreadyRunning):
        directors.start_replacement(
            session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
        )


def test_approver_is_another_admin_of_the_ouo_else_the_parent(session: Session, world: dict) -> None:
    process = directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
    role, unit = directors.approver_scope(session, process)
    assert (role, unit) == (PersonRole.RAYON_ADMIN, world["units"]["rayon"].id)
    _admin(session, world["hromada_acc"], "Савченко Петро", "3000003005")
    role, unit = directors.approver_scope(session, process)
    assert (role, unit) == (PersonRole.HROMADA_ADMIN, world["units"]["hromada"].id)


def test_apply_replaces_persons_keeps_keys_and_is_idempotent(session: Session, world: dict) -> None:
    process = directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
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
    process = directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
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
    process = directors.start_replacement(
        session=session, actor=world["admin_1"], school_id=world["school"].id, new_director=_form()
    )
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
        directors.start_replacement(
            session=session, actor=world["admin_1"], school_id=other.id, new_director=_form()
        )
    assert "облікового запису" in refused.value.message_uk
    listed = [s.id for s in directors.managed_schools(session=session, actor=world["admin_1"])]
    assert world["school"].id in listed and other.id not in listed
