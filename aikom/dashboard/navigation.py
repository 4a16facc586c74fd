"""The menu of whoever is signed in, built from the page registry on every rerun, and the check every page
makes again when it opens.

Every registered page is routable, but only the pages a person may use are in their menu; the others are
registered hidden, so that an address typed or followed from an email (`/tasks?task=7`) answers in
Ukrainian — «sign in first» (and back to that address after signing in) or «not for your role» — instead
of Streamlit's English «Page not found». Streamlit serves the default page at "/" only, never at its own
address, so the default is a small landing page that sends each person on to their first page.
"""

from __future__ import annotations

from typing import Any, NoReturn

import streamlit as st

from aikom.dashboard.context import current_person
from aikom.dashboard.labels import plain
from aikom.dashboard.pages import LANDING, WORK, PageSpec, menu_for, page, registered_pages
from aikom.services.persons import PersonView

AFTER_SIGNIN_KEY = "after_signin"  # the page (and its query) to open once the person has signed in
SIGNIN_HINT_KEY = "signin_hint"


def _streamlit_page(spec: PageSpec, *, visible: bool = True, default: bool = False) -> st.Page:
    return st.Page(
        spec.script,
        title=spec.title,
        icon=spec.icon,
        url_path=spec.url_path or None,
        default=default,
        visibility="visible" if visible else "hidden",
    )


def build(person: PersonView | None) -> dict[str, list[st.Page]]:
    """The sections of the menu for `person` (None: nobody signed in), with the hidden routes."""
    # Hidden pages go to the unnamed first section, so that no section shows a heading without pages.
    sections: dict[str, list[st.Page]] = {"": [_streamlit_page(LANDING, visible=False, default=True)]}
    shown = {spec.url_path for spec in menu_for(person)}
    for spec in registered_pages():
        visible = spec.url_path in shown
        sections.setdefault(spec.section if visible else "", []).append(
            _streamlit_page(spec, visible=visible)
        )
    return sections


def home(person: PersonView | None) -> PageSpec:
    """Where "/" leads `person`: their first work page, else their first page (sign-in when anonymous)."""
    menu = menu_for(person)
    return next((spec for spec in menu if spec.section == WORK), menu[0] if menu else page("signin"))


def switch_to(url_path: str, query: dict[str, Any] | None = None) -> NoReturn:
    """Open another registered page (with these query parameters)."""
    st.switch_page(_streamlit_page(page(url_path)), query_params=query)
    raise AssertionError("st.switch_page returned")  # pragma: no cover - it always reruns


def open_page(url_path: str) -> PersonView:
    """The check a page makes when it opens: the person signed in (else off to sign-in, and back here
    afterwards) and allowed to use it by their role (else a refusal that says who may, and the page stops)."""
    spec = page(url_path)
    person = current_person()
    if person is None:
        st.session_state[AFTER_SIGNIN_KEY] = (
            url_path,
            {k: st.query_params.get_all(k) for k in st.query_params},
        )
        st.session_state[SIGNIN_HINT_KEY] = (
            f"Увійдіть до системи з КЕП, щоб відкрити сторінку «{spec.title}»."
        )
        switch_to("signin")
    if not spec.allows(person):
        st.title(spec.title)
        st.error(plain(spec.refusal()))
        st.stop()
    return person


def after_signin() -> NoReturn:
    """Once signed in: back to the page that asked for it, else to the person's first page."""
    target = st.session_state.pop(AFTER_SIGNIN_KEY, None)
    if target is not None:
        url_path, query = target
        switch_to(url_path, query)
    switch_to(home(current_person()).url_path)
