"""Start form of a director replacement: a school its ОУО manages, and the new director."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import plain
from aikom.processes.director_replacement import SPEC
from aikom.services import directors
from aikom.services.persons import PersonView


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    try:
        with unit_of_work() as session:
            actor = session.get_one(directors.Person, person.id)
            schools = directors.managed_schools(session=session, actor=actor)
    except Exception as error:
        show_error(error)
        return None
    if not schools:
        st.info(
            plain(
                f"{SPEC.title_uk}: {SPEC.who_may_start_uk} Серед закладів, якими керує ваш орган "
                f"управління освітою ({person.org_name}), немає жодного з обліковим записом АІКОМ, тому "
                "почати заміну звідси не можна."
            )
        )
        return None
    labels = {
        f"{s.name} (ЄДРПОУ {s.edrpou or '—'}; керівник: {s.director or 'не призначено'})": s.id
        for s in schools
    }
    with st.form("director_replacement"):
        school_label = st.selectbox("Заклад освіти", list(labels), key="school")
        full_name = st.text_input("ПІБ нового керівника", key="full_name", max_chars=300)
        rnokpp = st.text_input("РНОКПП нового керівника", max_chars=10, key="rnokpp")
        email = st.text_input("Електронна пошта нового керівника", key="email", max_chars=320)
        order_no = st.text_input("Номер наказу про призначення", key="order_no", max_chars=30)
        order_date = st.date_input(
            "Дата наказу", value=date.today(), max_value=date.today(), format="DD.MM.YYYY", key="order_date"
        )
        submitted = st.form_submit_button("Почати заміну керівника", type="primary")
    if not submitted:
        return None
    return {
        "school": str(labels[school_label]),
        "new_director": {
            "full_name": full_name,
            "rnokpp": rnokpp,
            "email": email,
            "order_no": order_no,
            "order_date": order_date,
        },
    }
