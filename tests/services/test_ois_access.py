"""A school's ОІС grants against a real database: the director grants (each refusal on its own, nothing
written), asks for a revocation that an institute admin's approval applies in one transaction (grant
revoked, key replaced and shown once, the other grants moved), and an account's deactivation revokes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, ValidationFailed
from aikom.core.keys import KeyCheckReason
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    AuditEntry,
    DeactivationReason,
    EmailMessage,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OrgUnit,
    Person,
    PersonRole,
    Process,
)
from aikom.processes.ois_access import OisAccessParams
from aikom.processes.ois_revocation import OisRevocationParams
from aikom.services import accounts, deactivation, keys, ois_access
from tests import factories as f

CONTRACT = {"contract_number": "ДГ-17/2026", "contract_date": date(2026, 9, 1)}


@dataclass
class SchoolWorld:
    school: OrgUnit
    account: Account
    director: Person
    deputy: Person
    institute_admin: Person
    api_key_id: int
    api_token: str
    ois: Ois
    other_ois: Ois


def _world(session: Session) -> SchoolWorld:
    units = f.cascade(session, with_edrpou=True)
    account = f.account(session, units["school"])
    national = f.account(session, units["national"])
    director = f.person(session, account, role=PersonRole.DIRECTOR)
    issued = keys.issue_account_keys(session=session, account=account, actor_label="test")
    world = SchoolWorld(
        school=units["school"],
        account=account,
        director=director,
        deputy=f.person(session, account, role=PersonRole.DEPUTY, appointed_by=director),
        institute_admin=f.person(session, national, role=PersonRole.INSTITUTE_ADMIN),
        api_key_id=issued.api.key_id,
        api_token=issued.api.token,
        ois=f.connected_ois(session, name="Нові знання"),
        other_ois=f.connected_ois(session, name="Мій клас"),
    )
    session.commit()  # a refused request rolls back to here
    return world


def _grant(session: Session, person: Person, ois: Ois, **overrides: object) -> OisGrant:
    params = OisAccessParams.model_validate(
        {"ois": ois.id, "data_sets": ["journal", "school_profile"], **CONTRACT, **overrides}
    )
    process = ois_access.start_grant(session=session, actor=f.actor(person), params=params)
    return session.scalars(select(OisGrant).where(OisGrant.process_id == process.id)).one()


def _counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(OisGrant)) or 0,
        session.scalar(select(func.count()).select_from(Process)) or 0,
        session.scalar(select(func.count()).select_from(EmailMessage)) or 0,
    )


def test_a_director_grants_a_connected_ois_bound_to_the_key_agreement_capability_and_contract(
    session: Session,
) -> None:
    w = _world(session)
    grant = _grant(session, w.director, w.ois)

    assert grant.state == GrantState.ACTIVE
    assert grant.school_org_unit_id == w.school.id and grant.ois_id == w.ois.id
    assert grant.api_key_id == w.api_key_id
    assert grant.agreement_id is not None and grant.capability == OisCapability.RECEIVE
    assert grant.data_sets == ["school_profile", "journal"]  # the catalogue's order, each once
    assert (grant.contract_number, grant.contract_date) == ("ДГ-17/2026", date(2026, 9, 1))
    assert grant.granted_by_id == w.director.id
    process = session.get_one(Process, grant.process_id)
    assert process.type == "ois-access" and process.requester_person_id == w.director.id
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "ois_grant.granted", AuditEntry.object_id == str(grant.id)
        )
    ).one()
    assert entry.details["data_sets"] == ["school_profile", "journal"]
    email = session.scalars(
        select(EmailMessage).where(EmailMessage.idempotency_key == f"ois-grant-{grant.id}-granted")
    ).one()
    assert email.to_address == w.ois.contact_email
    assert any(w.school.name in line for line in email.variables["lines"])
    # What the director's page lists.
    listed = ois_access.grants_of_school(session=session, school_id=w.school.id)
    assert [(g.id, g.state) for g in listed] == [(grant.id, GrantState.ACTIVE)]
    assert listed[0].key_public_prefix.endswith("…") and len(listed[0].key_public_prefix) == 9


def test_the_capability_granted_is_the_phase_in_force_not_a_future_one(session: Session) -> None:
    w = _world(session)
    from datetime import UTC, datetime

    session.add(
        OisPhase(
            ois_id=w.ois.id,
            capability=OisCapability.RECEIVE_TRANSMIT,
            effective_from=datetime.now(UTC) + timedelta(days=30),
        )
    )
    session.flush()
    assert _grant(session, w.director, w.ois).capability == OisCapability.RECEIVE
    session.add(
        OisPhase(
            ois_id=w.other_ois.id,
            capability=OisCapability.RECEIVE_TRANSMIT,
            effective_from=datetime.now(UTC) - timedelta(hours=1),
        )
    )
    session.flush()
    assert _grant(session, w.director, w.other_ois).capability == OisCapability.RECEIVE_TRANSMIT


def _refused(session: Session, person: Person, ois: Ois, **overrides: object) -> DomainError:
    before = _counts(session)
    with pytest.raises(DomainError) as caught:
        _grant(session, person, ois, **overrides)
    session.rollback()  # the service raised before committing; nothing of it stays
    assert _counts(session) == before
    return caught.value


def test_a_deputy_never_grants(session: Session) -> None:
    w = _world(session)
    refusal = _refused(session, w.deputy, w.ois)
    assert isinstance(refusal, ois_access.NotSchoolDirector)
    assert "заступник" in refusal.message_uk and "директору ЗО" in refusal.message_uk


def test_an_ois_that_is_not_connected_is_refused(session: Session) -> None:
    w = _world(session)
    suspended = f.connected_ois(session, name="Призупинена", state="suspended")
    refusal = _refused(session, w.director, suspended)
    assert isinstance(refusal, ois_access.OisNotConnected)
    assert "«Призупинена» не підключена" in refusal.message_uk


def test_a_second_grant_to_the_same_ois_is_refused(session: Session) -> None:
    w = _world(session)
    first = _grant(session, w.director, w.ois)
    session.commit()
    refusal = _refused(session, w.director, w.ois)
    assert isinstance(refusal, ois_access.GrantAlreadyActive)
    assert f"доступ №{first.id} чинний" in refusal.message_uk


def test_no_active_api_key_is_refused(session: Session) -> None:
    w = _world(session)
    keys.deactivate_key(session=session, key_id=w.api_key_id, actor_label="test", note="втрачено")
    session.commit()
    refusal = _refused(session, w.director, w.ois)
    assert isinstance(refusal, ois_access.NoSchoolApiKey)
    assert "не має чинного ключа API" in refusal.message_uk


def test_an_account_that_is_not_active_is_refused(session: Session) -> None:
    w = _world(session)
    w.account.state = AccountState.SUSPENDED
    session.commit()
    refusal = _refused(session, w.director, w.ois)
    assert isinstance(refusal, ois_access.SchoolAccountNotActive)
    assert "не активний" in refusal.message_uk


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"data_sets": ["journal", "enrolment"]}, "data_sets", "виключно в державному інтерфейсі"),
        ({"data_sets": ["grades_of_mars"]}, "data_sets", "немає в каталозі"),
        ({"data_sets": []}, "data_sets", "оберіть хоча б один"),
        ({"contract_number": " "}, "contract_number", "Номер договору"),
        ({"contract_date": None}, "contract_date", "Дата договору"),
        ({"contract_date": date.today() + timedelta(days=3)}, "contract_date", "не може бути пізнішою"),
    ],
)
def test_bad_data_sets_and_a_missing_contract_are_refused_naming_the_field(
    session: Session, overrides: dict[str, object], field: str, words: str
) -> None:
    w = _world(session)
    refusal = _refused(session, w.director, w.ois, **overrides)
    assert isinstance(refusal, ValidationFailed) and refusal.field == field
    assert words in refusal.message_uk


def _revoke(session: Session, w: SchoolWorld, grant: OisGrant, reason: str = "Договір розірвано") -> Process:
    return ois_access.start_revocation(
        session=session, actor=f.actor(w.director), params=OisRevocationParams(grant=grant.id, reason=reason)
    )


def test_an_approved_revocation_replaces_the_key_moves_the_other_grants_and_shows_the_new_key_once(
    session: Session,
) -> None:
    w = _world(session)
    revoked = _grant(session, w.director, w.ois)
    kept = _grant(session, w.director, w.other_ois)
    process = _revoke(session, w, revoked)
    assert process.type == "ois-revocation"
    # Nothing changes before the Institute approves.
    assert session.get_one(AccessKey, w.api_key_id).state == KeyState.ACTIVE

    facts = ois_access.apply_revocation(
        session=session, process_id=process.id, approver_id=w.institute_admin.id
    )
    session.commit()

    session.refresh(revoked)
    session.refresh(kept)
    assert revoked.state == GrantState.REVOKED and revoked.revoked_at is not None
    assert revoked.revoked_by_id == w.institute_admin.id
    assert revoked.revoke_reason is not None and "Договір розірвано" in revoked.revoke_reason
    assert revoked.api_key_id == w.api_key_id  # stays on the old key
    old = session.get_one(AccessKey, w.api_key_id)
    assert old.state == KeyState.DEACTIVATED
    new = session.get_one(AccessKey, facts.new_key_id)
    assert new.state == KeyState.ACTIVE and new.kind == KeyKind.API and new.replaces_id == old.id
    assert kept.state == GrantState.ACTIVE and kept.api_key_id == new.id
    assert facts.moved_grant_ids == [kept.id]
    assert keys.check_key(session=session, token=w.api_token).reason == KeyCheckReason.DEACTIVATED

    # The new key: shown once to the director, never to the deputy; it works.
    assert accounts.reveal_api_key(session=session, person_id=w.deputy.id) is None
    shown = accounts.reveal_api_key(session=session, person_id=w.director.id)
    assert shown is not None and shown.key_id == new.id
    assert keys.check_key(session=session, token=shown.token).valid
    assert accounts.reveal_api_key(session=session, person_id=w.director.id) is None

    mails = {
        m.idempotency_key: m.to_address
        for m in session.scalars(select(EmailMessage).where(EmailMessage.idempotency_key.like("%-grant-%")))
    }
    assert mails[f"ois-grant-{revoked.id}-revoked"] == w.ois.contact_email
    assert mails[f"process-{process.id}-grant-{kept.id}-moved"] == w.other_ois.contact_email
    # Applying again (a retried step) changes nothing more.
    again = ois_access.apply_revocation(
        session=session, process_id=process.id, approver_id=w.institute_admin.id
    )
    assert again.new_key_id == facts.new_key_id
    assert session.scalar(select(func.count()).where(AccessKey.account_id == w.account.id)) == 3


def test_a_revocation_is_asked_by_the_director_once_for_an_active_grant_of_the_school(
    session: Session,
) -> None:
    w = _world(session)
    grant = _grant(session, w.director, w.ois)
    with pytest.raises(ois_access.NotSchoolDirector):
        ois_access.start_revocation(
            session=session, actor=f.actor(w.deputy), params=OisRevocationParams(grant=grant.id, reason="х")
        )
    other = _world(session)
    with pytest.raises(ois_access.GrantNotFound):
        ois_access.start_revocation(
            session=session,
            actor=f.actor(other.director),
            params=OisRevocationParams(grant=grant.id, reason="х"),
        )
    first = _revoke(session, w, grant)
    with pytest.raises(ois_access.RevocationRunning) as caught:
        _revoke(session, w, grant)
    assert f"процес №{first.id}" in caught.value.message_uk


def test_an_account_deactivation_revokes_the_grants_naming_it(session: Session) -> None:
    w = _world(session)
    grants = [_grant(session, w.director, w.ois), _grant(session, w.director, w.other_ois)]
    actor = Actor(person_id=w.institute_admin.id, label=w.institute_admin.full_name)
    summary = deactivation.deactivate_account(
        session=session, unit=w.school, reason=DeactivationReason.LIQUIDATION, actor=actor, process_id=4242
    )
    assert summary.grants == 2
    for grant in grants:
        session.refresh(grant)
        assert grant.state == GrantState.REVOKED and grant.revoked_by_id == w.institute_admin.id
        assert grant.revoke_reason is not None
        assert "деактивовано (процес №4242)" in grant.revoke_reason and "ліквідація" in grant.revoke_reason
    told = set(
        session.scalars(
            select(EmailMessage.to_address).where(EmailMessage.idempotency_key.like("ois-grant-%"))
        )
    )
    assert {w.ois.contact_email, w.other_ois.contact_email} <= told


def test_a_revocation_while_the_keys_are_suspended_changes_nothing(session: Session) -> None:
    w = _world(session)
    grant = _grant(session, w.director, w.ois)
    process = _revoke(session, w, grant)
    session.commit()
    keys.suspend_account_keys(session=session, account_id=w.account.id, actor_label="test", note="CERT-UA")
    session.commit()
    with pytest.raises(DomainError) as caught:
        ois_access.apply_revocation(session=session, process_id=process.id, approver_id=w.institute_admin.id)
    session.rollback()
    assert "не має чинного" in caught.value.message_uk
    session.refresh(grant)
    assert grant.state == GrantState.ACTIVE and grant.revoked_at is None
    assert session.scalar(select(func.count()).where(AccessKey.account_id == w.account.id)) == 2
