"""Dashboard sessions: a reload keeps a person signed in, within limits; signing out ends it for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.models import DashboardSession, PersonRole, PersonState
from aikom.models.account import Person
from aikom.services import dashboard_sessions
from aikom.settings import Settings
from tests import factories as f

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings() -> Settings:
    return Settings(dashboard_session_idle_minutes=30, dashboard_session_hours=8)


@pytest.fixture
def admin(session: Session) -> Person:
    units = f.cascade(session)
    return f.person(session, f.account(session, units["hromada"]), role=PersonRole.HROMADA_ADMIN)


def _open(session: Session, settings: Settings, person: Person, at: datetime = T0) -> str:
    return dashboard_sessions.open_session(
        session=session, settings=settings, person_id=person.id, client_key="ip:127.0.0.1", now=at
    )


def _resume(session: Session, settings: Settings, token: str, at: datetime) -> int | None:
    return dashboard_sessions.resume(session=session, settings=settings, token=token, now=at)


def test_a_token_signs_the_person_in_again_and_only_its_hash_is_stored(
    session: Session, settings: Settings, admin: Person
) -> None:
    token = _open(session, settings, admin)
    assert len(token) >= 43  # 256 random bits, URL-safe
    assert _resume(session, settings, token, T0 + timedelta(minutes=5)) == admin.id
    row = session.scalars(select(DashboardSession).where(DashboardSession.person_id == admin.id)).one()
    assert token.encode() not in row.token_hash and len(row.token_hash) == 32
    assert row.last_seen_at == T0 + timedelta(minutes=5)  # a honoured token counts as activity
    assert _resume(session, settings, token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is None
    assert _resume(session, settings, "", T0) is None


def test_activity_keeps_a_session_until_its_absolute_limit(
    session: Session, settings: Settings, admin: Person
) -> None:
    token = _open(session, settings, admin)
    at = T0
    for _ in range(15):  # every 29 minutes for 7 h 15 min: never idle for 30 minutes
        at += timedelta(minutes=29)
        assert _resume(session, settings, token, at) == admin.id
    assert _resume(session, settings, token, T0 + timedelta(hours=8)) is None


def test_an_idle_session_ends(session: Session, settings: Settings, admin: Person) -> None:
    token = _open(session, settings, admin)
    assert _resume(session, settings, token, T0 + timedelta(minutes=30)) is None


def test_a_page_that_refreshes_itself_does_not_keep_an_idle_person_signed_in(
    session: Session, settings: Settings, admin: Person
) -> None:
    token = _open(session, settings, admin)
    for minutes in (10, 20, 29):  # «Моніторинг» re-checks its sign-in on its own
        checked = dashboard_sessions.resume(
            session=session, settings=settings, token=token, now=T0 + timedelta(minutes=minutes), touch=False
        )
        assert checked == admin.id
    assert _resume(session, settings, token, T0 + timedelta(minutes=30)) is None  # idle since T0


def test_signing_out_ends_the_session_for_good(session: Session, settings: Settings, admin: Person) -> None:
    token = _open(session, settings, admin)
    other = _open(session, settings, admin)  # another browser of the same person
    dashboard_sessions.close(session=session, token=token, now=T0 + timedelta(minutes=1))
    assert _resume(session, settings, token, T0 + timedelta(minutes=2)) is None
    assert _resume(session, settings, other, T0 + timedelta(minutes=2)) == admin.id


def test_a_person_no_longer_active_is_not_signed_in_again(
    session: Session, settings: Settings, admin: Person
) -> None:
    token = _open(session, settings, admin)
    admin.state = PersonState.INACTIVE
    session.flush()
    assert _resume(session, settings, token, T0 + timedelta(minutes=1)) is None
