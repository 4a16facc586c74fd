"""Start form of cascade provisioning: a unit one level down and its admin person (a school's director)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.forms.person_card import person_card_fields
from aikom.dashboard.labels import plain
from aikom.processes.cascade_provisioning import SPEC
from aikom.services.persons import PersonView
from aikom.services.provisioning import provisionable_units

ACCOUNT_STATES_UK = {
    None: "облікового запису ще немає",
    "pending": "обліковий запис очікує першого входу",
    "active": "обліковий запис чинний",
    "suspended": "обліковий запис призупинено",
    "deactivated": "обліковий запис деактивовано",
}


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    try:
        with unit_of_work() as session:
            units = provisionable_units(session=session, person_id=person.id)
    except Exception as error:
        show_error(error)
        return None
    if not units:
        st.info(
            plain(
                f"{SPEC.title_uk}: {SPEC.who_may_start_uk} Нижче від «{person.org_name}» таких одиниць немає."
            )
        )
        return None
    labels = {
        f"{u.name} (ЄДРПОУ {u.edrpou or '—'}; {ACCOUNT_STATES_UK.get(u.account_state, u.account_state)}; "
        f"осіб: {u.persons})": u
        for u in units
    }
    with st.form("cascade_provisioning"):
        label = st.selectbox("Одиниця (на рівень нижче)", list(labels), key="unit")
        card = person_card_fields("адміністратора або керівника")
        official_email = st.text_input(
            "Офіційна електронна пошта одиниці (на неї надійде базовий ключ; порожньо — з реєстру)",
            key="official_email",
            max_chars=320,
        )
        submitted = st.form_submit_button("Створити обліковий запис і картку", type="primary")
    if not submitted:
        return None
    unit = labels[label]
    return {"unit": f"id:{unit.id}", "person": card, "official_email": official_email.strip() or None}
