"""Access keys against a real database: issue once, check, deactivate, suspend, regenerate, rotate peppers."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import NotFound, ValidationFailed
from aikom.core.keys import KeyCheckReason, compose_token, generate_token, parse_token
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    AuditEntry,
    DeactivationReason,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisGrant,
    OrgLevel,
    OrgUnit,
)
from aikom.services import keys as svc
from aikom.services.audit import verify_chain
from aikom.settings import Settings
from tests import factories as f

ACTOR = "test:admin"


def _school_account(session: Session, state: AccountState = AccountState.ACTIVE) -> tuple[OrgUnit, Account]:
    units = f.cascade(session)
    return units["school"], f.account(session, units["school"], state=state)


def _audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_issue_returns_both_plaintexts_once_and_stores_only_hashes(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)

    assert issued.base.token.startswith("aikb_") and issued.api.token.startswith("aika_")
    assert issued.base.scopes == ("account",) and issued.api.scopes == ("data:read",)
    rows = {k.kind: k for k in session.scalars(select(AccessKey).where(AccessKey.account_id == account.id))}
    assert set(rows) == {KeyKind.BASE, KeyKind.API}
    for kind, issued_key in ((KeyKind.BASE, issued.base), (KeyKind.API, issued.api)):
        row = rows[kind]
        secret = parse_token(issued_key.token).secret
        assert row.public_id == issued_key.public_id and row.pepper_id == "p1"
        assert secret not in row.secret_hash and len(row.secret_hash) == 32
        assert issued_key.token not in repr(issued_key)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "access_key.issued", AuditEntry.object_id == str(account.id)
        )
    ).one()
    assert entry.object_id == str(account.id) and entry.actor_label == ACTOR
    assert issued.api.token not in str(entry.details) and issued.api.public_id in str(entry.details)


def test_a_second_pair_is_refused(session: Session) -> None:
    _, account = _school_account(session)
    svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    with pytest.raises(svc.KeysAlreadyIssued) as caught:
        svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    assert "уже має ключі" in caught.value.message_uk
    assert len(session.scalars(select(AccessKey).where(AccessKey.account_id == account.id)).all()) == 2


def test_a_deactivated_account_gets_no_keys(session: Session) -> None:
    _, account = _school_account(session)
    account.state = AccountState.DEACTIVATED
    account.deactivation_reason = DeactivationReason.LIQUIDATION
    session.flush()
    with pytest.raises(svc.AccountDeactivated):
        svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)


def test_issue_for_an_org_unit_creates_its_pending_account(session: Session) -> None:
    units = f.cascade(session)
    issued = svc.issue_keys_for_org_unit(session=session, org_unit_id=units["rayon"].id, actor_label=ACTOR)
    assert _audit_actions(session)[-2:] == ["account.created", "access_key.issued"]
    check = svc.check_key(session=session, token=issued.api.token)
    assert check.reason == KeyCheckReason.ACCOUNT_INACTIVE  # PENDING until the first КЕП sign-in
    # …but the base key is what that first sign-in is entered with.
    assert svc.check_key(session=session, token=issued.base.token).valid
    with pytest.raises(NotFound):
        svc.issue_keys_for_org_unit(session=session, org_unit_id=10**9, actor_label=ACTOR)


def test_a_valid_key_reveals_its_unit_and_scopes_only(session: Session) -> None:
    school, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    check = svc.check_key(session=session, token=issued.api.token)
    assert check.valid and check.reason == KeyCheckReason.OK
    assert check.org_unit is not None
    assert (check.org_unit.id, check.org_unit.name, check.org_unit.level) == (
        school.id,
        school.name,
        OrgLevel.SCHOOL,
    )
    assert check.scopes == ("data:read",) and check.kind == KeyKind.API
    assert set(check.as_dict()) == {"valid", "reason", "message", "kind", "org_unit", "scopes"}


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"), KeyCheckReason.BAD_CHECKSUM),
        (lambda t: t[:40], KeyCheckReason.MALFORMED),
        (lambda t: "не ключ", KeyCheckReason.MALFORMED),
    ],
)
def test_typos_and_garbage_are_refused_without_touching_the_database(
    mangle: Callable[[str], str], reason: KeyCheckReason
) -> None:
    token = generate_token("api").token
    # Any use of this "session" would raise AttributeError.
    check = svc.check_key(session=cast(Session, object()), token=mangle(token))
    assert not check.valid and check.reason == reason and check.org_unit is None


def test_unknown_and_wrong_secret_reveal_nothing(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)

    unknown = svc.check_key(session=session, token=generate_token("api").token)
    assert unknown.reason == KeyCheckReason.UNKNOWN and unknown.org_unit is None

    forged = compose_token("api", issued.api.public_id, generate_token("api").secret)
    wrong = svc.check_key(session=session, token=forged)
    assert wrong.reason == KeyCheckReason.WRONG_SECRET and wrong.org_unit is None and wrong.scopes == ()

    other_kind = compose_token("base", issued.api.public_id, parse_token(issued.api.token).secret)
    assert svc.check_key(session=session, token=other_kind).reason == KeyCheckReason.UNKNOWN


def test_deactivated_key_is_refused_and_stays_deactivated(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)

    with pytest.raises(ValidationFailed) as no_note:
        svc.deactivate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR, note="  ")
    assert no_note.value.field == "note"

    key = svc.deactivate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR, note="Запит школи")
    assert key.state == KeyState.DEACTIVATED and key.deactivated_at is not None
    assert key.deactivation_note == "Запит школи"
    assert svc.check_key(session=session, token=issued.api.token).reason == KeyCheckReason.DEACTIVATED
    assert svc.check_key(session=session, token=issued.base.token).valid
    with pytest.raises(svc.KeyAlreadyDeactivated):
        svc.deactivate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR, note="ще раз")
    with pytest.raises(svc.KeyNotFound):
        svc.deactivate_key(session=session, key_id=10**9, actor_label=ACTOR, note="x")
    assert _audit_actions(session)[-1] == "access_key.deactivated"


def test_suspension_and_reinstatement(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)

    suspended = svc.suspend_account_keys(
        session=session, account_id=account.id, actor_label=ACTOR, note="Кіберінцидент"
    )
    assert {k.id for k in suspended} == {issued.base.key_id, issued.api.key_id}
    assert svc.check_key(session=session, token=issued.api.token).reason == KeyCheckReason.SUSPENDED
    with pytest.raises(svc.KeysAlreadyIssued):
        svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    assert svc.suspend_account_keys(session=session, account_id=account.id, actor_label=ACTOR, note="x") == []

    svc.reinstate_account_keys(
        session=session, account_id=account.id, actor_label=ACTOR, note="Не підтверджено"
    )
    assert svc.check_key(session=session, token=issued.api.token).valid
    assert _audit_actions(session)[-2:] == ["access_key.suspended", "access_key.reinstated"]


def test_inactive_account_refuses_its_keys(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    account.state = AccountState.SUSPENDED
    session.flush()
    assert svc.check_key(session=session, token=issued.base.token).reason == KeyCheckReason.ACCOUNT_INACTIVE


def test_regeneration_replaces_the_key_and_moves_ois_grants(session: Session) -> None:
    school, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    ois = Ois(
        system_name="Е-журнал", company_name="ТОВ «Журнал»", company_edrpou="12345678", contact_email="a@b.ua"
    )
    session.add(ois)
    session.flush()
    grant = OisGrant(ois_id=ois.id, school_org_unit_id=school.id, api_key_id=issued.api.key_id)
    session.add(grant)
    session.flush()

    new = svc.regenerate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR)

    assert new.token != issued.api.token and new.kind == KeyKind.API and new.scopes == ("data:read",)
    assert svc.check_key(session=session, token=new.token).valid
    assert svc.check_key(session=session, token=issued.api.token).reason == KeyCheckReason.DEACTIVATED
    row = session.get(AccessKey, new.key_id)
    assert row is not None and row.replaces_id == issued.api.key_id
    session.refresh(grant)
    assert grant.api_key_id == new.key_id and grant.state == GrantState.ACTIVE
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "access_key.regenerated", AuditEntry.object_id == str(new.key_id)
        )
    ).one()
    assert entry.details["moved_grant_ids"] == [grant.id]
    assert entry.details["replaces_id"] == issued.api.key_id

    with pytest.raises(svc.KeyAlreadyReplaced) as caught:
        svc.regenerate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR)
    assert caught.value.replacement_id == new.key_id


def test_a_deactivated_key_can_be_regenerated_once(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    svc.deactivate_key(session=session, key_id=issued.base.key_id, actor_label=ACTOR, note="Скомпрометовано")
    new = svc.regenerate_key(session=session, key_id=issued.base.key_id, actor_label=ACTOR, note="Новий")
    assert svc.check_key(session=session, token=new.token).valid


def test_pepper_rotation_rehashes_on_use_and_retired_peppers_refuse(session: Session) -> None:
    _, account = _school_account(session)
    old = Settings(key_pepper_id="p1", key_peppers={"p1": "first"})
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR, settings=old)
    untouched = svc.issue_keys_for_org_unit(
        session=session, org_unit_id=f.cascade(session)["school"].id, actor_label=ACTOR, settings=old
    )
    rotated = Settings(key_pepper_id="p2", key_peppers={"p1": "first", "p2": "second"})

    assert svc.check_key(session=session, token=issued.api.token, settings=rotated).valid
    row = session.get(AccessKey, issued.api.key_id)
    assert row is not None and row.pepper_id == "p2"
    assert _audit_actions(session)[-1] == "access_key.rehashed"

    retired = Settings(key_pepper_id="p2", key_peppers={"p2": "second"})
    assert svc.check_key(session=session, token=issued.api.token, settings=retired).valid
    refused = svc.check_key(session=session, token=untouched.api.token, settings=retired)
    assert refused.reason == KeyCheckReason.WRONG_SECRET


def test_every_change_keeps_the_audit_chain_intact(session: Session) -> None:
    _, account = _school_account(session)
    issued = svc.issue_account_keys(session=session, account=account, actor_label=ACTOR)
    svc.regenerate_key(session=session, key_id=issued.api.key_id, actor_label=ACTOR)
    svc.suspend_account_keys(session=session, account_id=account.id, actor_label=ACTOR, note="x")
    report = verify_chain(session=session)
    assert report.ok and report.entries >= 3
