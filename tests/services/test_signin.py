"""КЕП sign-in: challenge → signature → person; every refusal a person could meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.kep import TrustList
from aikom.models import AccountState, OrgLevel, PersonRole, PersonState
from aikom.models.account import Account, Person
from aikom.services.persons import PersonData, create_person
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import Settings
from tests import factories as f

SCHOOL_EDRPOU = "12345678"
HUB_EDRPOU = "20077720"
RNOKPP = "1234567899"
OTHER_RNOKPP = "2345678902"


@pytest.fixture
def settings() -> Settings:
    return Settings(signin_max_failures=3)


def _director(
    session: Session,
    *,
    edrpou: str = SCHOOL_EDRPOU,
    state: PersonState = PersonState.PENDING,
    account_state: AccountState = AccountState.PENDING,
    level: OrgLevel = OrgLevel.SCHOOL,
) -> Person:
    units = f.cascade(session)
    unit = units["school"]
    unit.edrpou = edrpou
    if level == OrgLevel.BRANCH:
        unit = f.org_unit(session, level=OrgLevel.BRANCH, parent=units["school"])
    acc = f.account(session, unit, state=account_state)
    return create_person(
        session=session,
        account=acc,
        role=PersonRole.DIRECTOR,
        state=state,
        data=PersonData(full_name="Коваль Олена Петрівна", email="olena@example.org", rnokpp=RNOKPP),
        actor_label="test",
    )


def _attempt(
    session: Session,
    settings: Settings,
    trust: TrustList,
    signer: pki.IssuedPerson | None,
    pki_dir: Path,
    *,
    content: bytes | None = None,
    client: str = "test",
    nonce: str | None = None,
    now: datetime | None = None,
):  # type: ignore[no-untyped-def]
    challenge = issue_challenge(session=session, settings=settings, now=now)
    signer = signer or pki.issue_person(
        pki_dir, name="Коваль Олена", edrpou=SCHOOL_EDRPOU, rnokpp=RNOKPP, title="Директор"
    )
    signature = pki.sign_detached(signer.key, signer.certificate, content or challenge.content)
    return sign_in(
        session=session,
        settings=settings,
        trust=trust,
        nonce=nonce or challenge.nonce,
        signature=signature,
        client_key=client,
        now=now,
    )


def test_first_sign_in_activates_pending_person_and_account(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    person = _director(session)
    result = _attempt(session, settings, trust, None, pki_dir)
    assert result.ok, result.message_uk
    assert result.person_id == person.id
    assert result.activated
    session.refresh(person)
    assert person.state == PersonState.ACTIVE
    account = session.get(Account, person.account_id)
    assert account is not None and account.state == AccountState.ACTIVE


def test_branch_without_own_edrpou_signs_with_hub_edrpou(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    person = _director(session, edrpou=HUB_EDRPOU, level=OrgLevel.BRANCH)
    signer = pki.issue_person(
        pki_dir, name="Коваль Олена", edrpou=HUB_EDRPOU, rnokpp=RNOKPP, title="Директор"
    )
    result = _attempt(session, settings, trust, signer, pki_dir)
    assert result.ok and result.person_id == person.id


@pytest.mark.parametrize(
    ("edrpou", "rnokpp", "reason"),
    [(HUB_EDRPOU, RNOKPP, "wrong_edrpou"), (SCHOOL_EDRPOU, OTHER_RNOKPP, "unknown_person")],
)
def test_certificate_of_someone_else_is_refused(
    session: Session,
    settings: Settings,
    trust: TrustList,
    pki_dir: Path,
    edrpou: str,
    rnokpp: str,
    reason: str,
) -> None:
    person = _director(session)
    signer = pki.issue_person(pki_dir, name="Інша Особа", edrpou=edrpou, rnokpp=rnokpp, title="Директор")
    result = _attempt(session, settings, trust, signer, pki_dir)
    assert not result.ok
    assert result.reason == reason
    assert "ЄДРПОУ" in result.message_uk or "РНОКПП" in result.message_uk
    session.refresh(person)
    assert person.state == PersonState.PENDING


def test_inactive_person_and_inactive_account_are_refused(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    person = _director(session, state=PersonState.INACTIVE)
    assert _attempt(session, settings, trust, None, pki_dir).reason == "person_inactive"
    person.state = PersonState.ACTIVE
    account = session.get(Account, person.account_id)
    assert account is not None
    account.state = AccountState.SUSPENDED
    session.flush()
    assert _attempt(session, settings, trust, None, pki_dir).reason == "account_inactive"


def test_signature_over_other_content_is_refused(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    _director(session)
    result = _attempt(session, settings, trust, None, pki_dir, content=b"something else")
    assert not result.ok and result.reason == "content_mismatch"


def test_challenge_is_single_use_and_short_lived(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    _director(session)
    signer = pki.issue_person(
        pki_dir, name="Коваль Олена", edrpou=SCHOOL_EDRPOU, rnokpp=RNOKPP, title="Директор"
    )
    challenge = issue_challenge(session=session, settings=settings)
    signature = pki.sign_detached(signer.key, signer.certificate, challenge.content)
    first = sign_in(
        session=session,
        settings=settings,
        trust=trust,
        nonce=challenge.nonce,
        signature=signature,
        client_key="a",
    )
    replay = sign_in(
        session=session,
        settings=settings,
        trust=trust,
        nonce=challenge.nonce,
        signature=signature,
        client_key="a",
    )
    assert first.ok and replay.reason == "challenge_used"

    old = issue_challenge(session=session, settings=settings, now=datetime.now(UTC) - timedelta(hours=1))
    late = sign_in(
        session=session,
        settings=settings,
        trust=trust,
        nonce=old.nonce,
        signature=pki.sign_detached(signer.key, signer.certificate, old.content),
        client_key="b",
    )
    assert late.reason == "challenge_expired"
    unknown = sign_in(
        session=session,
        settings=settings,
        trust=trust,
        nonce="no-such-nonce",
        signature=signature,
        client_key="c",
    )
    assert unknown.reason == "challenge_unknown"


def test_failed_attempts_are_rate_limited(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    _director(session)
    for _ in range(settings.signin_max_failures):
        assert _attempt(session, settings, trust, None, pki_dir, content=b"x", client="mallory").ok is False
    blocked = _attempt(session, settings, trust, None, pki_dir, client="mallory")
    assert blocked.reason == "rate_limited"
    assert "Забагато" in blocked.message_uk
    assert _attempt(session, settings, trust, None, pki_dir, client="someone-else").ok


def test_revoked_certificate_is_refused(
    session: Session, settings: Settings, pki_dir: Path, tmp_path: Path
) -> None:
    _director(session)
    signer = pki.issue_person(
        pki_dir, name="Коваль Олена", edrpou=SCHOOL_EDRPOU, rnokpp=RNOKPP, title="Директор"
    )
    pki.revoke(pki_dir, signer.certificate.serial_number)
    trust = TrustList.load(pki.trust_dir(pki_dir))
    result = _attempt(session, settings, trust, signer, pki_dir)
    assert result.reason == "revoked"


def test_every_refusal_has_a_ukrainian_message(
    session: Session, settings: Settings, trust: TrustList, pki_dir: Path
) -> None:
    _director(session)
    result = _attempt(session, settings, trust, None, pki_dir, nonce="missing")
    assert result.message_uk.startswith("Виклик")
