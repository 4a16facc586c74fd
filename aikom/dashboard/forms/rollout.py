"""Start form of a national rollout: the level of the units and the scope (the country or an oblast)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.services.org import oblasts_within
from aikom.services.persons import PersonView
from aikom.services.rollout import LEVEL_PLURAL_UK

COUNTRY = "Уся країна"


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    try:
        with unit_of_work() as session:
            oblasts = oblasts_within(session=session, unit_id=person.org_unit_id)
    except Exception as error:
        show_error(error)
        return None
    scopes = {COUNTRY: None} | {o.name: f"id:{o.id}" for o in oblasts}
    levels = {label.capitalize(): level for level, label in LEVEL_PLURAL_UK.items()}
    with st.form("rollout"):
        level = st.selectbox("Які одиниці відкрити", list(levels), index=len(levels) - 1, key="level")
        scope = st.selectbox("Охоплення", list(scopes), key="scope")
        st.caption(
            "Після погодження іншим адміністратором ІОА (рішення підписують КЕП) кожна одиниця отримає "
            "обліковий запис, базовий ключ і ключ API; базовий ключ надійде на її офіційну пошту з реєстру."
        )
        submitted = st.form_submit_button("Почати розгортання", type="primary")
    if not submitted:
        return None
    return {"level": levels[level], "scope": scopes[scope]}
