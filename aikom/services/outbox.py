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
