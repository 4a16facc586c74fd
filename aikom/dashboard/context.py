"""What every dashboard page shares: the database, the signed-in person, error display."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.orm import Session

from aikom import db
from aikom.core.errors import DomainError
from aikom.dashboard.labels import plain
from aikom.services import dashboard_sessions
from aikom.services.persons import PersonView, person_view
from aikom.settings import Settings, get_settings

_log = logging.getLogger(__name__)

PERSON_KEY = "person_id"
TOKEN_KEY = "session_token"
CHECKED_KEY = "session_checked_at"
SIGNED_OUT_KEY = "signed_out"
COOKIE_SCRIPT_KEY = "cookie_script"
ENDED_KEY = "session_ended"
SESSION_ENDED_UK = "Сеанс завершено (тривала бездіяльність або вихід в іншій вкладці). Увійдіть знову."
FLASH_KEY = "flash_messages"
# The messages the last full run showed: a rerun the page makes by itself (a new task arrived) shows them
# again, so a message is never taken away before the person could read it — only their next action is.
SHOWN_FLASH_KEY = "flash_messages_shown"
RECHECK_SECONDS = 60  # how often a running page confirms its sign-in still holds (idle, revoked)
# A new API key a page reveals once is kept in the browser session so that a rerun does not lose it; it
# belongs to the person who revealed it: forgotten when they sign out, or anyone signs in, in that browser.
API_KEY_SHOWN = "api_key_shown"  # «Ключ API»
OIS_ACCESS_KEY_SHOWN = "ois_access_key_shown"  # «Доступ ОІС»
SHOWN_ONCE_KEYS = (API_KEY_SHOWN, OIS_ACCESS_KEY_SHOWN)


def settings() -> Settings:
    """The dashboard's settings."""
    return get_settings()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for a page action (the engine is cached per process by `aikom.db`)."""
    with db.unit_of_work(settings().database_url) as session:
        yield session


def current_person(*, activity: bool = True) -> PersonView | None:
    """The signed-in person, or None.

    A new browser session (a reload, a reconnect) is signed in again from the session cookie; a signed-in
    page re-checks its dashboard session now and then, so an idle, expired or revoked one ends here too.
    `activity=False` for a part of a page that reruns by itself: its re-checks do not count as the
    person being active.
    """
    if PERSON_KEY not in st.session_state and not st.session_state.get(SIGNED_OUT_KEY):
        _resume_from_cookie()
    person_id = st.session_state.get(PERSON_KEY)
    if person_id is None:
        return None
    token = st.session_state.get(TOKEN_KEY)
    recheck_due = time.monotonic() - st.session_state.get(CHECKED_KEY, 0.0) > RECHECK_SECONDS
    if token and recheck_due and _resume(str(token), touch=activity) != person_id:
        end_session(notice=SESSION_ENDED_UK)
        return None
    try:
        with unit_of_work() as session:
            return person_view(session=session, person_id=int(person_id))
    except DomainError:
        st.session_state.pop(PERSON_KEY, None)
        return None


def _resume(token: str, *, touch: bool = True) -> int | None:
    with unit_of_work() as session:
        person_id = dashboard_sessions.resume(session=session, settings=settings(), token=token, touch=touch)
    st.session_state[CHECKED_KEY] = time.monotonic()
    return person_id


def _resume_from_cookie() -> None:
    token = st.context.cookies.get(dashboard_sessions.COOKIE_NAME)
    if not isinstance(token, str) or not token:  # (no cookie, or a test harness without cookies)
        return
    person_id = _resume(token)
    if person_id is None:
        _set_cookie(None)  # a stale cookie is dropped
        return
    st.session_state[PERSON_KEY] = person_id
    st.session_state[TOKEN_KEY] = token


def start_session(person_id: int, client_key: str | None) -> None:
    """Sign the person in: a dashboard session row, the token in this browser's cookie."""
    with unit_of_work() as session:
        token = dashboard_sessions.open_session(
            session=session, settings=settings(), person_id=person_id, client_key=client_key
        )
    st.session_state[PERSON_KEY] = person_id
    st.session_state[TOKEN_KEY] = token
    st.session_state[CHECKED_KEY] = time.monotonic()
    st.session_state.pop(SIGNED_OUT_KEY, None)
    _forget_shown_once()
    _set_cookie(token)


def end_session(notice: str | None = None) -> None:
    """Sign out: the session revoked in the database, the cookie dropped, this page signed out."""
    token = st.session_state.pop(TOKEN_KEY, None)
    if token:
        with unit_of_work() as session:
            dashboard_sessions.close(session=session, token=str(token))
    st.session_state.pop(PERSON_KEY, None)
    _forget_shown_once()
    st.session_state[SIGNED_OUT_KEY] = True  # this browser session's cookie header is stale now
    if notice:
        st.session_state[ENDED_KEY] = notice
    _set_cookie(None)


def _forget_shown_once() -> None:
    for key in SHOWN_ONCE_KEYS:
        st.session_state.pop(key, None)


def _set_cookie(token: str | None) -> None:
    """Set the script that sets (or, for None, drops) the session cookie; `render_cookie` emits it."""
    url = st.context.url
    secure = "; Secure" if isinstance(url, str) and url.startswith("https:") else ""
    max_age = settings().dashboard_session_hours * 3600 if token else 0
    st.session_state[COOKIE_SCRIPT_KEY] = (
        f'document.cookie = "{dashboard_sessions.COOKIE_NAME}={token or ""}; path=/; '
        f'max-age={max_age}; SameSite=Strict{secure}";'
    )


def render_cookie() -> None:
    """Emit the latest cookie change; the app calls this on every run. It is emitted again on each run
    (setting the same cookie twice is harmless), so a run that a newer one interrupted loses nothing."""
    script = st.session_state.get(COOKIE_SCRIPT_KEY)
    if script:
        st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def flash(message: str, kind: str = "success") -> None:
    """A message for the next run (after `st.rerun` or a page switch); the entry script shows it."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flashes() -> None:
    """Show (once) the messages left for this run."""
    messages = st.session_state.pop(FLASH_KEY, [])
    st.session_state[SHOWN_FLASH_KEY] = list(messages)
    for kind, message in messages:
        {"success": st.success, "warning": st.warning, "info": st.info}.get(kind, st.error)(plain(message))


def rerun_by_itself(message: str | None = None, kind: str = "info") -> None:
    """Rerun the whole page on the page's own initiative (not the person's): the messages on screen stay,
    and `message`, when given, is added below them."""
    kept = st.session_state.get(SHOWN_FLASH_KEY, [])
    st.session_state[FLASH_KEY] = [*kept, *st.session_state.get(FLASH_KEY, [])]
    if message is not None and (kind, message) not in st.session_state[FLASH_KEY]:
        flash(message, kind)
    st.rerun(scope="app")


def show_error(error: Exception) -> None:
    """Show a refusal as a Ukrainian message; unexpected errors without a traceback."""
    if isinstance(error, DomainError):
        st.error(plain(error.message_uk))  # a message may quote what people typed (names, titles)
    else:
        _log.error("dashboard page error", exc_info=error)
        st.error("Сталася непередбачена помилка. Спробуйте ще раз або зверніться до служби підтримки.")
