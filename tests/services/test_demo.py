"""Demo mode: demo persons exist once, and each can sign in with its demo КЕП."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.demo.ois import DEMO_CLIENT_ID, DEMO_SYSTEM
from aikom.demo.persons import DemoModeOff, demo_sign, load_demo_persons, seed_demo
from aikom.models import Agreement, AgreementState, Ois, OisCapability
from aikom.services.ois_admin import public_list
from aikom.services.signin import issue_challenge, sign_in
from aikom.services.trust import current_trust_list
from aikom.settings import Settings
from tests import factories as f


def _tree(session: Session) -> int:
    """A cascade whose school is managed by its hromada; the school's id."""
    units = f.cascade(session)
    school = units["school"]
    school.edrpou = "20077720"
    school.managing_body_id = units["hromada"].id
    session.flush()
    return school.id


def test_demo_persons_are_created_once_and_can_sign_in(session: Session, tmp_path: Path) -> None:
    school_id = _tree(session)
    settings = Settings(data_dir=tmp_path / "data")
    first = seed_demo(session=session, settings=settings, school_id=school_id)
    second = seed_demo(session=session, settings=settings, school_id=school_id)
    assert [p.person_id for p in first] == [p.person_id for p in second]
    roles = {p.role for p in first}
    assert {
        "institute_admin",
        "support_agent",
        "manager",
        "oblast_admin",
        "hromada_admin",
        "director",
        "deputy",
    } <= roles
    assert load_demo_persons(settings) == second

    trust = current_trust_list(settings)
    for person in first:
        challenge = issue_challenge(session=session, settings=settings)
        result = sign_in(
            session=session,
            settings=settings,
            trust=trust,
            nonce=challenge.nonce,
            signature=demo_sign(settings, person.key, challenge.content),
            client_key=person.key,
        )
        assert result.ok, (person.key, result.message_uk)
        assert result.person_id == person.person_id


def test_demo_data_refused_outside_demo_mode(session: Session, tmp_path: Path) -> None:
    with pytest.raises(DemoModeOff):
        seed_demo(session=session, settings=Settings(data_dir=tmp_path, demo_mode=False))


def test_the_demo_operators_ois_is_connected_once_and_published(session: Session, tmp_path: Path) -> None:
    school_id = _tree(session)
    settings = Settings(data_dir=tmp_path / "data")
    seed_demo(session=session, settings=settings, school_id=school_id)
    seed_demo(session=session, settings=settings, school_id=school_id)
    listed = [o for o in public_list(session=session) if o.name == DEMO_SYSTEM]
    assert len(listed) == 1
    assert (listed[0].company, listed[0].capability) == ("ТОВ «Демо Е-Журнал»", OisCapability.RECEIVE)
    # Its accession agreement is approved with a number, signed by the demo operator's company КЕП.
    agreement = session.scalars(
        select(Agreement).join(Ois, Ois.id == Agreement.ois_id).where(Ois.client_id == DEMO_CLIENT_ID)
    ).one()
    assert agreement.state == AgreementState.APPROVED and agreement.number
    operator = next(p for p in load_demo_persons(settings) if p.role == "ois_operator")
    assert agreement.signer_edrpou == operator.edrpou
