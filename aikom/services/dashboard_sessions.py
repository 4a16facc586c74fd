"""Dashboard sessions: what keeps a person signed in across a reload or a reconnect.

A КЕП sign-in opens one: the browser keeps a random 256-bit token (a cookie), the database only its
SHA-256. A new browser session presents the token; it is honoured while the session is neither revoked
nor past its idle or absolute limit and the person is still ACTIVE. Signing out revokes it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aikom.models import DashboardSession, Person, PersonState
from aikom.settings import Settings

COOKIE_NAME = "aikom_session"
TOKEN_BYTES = 32


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", errors="replace")).digest()


def open_session(
    *,
    session: Session,
    settings: Settings,
    person_id: int,
    client_key: str | None,
    now: datetime | None = None,
) -> str:
    """Open a session for a person who has just signed in; the token for the browser (shown once)."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        DashboardSession(
            token_hash=_hash(token),
            person_id=person_id,
            client_key=client_key,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.dashboard_session_hours),
        )
    )
    session.flush()
    return token


def resume(
    *, session: Session, settings: Settings, token: str, now: datetime | None = None, touch: bool = True
) -> int | None:
    """The person a presented token signs in, or None (unknown, revoked, idle too long, expired, or the
    person is no longer active). A honoured token counts as activity, unless `touch` is False (a page
    that refreshes itself checks the sign-in without the person doing anything)."""
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(UTC)
    row = session.scalars(
        select(DashboardSession).where(DashboardSession.token_hash == _hash(token)).with_for_update()
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + timedelta(minutes=settings.dashboard_session_idle_minutes) <= now:
        return None
    person = session.get(Person, row.person_id)
    if person is None or person.state != PersonState.ACTIVE:
        return None
    if touch:
        row.last_seen_at = now
        session.flush()
    return row.person_id


def close(*, session: Session, token: str, now: datetime | None = None) -> None:
    """Sign out: the token is never honoured again."""
    session.execute(
        update(DashboardSession)
        .where(DashboardSession.token_hash == _hash(token), DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
