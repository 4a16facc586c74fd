"""Housekeeping deletes sign-in leftovers that outlived their use, and nothing that is still of use."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.db import unit_of_work
from aikom.models import DashboardSession, PersonRole, SigninAttempt, SigninChallenge
from aikom.services.housekeeping import purge_expired
from aikom.services.reconcile import reconcile
from tests import factories as f

NOW = datetime.now(UTC)


def _leftovers(session: Session, *, age: timedelta) -> tuple[int, int, int]:
    """A revoked dashboard session, an expired challenge and a failed attempt, each `age` old."""
    units = f.cascade(session)
    person = f.person(session, f.account(session, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
    then = NOW - age
    dash = DashboardSession(
        token_hash=f.rnokpp().encode().ljust(32, b"x"),
        person_id=person.id,
        last_seen_at=then,
        expires_at=then + timedelta(hours=12),
        revoked_at=then + timedelta(hours=1),
    )
    challenge = SigninChallenge(nonce=f"old-{f.rnokpp()}", expires_at=then + timedelta(minutes=5))
    attempt = SigninAttempt(client_key="ip:192.0.2.1", ok=False, reason="bad_signature", at=then)
    session.add_all([dash, challenge, attempt])
    session.flush()
    return dash.id, challenge.id, attempt.id


def _exists(session: Session, ids: tuple[int, int, int]) -> tuple[bool, bool, bool]:
    session.expire_all()
    kinds = (DashboardSession, SigninChallenge, SigninAttempt)
    return tuple(  # type: ignore[return-value]
        session.scalar(select(kind.id).where(kind.id == row_id)) is not None
        for kind, row_id in zip(kinds, ids, strict=True)
    )


def test_old_leftovers_go_and_recent_ones_stay(session: Session) -> None:
    old = _leftovers(session, age=timedelta(days=120))
    recent = _leftovers(session, age=timedelta(days=2))  # a challenge 2 days old goes; the rest stays
    purged = purge_expired(session=session, now=NOW)
    assert _exists(session, old) == (False, False, False)
    assert _exists(session, recent) == (True, False, True)
    assert purged.dashboard_sessions >= 1 and purged.signin_challenges >= 2 and purged.signin_attempts >= 1


def test_the_reconciler_purges_even_while_prefect_is_down(database_url: str) -> None:
    with unit_of_work(database_url) as s:
        old = _leftovers(s, age=timedelta(days=120))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    report = reconcile(db_url=database_url, api_url=dead)
    assert not report.orchestrator_available
    assert report.purged.dashboard_sessions >= 1
    with unit_of_work(database_url) as s:
        assert _exists(s, old) == (False, False, False)
