"""The decision point enforces what the ОІС processes decide, end to end: a director's grant, an approved
revocation (the old key denied, the new key allowed for the grant that moved to it), a suspension signed
by an institute admin, an account deactivation — each made through the real services and committed, then
asked over HTTP as the central database's gateway asks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.kep import TrustList
from aikom.core.ois_decisions import OisAction
from aikom.models import DeactivationReason, Ois, OisGrant, OrgUnit, Person, PersonRole
from aikom.processes.ois_access import OisAccessParams
from aikom.processes.ois_revocation import OisRevocationParams
from aikom.services import accounts, deactivation, keys, ois_access, ois_admin
from aikom.services.approvals import SignedPayload
from tests import factories as f
from tests.gateway.conftest import Gateway
from tests.signing import SigningPki, sign

T = TypeVar("T")
CONTRACT = {"contract_number": "ДГ-5/2026", "contract_date": date(2026, 9, 1)}


def _commit(engine: Engine, change: Callable[[Session], T]) -> T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return change(session)


def _until(gateway: Gateway, token: str, client_id: str, reason: str, data_set: str = "journal") -> None:
    """The decision point answers `reason` within a few seconds of the commit (it follows the database)."""
    deadline = time.monotonic() + 15
    seen = ""
    while time.monotonic() < deadline:
        seen = gateway.reason(token, client_id, data_set)
        if seen == reason:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {reason}, the decision point still answers {seen}")


@dataclass
class World:
    school: OrgUnit
    director: Person
    admin: Person
    token: str
    ois: Ois
    other: Ois


def _world(session: Session) -> World:
    units = f.cascade(session, with_edrpou=True)
    units["national"].edrpou = f.edrpou()
    account = f.account(session, units["school"])
    national = f.account(session, units["national"])
    issued = keys.issue_account_keys(session=session, account=account, actor_label="test")
    return World(
        school=units["school"],
        director=f.person(session, account, role=PersonRole.DIRECTOR, rnokpp=f.rnokpp()),
        admin=f.person(session, national, role=PersonRole.INSTITUTE_ADMIN, rnokpp=f.rnokpp()),
        token=issued.api.token,
        ois=f.connected_ois(session, name="Нові знання"),
        other=f.connected_ois(session, name="Мій клас"),
    )


def _grant(session: Session, w: World, ois: Ois) -> OisGrant:
    params = OisAccessParams.model_validate(
        {"ois": ois.id, "data_sets": ["journal", "school_profile"], **CONTRACT}
    )
    process = ois_access.start_grant(session=session, actor=f.actor(w.director), params=params)
    return session.scalars(select(OisGrant).where(OisGrant.process_id == process.id)).one()


def test_grants_revocations_suspensions_and_deactivations_take_effect_at_the_decision_point(
    engine: Engine, gateway: Gateway, signing_pki: SigningPki
) -> None:
    w = _commit(engine, _world)
    client, other_client = w.ois.client_id or "", w.other.client_id or ""

    # No grant yet: denied. The director grants both ОІС: read allowed, write not yet (capability receive),
    # a data set not granted denied, enrolment never.
    _until(gateway, w.token, client, "no_grant")
    grant = _commit(engine, lambda s: _grant(s, w, w.ois))
    _commit(engine, lambda s: _grant(s, w, w.other))
    _until(gateway, w.token, client, "allowed")
    _until(gateway, w.token, other_client, "allowed")
    assert gateway.reason(w.token, client, "journal", "write") == "write_not_allowed_yet"
    assert gateway.reason(w.token, client, "staff") == "no_grant"
    assert gateway.reason(w.token, client, "enrolment", "write") == "reserved_data_set"

    # The school asks to stop «Нові знання»; the Institute approves: the old key is deactivated, a new one
    # is shown once to the director, and the other grant moved to it.
    def revoke(session: Session) -> int:
        process = ois_access.start_revocation(
            session=session,
            actor=f.actor(w.director),
            params=OisRevocationParams(grant=grant.id, reason="Договір з оператором розірвано"),
        )
        return process.id

    process_id = _commit(engine, revoke)
    assert gateway.reason(w.token, client, "journal") == "allowed"  # nothing changes before the approval
    _commit(
        engine,
        lambda s: ois_access.apply_revocation(session=s, process_id=process_id, approver_id=w.admin.id),
    )
    _until(gateway, w.token, other_client, "key_deactivated")
    shown = _commit(engine, lambda s: accounts.reveal_api_key(session=s, person_id=w.director.id))
    assert shown is not None
    new_token = shown.token
    _until(gateway, new_token, other_client, "allowed")
    assert gateway.reason(new_token, client, "journal") == "no_grant"

    # «Мій клас» suspended by an institute admin's signed decision: denied at once; reinstated: allowed.
    trust = TrustList.load(signing_pki.trust_dir)

    def decide(action: OisAction) -> Callable[[Session], object]:
        def change(session: Session) -> object:
            admin = session.get_one(Person, w.admin.id)
            at = datetime.now(UTC).replace(microsecond=0)
            document = ois_admin.decision_document(
                action=action, ois_id=w.other.id, actor_id=admin.id, reason="Перевірка інциденту", at=at
            )
            signed = SignedPayload(
                document=document, signature=sign(signing_pki.certificate_for(session, admin), document)
            )
            call = ois_admin.suspend if action == OisAction.SUSPEND else ois_admin.reinstate
            return call(
                session=session,
                actor=f.actor(admin),
                ois_id=w.other.id,
                reason="Перевірка інциденту",
                signed=signed,
                trust=trust,
                now=at,
            )

        return change

    _commit(engine, decide(OisAction.SUSPEND))
    _until(gateway, new_token, other_client, "ois_suspended")
    _commit(engine, decide(OisAction.REINSTATE))
    _until(gateway, new_token, other_client, "allowed")

    # The school's account deactivated (liquidation): its grants revoked, every request denied.
    def deactivate(session: Session) -> object:
        admin = session.get_one(Person, w.admin.id)
        return deactivation.deactivate_account(
            session=session,
            unit=session.get_one(OrgUnit, w.school.id),
            reason=DeactivationReason.LIQUIDATION,
            actor=Actor(person_id=admin.id, label=admin.full_name),
            process_id=4242,  # the account-deactivation process it would be applied by
        )

    _commit(engine, deactivate)
    deadline = time.monotonic() + 15
    while gateway.reason(new_token, other_client, "journal") == "allowed":
        assert time.monotonic() < deadline, "the deactivated account is still allowed"
        time.sleep(0.05)
    assert gateway.reason(new_token, other_client, "journal") in {
        "account_deactivated",
        "key_deactivated",
        "no_grant",
    }
