"""Signed decisions: verified with nonRepudiation, bound to the signer, re-verifiable from stored bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.decisions import DecisionDocument
from aikom.core.kep import TrustList
from aikom.models import PersonRole, PersonState, SignedDecision
from aikom.models.account import Person
from aikom.services.decisions import (
    DecisionDocumentMismatch,
    DecisionSignatureInvalid,
    DecisionSignerMismatch,
    check_document,
    record_signed_decision,
    reverify_decision,
)
from aikom.services.persons import PersonData, create_person
from tests import factories as f

EDRPOU = "38621185"
RNOKPP = "1234567899"


@pytest.fixture
def approver(session: Session) -> Person:
    units = f.cascade(session)
    units["oblast"].edrpou = EDRPOU
    acc = f.account(session, units["oblast"])
    return create_person(
        session=session,
        account=acc,
        role=PersonRole.OBLAST_ADMIN,
        state=PersonState.ACTIVE,
        data=PersonData(full_name="Мельник Андрій", email="a@example.org", rnokpp=RNOKPP),
        actor_label="test",
    )


def _document(approver: Person, decision: str = "approve") -> bytes:
    return DecisionDocument.create(
        task=7, process=3, decision=decision, comment=" Погоджено ", actor=approver.id
    ).to_bytes()


def _recorded(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> tuple[SignedDecision, bytes]:
    """A decision document signed by the approver's КЕП and recorded; (stored, document)."""
    signer = pki.issue_person(pki_dir, name="Мельник Андрій", edrpou=EDRPOU, rnokpp=RNOKPP, title="Начальник")
    document = _document(approver)
    stored = record_signed_decision(
        session=session,
        trust=trust,
        task_id=None,
        signer=approver,
        document=document,
        signature=pki.sign_detached(signer.key, signer.certificate, document),
    )
    return stored, document


def test_document_is_canonical_json_with_sorted_keys() -> None:
    doc = DecisionDocument.create(task=1, process=2, decision="reject", comment="Ні", actor=3)
    raw = doc.to_bytes()
    assert raw.startswith(
        b'{"actor":3,"comment":"\xd0\x9d\xd1\x96","decision":"reject","process":2,"task":1,'
    )
    assert DecisionDocument.from_bytes(raw) == doc
    with pytest.raises(ValueError, match="canonical"):
        DecisionDocument.from_bytes(raw.replace(b",", b", "))


def test_signed_decision_is_stored_and_reverified(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> None:
    signer = pki.issue_person(pki_dir, name="Мельник Андрій", edrpou=EDRPOU, rnokpp=RNOKPP, title="Начальник")
    document = _document(approver)
    signature = pki.sign_detached(signer.key, signer.certificate, document)
    stored = record_signed_decision(
        session=session, trust=trust, task_id=None, signer=approver, document=document, signature=signature
    )
    assert stored.verified_ok and stored.certificate
    again = reverify_decision(session=session, trust=trust, decision_id=stored.id)
    assert again.verification.ok
    assert again.to_dict()["document"]["comment"] == "Погоджено"  # type: ignore[index]


def test_reverification_detects_edited_stored_bytes(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> None:
    stored, document = _recorded(session, trust, pki_dir, approver)
    session.execute(
        update(SignedDecision)
        .where(SignedDecision.id == stored.id)
        .values(document=document.replace(b"approve", b"reject"))
    )
    session.expire_all()
    again = reverify_decision(session=session, trust=trust, decision_id=stored.id)
    assert not again.verification.ok


def test_certificate_without_non_repudiation_cannot_sign_a_decision(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> None:
    signer = pki.issue_person(
        pki_dir, name="Мельник Андрій", edrpou=EDRPOU, rnokpp=RNOKPP, title="Начальник", non_repudiation=False
    )
    document = _document(approver)
    with pytest.raises(DecisionSignatureInvalid) as refused:
        record_signed_decision(
            session=session,
            trust=trust,
            task_id=None,
            signer=approver,
            document=document,
            signature=pki.sign_detached(signer.key, signer.certificate, document),
        )
    assert refused.value.context["reason"] == "key_usage"


def test_decision_signed_by_someone_else_is_refused(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> None:
    other = pki.issue_person(pki_dir, name="Інший", edrpou=EDRPOU, rnokpp="2345678902", title="Начальник")
    document = _document(approver)
    with pytest.raises(DecisionSignerMismatch):
        record_signed_decision(
            session=session,
            trust=trust,
            task_id=None,
            signer=approver,
            document=document,
            signature=pki.sign_detached(other.key, other.certificate, document),
        )


def test_document_must_say_what_is_decided(approver: Person) -> None:
    document = _document(approver)
    check_document(
        document, task_id=7, process_id=3, decision="approve", comment="Погоджено", actor_id=approver.id
    )
    with pytest.raises(DecisionDocumentMismatch, match="decision"):
        check_document(
            document, task_id=7, process_id=3, decision="reject", comment="Погоджено", actor_id=approver.id
        )


def test_a_decision_verifies_again_after_its_crl_and_ca_left_the_trust_list(
    session: Session, trust: TrustList, pki_dir: Path, approver: Person
) -> None:
    """Years later the CA's CRL is gone from today's trust list (or the CA itself was withdrawn): the
    chain and CRLs archived with the decision still prove it; without them it could not be proved."""
    stored, _ = _recorded(session, trust, pki_dir, approver)
    assert stored.validation_data is not None and b"BEGIN X509 CRL" in stored.validation_data
    archived = TrustList.from_parts([], []).with_evidence(stored.validation_data)
    assert archived.anchors and archived.intermediates  # the chain up to the root, nothing else needed

    without_crls = TrustList(anchors=trust.anchors, intermediates=trust.intermediates, crls=())
    withdrawn = TrustList(anchors=(), intermediates=(), crls=())
    for today in (without_crls, withdrawn):
        again = reverify_decision(session=session, trust=today, decision_id=stored.id)
        assert again.verification.ok, again.verification.message_uk
        assert again.to_dict()["archived_evidence"] is True

    # A decision stored without its validation data depends on today's trust list: refused.
    session.execute(update(SignedDecision).where(SignedDecision.id == stored.id).values(validation_data=None))
    session.expire_all()
    again = reverify_decision(session=session, trust=without_crls, decision_id=stored.id)
    assert not again.verification.ok and again.verification.reason == "crl_missing"
