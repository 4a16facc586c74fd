"""The email outbox: enqueue a message in the caller's transaction; idempotent by key."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.mail.templates import validate_variables
from aikom.models import EmailMessage


def enqueue(
    *,
    session: Session,
    template: str,
    to_address: str,
    variables: BaseModel,
    idempotency_key: str,
) -> EmailMessage:
    """Write one message to the outbox; a second call with the same key returns the first message."""
    data = validate_variables(template, variables)
    stmt = (
        insert(EmailMessage)
        .values(idempotency_key=idempotency_key, to_address=to_address, template=template, variables=data)
        .on_conflict_do_nothing(index_elements=[EmailMessage.idempotency_key])
    )
    session.execute(stmt)
    message = session.scalars(
        select(EmailMessage).where(EmailMessage.idempotency_key == idempotency_key)
    ).one()
    return message


class OutboxEntry(BaseModel):
    """An outbox message as an operator sees it: never its variables (they may hold a key)."""

    id: int
    message_id: str
    to_address: str
    template: str
    state: str
    attempts: int
    last_error: str | None
    sent_at: str | None


class OutboxSummary(BaseModel):
    """Messages per delivery state, and the latest messages."""

    counts: dict[str, int]
    messages: list[OutboxEntry]


def outbox_summary(*, session: Session, limit: int = 100) -> OutboxSummary:
    """Counts per state and the `limit` latest messages, newest first."""
    from sqlalchemy import func

    from aikom.mail.delivery import message_id
    from aikom.models import EmailState

    counts = {state.value: 0 for state in EmailState}
    for state, n in session.execute(select(EmailMessage.state, func.count()).group_by(EmailMessage.state)):
        counts[str(state)] = n
    rows = session.scalars(select(EmailMessage).order_by(EmailMessage.id.desc()).limit(limit)).all()
    return OutboxSummary(
        counts=counts,
        messages=[
            OutboxEntry(
                id=row.id,
                message_id=message_id(row.id),
                to_address=row.to_address,
                template=row.template,
                state=row.state.value,
                attempts=row.attempts,
                last_error=row.last_error,
                sent_at=row.sent_at.isoformat() if row.sent_at else None,
            )
            for row in rows
        ],
    )
