"""Housekeeping: sign-in leftovers that no longer serve any purpose are deleted (the reconciler runs it).

- dashboard sessions: a month after they expired or were revoked;
- sign-in challenges: a day after they expired (each is single-use and lives minutes);
- sign-in attempts: after `ATTEMPTS_KEPT` (they serve rate limiting and investigation);
- new API keys nobody revealed within their delivery window: the encrypted secret is erased.
Decisions, audit entries, persons and processes are never deleted here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from aikom.models import DashboardSession, SigninAttempt, SigninChallenge
from aikom.services.accounts import erase_expired_deliveries

SESSIONS_KEPT = timedelta(days=30)
CHALLENGES_KEPT = timedelta(days=1)
ATTEMPTS_KEPT = timedelta(days=90)


class Purged(BaseModel):
    """How many rows each kind lost."""

    dashboard_sessions: int = 0
    signin_challenges: int = 0
    signin_attempts: int = 0
    key_deliveries_erased: int = 0


def purge_expired(*, session: Session, now: datetime | None = None) -> Purged:
    """Delete what has outlived its use (see the module docstring); the counts."""
    now = now or datetime.now(UTC)
    sessions = session.execute(
        delete(DashboardSession).where(
            or_(
                DashboardSession.expires_at < now - SESSIONS_KEPT,
                DashboardSession.revoked_at < now - SESSIONS_KEPT,
            )
        )
    )
    challenges = session.execute(
        delete(SigninChallenge).where(SigninChallenge.expires_at < now - CHALLENGES_KEPT)
    )
    attempts = session.execute(delete(SigninAttempt).where(SigninAttempt.at < now - ATTEMPTS_KEPT))
    erased = erase_expired_deliveries(session=session, now=now)
    return Purged(
        key_deliveries_erased=erased,
        dashboard_sessions=int(sessions.rowcount or 0),  # type: ignore[attr-defined]
        signin_challenges=int(challenges.rowcount or 0),  # type: ignore[attr-defined]
        signin_attempts=int(attempts.rowcount or 0),  # type: ignore[attr-defined]
    )
