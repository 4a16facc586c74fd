"""API key regeneration against a real database: who may ask (a director or an ОУО admin for its own
account; never a deputy), one at a time; the approved one replaces the key, shows it once and moves the
grants; an institute admin's direct key changes and everyone else's refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import ValidationFailed
from aikom.core.keys import KeyCheckReason
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    AuditEntry,
    EmailMessage,
    GrantState,
    KeyKind,
    KeyState,
    OisGrant,
    Person,
    PersonRole,
)
from aikom.processes.key_regeneration import KeyRegenerationParams
from aikom.processes.ois_access import OisAccessParams
from aikom.services import accounts, key_regeneration, keys, ois_access
from tests import factories as f


@dataclass
class Accounts:
    school: Account
    director: Person
    deputy: Person
    hromada: Account
    hromada_admin: Person
    institute_admin: Person
    school_api: keys.IssuedKey
    hromada_api: keys.IssuedKey


def _accounts(session: Session) -> Accounts:
    units = f.cascade(session, with_edrpou=True)
    school = f.account(session, units["school"])
    hromada = f.account(session, units["hromada"])
    national = f.account(session, units["national"])
    director = f.person(session, school, role=PersonRole.DIRECTOR)
    return Accounts(
        school=school,
        director=director,
        deputy=f.person(session, school, role=PersonRole.DEPUTY, appointed_by=director),
        hromada=hromada,
        hromada_admin=f.person(session, hromada, role=PersonRole.HROMADA_ADMIN),
        institute_admin=f.person(session, national, role=PersonRole.INSTITUTE_ADMIN),
        school_api=keys.issue_account_keys(session=session, account=school, actor_label="test").api,
        hromada_api=keys.issue_account_keys(session=session, account=hromada, actor_label="test").api,
    )


def _ask(session: Session, person: Person, reason: str = "Ключ скомпрометовано") -> int:
    process = key_regeneration.start_key_regeneration(
        session=session, actor=f.actor(person), params=KeyRegenerationParams(reason=reason)
    )
    return process.id


def test_a_director_asks_an_institute_admin_approves_and_the_new_key_is_shown_once_with_grants_moved(
    session: Session,
) -> None:
    a = _accounts(session)
    ois = f.connected_ois(session)
    grant_process = ois_access.start_grant(
        session=session,
        actor=f.actor(a.director),
        params=OisAccessParams(
            ois=ois.id, data_sets=["journal"], contract_number="7", contract_date=date(2026, 1, 5)
        ),
    )
    grant = session.scalars(select(OisGrant).where(OisGrant.process_id == grant_process.id)).one()
    process_id = _ask(session, a.director)
    shown = dict(key_regeneration.approval_shown(session=session, process_id=process_id))
    assert a.school_api.token not in str(shown) and shown["Причина"] == "Ключ скомпрометовано"

    facts = key_regeneration.apply_regeneration(
        session=session, process_id=process_id, approver_id=a.institute_admin.id
    )
    assert facts.new_key_id is not None and facts.moved_grant_ids == [grant.id]
    old = session.get_one(AccessKey, a.school_api.key_id)
    assert old.state == KeyState.DEACTIVATED and old.deactivation_note is not None
    assert "Ключ скомпрометовано" in old.deactivation_note
    session.refresh(grant)
    assert grant.state == GrantState.ACTIVE and grant.api_key_id == facts.new_key_id
    assert keys.check_key(session=session, token=a.school_api.token).reason == KeyCheckReason.DEACTIVATED
    revealed = accounts.reveal_api_key(session=session, person_id=a.director.id)
    assert revealed is not None and revealed.key_id == facts.new_key_id
    assert keys.check_key(session=session, token=revealed.token).valid
    assert accounts.reveal_api_key(session=session, person_id=a.director.id) is None
    assert "Ключ API №" in key_regeneration.outcome_of(facts)
    # The operator whose grant moved is told to get the new key from the school.
    told = session.scalars(
        select(EmailMessage).where(
            EmailMessage.idempotency_key == f"process-{process_id}-grant-{grant.id}-moved"
        )
    ).one()
    assert told.to_address == ois.contact_email
    # Applied twice (a retried step): the same key, no third key.
    again = key_regeneration.apply_regeneration(
        session=session, process_id=process_id, approver_id=a.institute_admin.id
    )
    assert again.new_key_id == facts.new_key_id
    api_keys = session.scalars(
        select(AccessKey.id).where(AccessKey.account_id == a.school.id, AccessKey.kind == KeyKind.API)
    ).all()
    assert len(api_keys) == 2


def test_an_ouo_admin_asks_for_its_own_account(session: Session) -> None:
    a = _accounts(session)
    process_id = _ask(session, a.hromada_admin)
    facts = key_regeneration.apply_regeneration(
        session=session, process_id=process_id, approver_id=a.institute_admin.id
    )
    assert facts.account_id == a.hromada.id
    assert session.get_one(AccessKey, a.hromada_api.key_id).state == KeyState.DEACTIVATED
    assert session.get_one(AccessKey, a.school_api.key_id).state == KeyState.ACTIVE


def test_a_deputy_may_not_ask_nor_twice_nor_without_an_active_account(session: Session) -> None:
    a = _accounts(session)
    with pytest.raises(key_regeneration.NotKeyHolder) as caught:
        _ask(session, a.deputy)
    assert "заступник — ні" in caught.value.message_uk
    first = _ask(session, a.director)
    with pytest.raises(key_regeneration.RegenerationRunning) as running:
        _ask(session, a.director)
    assert f"процес №{first}" in running.value.message_uk
    a.hromada.state = AccountState.SUSPENDED
    session.flush()
    with pytest.raises(key_regeneration.AccountNotActive):
        _ask(session, a.hromada_admin)


def test_only_an_institute_admin_changes_keys_directly(session: Session) -> None:
    a = _accounts(session)
    for person in (a.director, a.hromada_admin, a.deputy):
        with pytest.raises(key_regeneration.KeyAdminOnly) as caught:
            key_regeneration.deactivate_directly(
                session=session, person=person, key_id=a.school_api.key_id, note="x"
            )
        assert "лише технічний адміністратор ІОА" in caught.value.message_uk
        with pytest.raises(key_regeneration.KeyAdminOnly):
            key_regeneration.regenerate_directly(
                session=session, person=person, key_id=a.school_api.key_id, note="x"
            )
    assert session.get_one(AccessKey, a.school_api.key_id).state == KeyState.ACTIVE
    with pytest.raises(ValidationFailed) as no_reason:
        key_regeneration.regenerate_directly(
            session=session, person=a.institute_admin, key_id=a.school_api.key_id, note=" "
        )
    assert no_reason.value.field == "note"

    done = key_regeneration.regenerate_directly(
        session=session, person=a.institute_admin, key_id=a.school_api.key_id, note="Запит №88"
    )
    assert done.token is None  # an API key goes to the account's director, not to the admin
    assert accounts.reveal_api_key(session=session, person_id=a.director.id) is not None
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "access_key.regenerated").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.actor_person_id == a.institute_admin.id
