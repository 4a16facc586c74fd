"""The email outbox: enqueue a message in the caller's transaction; idempotent by key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from aikom.core.crypto import open_sealed, seal
from aikom.mail.templates import SECRET_VARIABLES, validate_variables
from aikom.models import EmailMessage
from aikom.services.persons import keyring
from aikom.settings import Settings


def message_secret(row: EmailMessage, *, settings: Settings | None = None) -> dict[str, str]:
    """The secret variable of a message, decrypted, to render it for sending ({} when it carries none)."""
    name = SECRET_VARIABLES.get(row.template)
    if name is None or row.secret_ciphertext is None:
        return {}
    plain = open_sealed(
        row.secret_ciphertext, context=secret_context(row.idempotency_key), keyring=keyring(settings)
    )
    return {name: plain.decode()}


def erase_secret(row: EmailMessage) -> None:
    """Forget a message's secret (it was sent, or will never be)."""
    row.secret_ciphertext = None
    row.secret_key_id = None


def secret_context(idempotency_key: str) -> bytes:
    """What a message's secret is bound to: its idempotency key (a ciphertext moved to another row fails)."""
    return b"email_outbox.secret:" + idempotency_key.encode()


@dataclass(frozen=True)
class Outgoing:
    """One message of `enqueue_many`."""

    to_address: str
    variables: BaseModel
    idempotency_key: str
    secret: str | None = field(default=None, repr=False)
    # Headers the message carries (threading: Message-ID, In-Reply-To, References, Auto-Submitted).
    headers: dict[str, str] | None = None


def enqueue(
    *,
    session: Session,
    template: str,
    to_address: str,
    variables: BaseModel,
    idempotency_key: str,
    secret: str | None = None,
    settings: Settings | None = None,
) -> EmailMessage:
    """Write one message to the outbox; a second call with the same key returns the first message.

    A `secret` (the template's secret variable, e.g. a base key) is stored encrypted, put into the message
    only when it is sent, and erased once it is (`aikom.mail.delivery`).
    """
    enqueue_many(
        session=session,
        template=template,
        messages=[Outgoing(to_address, variables, idempotency_key, secret)],
        settings=settings,
    )
    return session.scalars(select(EmailMessage).where(EmailMessage.idempotency_key == idempotency_key)).one()


def enqueue_many(
    *, session: Session, template: str, messages: Sequence[Outgoing], settings: Settings | None = None
) -> dict[str, int]:
    """Write many messages of one template in one statement; idempotent by key. Their ids by key."""
    if not messages:
        return {}
    ring = keyring(settings) if any(m.secret is not None for m in messages) else None
    if ring is not None and template not in SECRET_VARIABLES:
        raise ValueError(f"template {template} carries no secret")
    with_headers = any(m.headers is not None for m in messages)
    if with_headers and not all(m.headers is not None for m in messages):
        raise ValueError("headers for every message of a batch, or for none")
    rows = []
    for m in messages:
        sealed = None
        if m.secret is not None and ring is not None:
            sealed = seal(m.secret.encode(), context=secret_context(m.idempotency_key), keyring=ring)
        rows.append(
            {
                "idempotency_key": m.idempotency_key,
                "to_address": m.to_address,
                "template": template,
                "variables": validate_variables(template, m.variables),
                "secret_ciphertext": sealed,
                "secret_key_id": ring.current_key_id if sealed is not None and ring is not None else None,
            }
            | ({"headers": m.headers} if with_headers else {})
        )
    session.execute(
        insert(EmailMessage).on_conflict_do_nothing(index_elements=[EmailMessage.idempotency_key]), rows
    )
    keys = [m.idempotency_key for m in messages]
    found = session.execute(
        select(EmailMessage.idempotency_key, EmailMessage.id).where(EmailMessage.idempotency_key.in_(keys))
    )
    return {key: message_id for key, message_id in found.tuples()}


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

    from aikom.mail.delivery import sent_message_id
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
                message_id=sent_message_id(row.id, row.headers),
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
