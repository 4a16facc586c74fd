"""Signed decisions: verify an approver's КЕП signature over the canonical decision document and keep
everything needed to verify it again years later (signed bytes, signature, certificate, outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from aikom.core.decisions import BatchDecisionDocument, DecisionDocument, parse_decision_document
from aikom.core.errors import DomainError, NotFound
from aikom.core.kep.reasons import Purpose
from aikom.core.kep.trust import TrustList
from aikom.core.kep.verify import Verification, verify_detached
from aikom.models import OrgUnit, Person, SignedDecision
from aikom.services.org import effective_edrpou
from aikom.services.persons import read_rnokpp


class DecisionSignatureInvalid(DomainError):
    """The decision's КЕП signature was refused; the decision is not taken."""

    code = "decision_signature_invalid"

    def __init__(self, verification: Verification) -> None:
        super().__init__(
            f"Підпис рішення не прийнято: {verification.message_uk}",
            reason=verification.reason.value if verification.reason else None,
        )
        self.verification = verification


class DecisionSignerMismatch(DomainError):
    """The decision was signed with someone else's certificate."""

    code = "decision_signer_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "Рішення підписано КЕП іншої особи: РНОКПП і ЄДРПОУ сертифіката мають збігатися з вашими."
        )


class DecisionDocumentMismatch(DomainError):
    """The signed document is not the decision being taken."""

    code = "decision_document_mismatch"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Підписаний документ не відповідає рішенню: {detail}.")


def check_document(
    document: bytes, *, task_id: int, process_id: int, decision: str, comment: str | None, actor_id: int
) -> DecisionDocument:
    """Parse the signed document and check it says exactly what is being decided."""
    try:
        parsed = DecisionDocument.from_bytes(document)
    except ValueError as error:
        raise DecisionDocumentMismatch("документ пошкоджений або не в канонічному вигляді") from error
    expected = {
        "task": task_id,
        "process": process_id,
        "decision": decision,
        "comment": (comment or "").strip(),
        "actor": actor_id,
    }
    for field, value in expected.items():
        if getattr(parsed, field) != value:
            raise DecisionDocumentMismatch(f"поле «{field}» має інше значення")
    return parsed


def verify_signer(
    *,
    session: Session,
    trust: TrustList,
    signer: Person,
    document: bytes,
    signature: bytes,
    at: datetime,
    max_bytes: int = 1_000_000,
) -> Verification:
    """The signature over `document` is valid (nonRepudiation, as of `at`) and the signer's own КЕП."""
    verification = verify_detached(
        signature, document, trust=trust, purpose=Purpose.DECISION, at=at, max_bytes=max_bytes
    )
    if not verification.ok:
        raise DecisionSignatureInvalid(verification)
    identity = verification.identity
    unit = session.get(OrgUnit, signer.org_unit_id)
    if (
        identity is None
        or unit is None
        or identity.rnokpp is None
        or identity.rnokpp != read_rnokpp(signer)
        or identity.edrpou != effective_edrpou(session, unit)
    ):
        raise DecisionSignerMismatch()
    return verification


def store_signed_decision(
    *,
    session: Session,
    trust: TrustList,
    task_id: int | None,
    signer: Person,
    document: bytes,
    signature: bytes,
    verification: Verification,
) -> SignedDecision:
    """Keep a verified signature with everything needed to verify it again years later."""
    der = verification.certificate_der
    stored = SignedDecision(
        task_id=task_id,
        signer_person_id=signer.id,
        document=document,
        signature=signature,
        certificate=der,
        validation_data=trust.evidence_for(der) if der else None,
        verified_ok=True,
        verification_reason=None,
    )
    session.add(stored)
    session.flush()
    return stored


def record_signed_decision(
    *,
    session: Session,
    trust: TrustList,
    task_id: int | None,
    signer: Person,
    document: bytes,
    signature: bytes,
    max_bytes: int = 1_000_000,
    at: datetime | None = None,
) -> SignedDecision:
    """Verify the signature (nonRepudiation required) and that it is the signer's; store it.

    The certificate is validated as of `at` (a decision taken now: now), else the document's own time.
    """
    try:
        parsed = parse_decision_document(document)
    except ValueError as error:
        raise DecisionDocumentMismatch("документ пошкоджений або не в канонічному вигляді") from error
    verification = verify_signer(
        session=session,
        trust=trust,
        signer=signer,
        document=document,
        signature=signature,
        at=at or parsed.signed_at,
        max_bytes=max_bytes,
    )
    return store_signed_decision(
        session=session,
        trust=trust,
        task_id=task_id,
        signer=signer,
        document=document,
        signature=signature,
        verification=verification,
    )


@dataclass(frozen=True)
class Reverification:
    """A stored decision checked again now."""

    decision_id: int
    stored_ok: bool
    verification: Verification
    document: DecisionDocument | BatchDecisionDocument | None
    archived_evidence: bool = False  # verified with the CA chain and CRLs kept at decision time

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "decision_id": self.decision_id,
            "stored_ok": self.stored_ok,
            "ok": self.verification.ok,
            "reason": self.verification.reason.value if self.verification.reason else None,
            "message": self.verification.message_uk,
            "identity": self.verification.identity.to_dict() if self.verification.identity else None,
            "document": _document_dict(self.document),
            "archived_evidence": self.archived_evidence,
        }


def _document_dict(document: DecisionDocument | BatchDecisionDocument | None) -> dict[str, object] | None:
    if document is None:
        return None
    data = dict(document.__dict__)
    if isinstance(document, BatchDecisionDocument):
        data["items"] = [item.__dict__ for item in document.items]
    return data


def reverify_decision(*, session: Session, trust: TrustList, decision_id: int) -> Reverification:
    """Verify a stored decision again from its stored bytes, at the time it was signed, with the
    validation data archived with it (plus today's trust list)."""
    stored = session.get(SignedDecision, decision_id)
    if stored is None:
        raise NotFound(f"Рішення № {decision_id} не знайдено.")
    try:
        document: DecisionDocument | BatchDecisionDocument | None = parse_decision_document(stored.document)
    except ValueError:
        document = None
    verification = verify_detached(
        stored.signature,
        stored.document,
        trust=trust.with_evidence(stored.validation_data) if stored.validation_data else trust,
        purpose=Purpose.DECISION,
        at=document.signed_at if document else stored.verified_at,
    )
    return Reverification(
        decision_id=decision_id,
        stored_ok=stored.verified_ok,
        verification=verification,
        document=document,
        archived_evidence=stored.validation_data is not None,
    )
