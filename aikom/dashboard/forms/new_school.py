"""Start form of the new-school process: a school the ОУО cannot find in АІКОМ, with its ЄДРПОУ."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.labels import plain
from aikom.processes.new_school import SPEC
from aikom.services.persons import PersonView


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    st.caption(
        plain(
            f"Заклад подається від імені «{person.org_name}». Служба підтримки розгляне звернення, а "
            "технічний адміністратор ІОА перевірить код за ЄДР та ЄДЕБО; про результат ви отримаєте лист."
        )
    )
    with st.form("new_school"):
        edrpou = st.text_input("Код ЄДРПОУ закладу (8 цифр)", max_chars=8, key="edrpou")
        name = st.text_input("Повна назва закладу", max_chars=500, key="name")
        settlement = st.text_input("Населений пункт", max_chars=300, key="settlement")
        edebo_id = st.text_input("Код закладу в ЄДЕБО (якщо відомий)", max_chars=20, key="edebo_id")
        comment = st.text_area("Коментар для служби підтримки", max_chars=5000, key="comment")
        submitted = st.form_submit_button("Подати звернення", type="primary")
    if not submitted:
        return None
    return {
        "edrpou": edrpou,
        "name": name,
        "settlement": settlement,
        "edebo_id": edebo_id or None,
        "comment": comment or None,
    }


__all__ = ["SPEC", "render"]
