"""Start forms of `ois-access`, `ois-revocation` (both live on the page «Доступ ОІС», where the director
sees the connected ОІС and the school's grants) and `key-regeneration` (a reason)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.pages import page
from aikom.services.persons import PersonView


def _on_the_page(what: str) -> None:
    st.info(f"{what} — на сторінці «Доступ ОІС»: там перелік підключених ОІС і доступів вашого закладу.")
    st.page_link(page("ois-access").script, label="Відкрити «Доступ ОІС»", icon=":material/share:")


def render_grant(person: PersonView) -> dict[str, Any] | None:
    """A grant is made on «Доступ ОІС»."""
    _on_the_page("Доступ ОІС надають")
    return None


def render_revocation(person: PersonView) -> dict[str, Any] | None:
    """A revocation is asked for on «Доступ ОІС», beside the grant."""
    _on_the_page("Відкликання доступу ОІС замовляють")
    return None


def render_key_regeneration(person: PersonView) -> dict[str, Any] | None:
    """The reason; the key is the person's own account's API key."""
    st.caption(
        "Після погодження технічним адміністратором ІОА чинний ключ API деактивують, а новий покажуть вам "
        "один раз на сторінці «Ключ API». Доступи ОІС перейдуть на новий ключ — передайте його своїм ОІС."
    )
    with st.form("key_regeneration"):
        reason = st.text_input(
            "Причина (ключ втрачено, скомпрометовано тощо)", max_chars=400, key="kr_reason"
        )
        submitted = st.form_submit_button("Замовити новий ключ API", type="primary", key="kr_submit")
    if not submitted:
        return None
    return {"reason": reason}
