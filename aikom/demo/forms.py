"""Start form of the demo request (demo mode only)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.labels import plain
from aikom.services.persons import PersonView


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted (the request is about the person's own unit)."""
    with st.form("demo_approval"):
        st.caption(f"Запит стосуватиметься вашої організації: {plain(person.org_name)}.")
        title = st.text_input("Назва кроку погодження", key="demo_title", max_chars=200)
        days = st.number_input(
            "Строк розгляду, робочих днів", min_value=1, max_value=30, value=3, key="demo_days"
        )
        submitted = st.form_submit_button("Подати запит", type="primary")
    if not submitted:
        return None
    return {"org": person.org_unit_id, "title": title or None, "due_business_days": int(days)}
