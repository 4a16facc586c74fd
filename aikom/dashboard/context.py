"""What every dashboard page shares: the database, the signed-in person, error display."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.orm import Session

from aikom import db
from aikom.core.errors import DomainError
from aikom.services.persons import PersonView, person_view
from aikom.settings import Settings, get_settings

PERSON_KEY = "person_id"


def settings() -> Settings:
    """The dashboard's settings."""
    return get_settings()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for a page action (the engine is cached per process by `aikom.db`)."""
    with db.unit_of_work(settings().database_url) as session:
        yield session


def current_person() -> PersonView | None:
    """The signed-in person, or None."""
    person_id = st.session_state.get(PERSON_KEY)
    if person_id is None:
        return None
    try:
        with unit_of_work() as session:
            return person_view(session=session, person_id=int(person_id))
    except DomainError:
        st.session_state.pop(PERSON_KEY, None)
        return None


def require_person() -> PersonView:
    """The signed-in person; otherwise show a hint and stop the page."""
    person = current_person()
    if person is None:
        st.info("Увійдіть до системи з КЕП на сторінці «Вхід».")
        st.stop()
    assert person is not None
    return person


def show_error(error: Exception) -> None:
    """Show a refusal as a Ukrainian message; unexpected errors without a traceback."""
    if isinstance(error, DomainError):
        st.error(error.message_uk)
    else:
        st.error("Сталася непередбачена помилка. Спробуйте ще раз або зверніться до служби підтримки.")
