"""Bulk decisions: several tasks decided with ONE КЕП signature over a batch document.

The batch document lists every selected task with its process, decision and comment, and names the
decider; it is signed once. `check_batch` verifies the signature and that the document lists exactly
the selection; each task is then decided on its own (`decide_item`), so that one a rule refuses is
reported while the others go through. Every decided task keeps the batch document and its signature, so
each decision can be re-verified on its own years later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.decisions import BatchDecisionDocument, BatchItem
from aikom.core.errors import DomainError, ValidationFailed
from aikom.models import ApprovalTask, Decision, Person, SignedDecision
from aikom.services import approvals
from aikom.services.approvals import DOCUMENT_CLOCK_SKEW, DOCUMENT_MAX_AGE, SignedPayload
from aikom.settings import get_settings

if TYPE_CHECKING:
    from aikom.core.kep.trust import TrustList

MAX_BATCH = 200


class BatchDocumentMismatch(DomainError):
    """The signed batch document does not list exactly what was selected."""

    code = "batch_document_mismatch"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Підписаний пакетний документ не відповідає вибраним завданням: {detail}.")


Choice = tuple[int, Decision, str | None]  # (task, decision, comment)


def _processes_of(session: Session, task_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(ApprovalTask.id, ApprovalTask.process_id).where(ApprovalTask.id.in_(task_ids))
    )
    return {task_id: process_id for task_id, process_id in rows}


def batch_document(
    *,
    session: Session,
    actor: Person,
    choices: list[Choice],
    at: datetime | None = None,
) -> bytes:
    """The canonical batch document to sign: each (task, decision, comment) the actor chose."""
    if not choices:
        raise ValidationFailed("tasks", "Завдання: виберіть хоча б одне завдання.")
    if len(choices) > MAX_BATCH:
        raise ValidationFailed("tasks", f"Завдання: не більше {MAX_BATCH} завдань в одному пакеті.")
    ids = [task_id for task_id, _, _ in choices]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("tasks", "Завдання: кожне завдання може бути в пакеті лише раз.")
    processes = _processes_of(session, ids)
    missing = [task_id for task_id in ids if task_id not in processes]
    if missing:
        raise ValidationFailed("tasks", f"Завдання: №{', №'.join(map(str, missing))} не знайдено.")
    items = [
        BatchItem(
            task=task_id, process=processes[task_id], decision=decision.value, comment=(comment or "").strip()
        )
        for task_id, decision, comment in choices
    ]
    return BatchDecisionDocument.create(actor=actor.id, items=items, at=at).to_bytes()


def check_batch(
    *,
    session: Session,
    actor: Person,
    signed: SignedPayload,
    task_ids: list[int],
    trust: TrustList | None,
    now: datetime | None = None,
) -> BatchDecisionDocument:
    """The signed batch document, once its signature is verified and it lists exactly `task_ids`."""
    from aikom.services.decisions import verify_signer
    from aikom.services.trust import current_trust_list

    now = now or datetime.now(UTC)
    try:
        document = BatchDecisionDocument.from_bytes(signed.document)
    except ValueError:
        raise BatchDocumentMismatch("документ пошкоджений або не є пакетним документом рішень") from None
    if document.actor != actor.id:
        raise BatchDocumentMismatch("його сформовано для іншої особи")
    listed = sorted(item.task for item in document.items)
    if listed != sorted(set(task_ids)) or len(listed) != len(task_ids):
        chosen = ", ".join(map(str, sorted(task_ids)))
        raise BatchDocumentMismatch(f"у документі завдання {', '.join(map(str, listed))}, а вибрано {chosen}")
    processes = _processes_of(session, listed)
    for item in document.items:
        if processes.get(item.task) != item.process:
            raise BatchDocumentMismatch(f"завдання №{item.task} належить іншому процесу")
        Decision(item.decision)
    if not now - DOCUMENT_MAX_AGE <= document.signed_at <= now + DOCUMENT_CLOCK_SKEW:
        raise BatchDocumentMismatch("його сформовано давно або з часом із майбутнього; сформуйте заново")
    settings = get_settings()
    verify_signer(
        session=session,
        trust=trust if trust is not None else current_trust_list(settings),
        signer=actor,
        document=signed.document,
        signature=signed.signature,
        at=now,
        max_bytes=settings.max_signature_bytes,
    )
    return document


def decide_item(
    *,
    session: Session,
    actor: Person,
    signed: SignedPayload,
    item: BatchItem,
    trust: TrustList | None = None,
    now: datetime | None = None,
) -> ApprovalTask:
    """Decide one task of a verified batch: every rule checked for this task; the batch signature kept."""
    from aikom.services.decisions import store_signed_decision, verify_signer
    from aikom.services.trust import current_trust_list

    now = now or datetime.now(UTC)
    settings = get_settings()
    trust = trust if trust is not None else current_trust_list(settings)

    def keep_signature(task: ApprovalTask) -> SignedDecision:
        verification = verify_signer(
            session=session,
            trust=trust,
            signer=actor,
            document=signed.document,
            signature=signed.signature,
            at=now,
            max_bytes=settings.max_signature_bytes,
        )
        return store_signed_decision(
            session=session,
            trust=trust,
            task_id=task.id,
            signer=actor,
            document=signed.document,
            signature=signed.signature,
            verification=verification,
        )

    return approvals.decide_with(
        session=session,
        task_id=item.task,
        actor=actor,
        decision=Decision(item.decision),
        comment=item.comment or None,
        sign=keep_signature,
        now=now,
    )
