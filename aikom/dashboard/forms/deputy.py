"""Start form of a deputy's appointment: the deputy's card (the school is the director's own)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.forms.person_card import person_card_fields
from aikom.dashboard.labels import plain
from aikom.services.persons import PersonView


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    st.caption(
        plain(f"Заступник діятиме від імені закладу «{person.org_name}»; повноважень керівника він не має.")
    )
    with st.form("deputy"):
        card = person_card_fields("заступника")
        submitted = st.form_submit_button("Створити картку заступника", type="primary")
    if not submitted:
        return None
    return {"person": card}
