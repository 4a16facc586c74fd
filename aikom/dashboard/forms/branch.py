"""Start form of a branch's creation: the branch of the director's own hub school, with or without its own
ЄДРПОУ (with it: its official email and its head)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.core.errors import DomainError
from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.forms.person_card import person_card_fields
from aikom.dashboard.labels import plain
from aikom.services.branches import branch_hub
from aikom.services.persons import PersonView

WITHOUT_EDRPOU = "Без власного ЄДРПОУ — працівники діють в обліковому записі опорного закладу"
WITH_EDRPOU = "З власним ЄДРПОУ — окремий обліковий запис, ключі й керівник філії"


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    try:
        with unit_of_work() as session:
            hub = branch_hub(session=session, person_id=person.id)
    except DomainError as refusal:
        st.info(plain(refusal.message_uk))
        return None
    except Exception as error:
        show_error(error)
        return None
    st.caption(
        plain(
            f"Філія опорного закладу «{hub.name}» (ЄДРПОУ {hub.edrpou or '—'}); її підтверджує "
            f"«{hub.managing_body}». Чинні філії: {', '.join(hub.branches) or 'немає'}."
        )
    )
    own = st.radio("ЄДРПОУ філії", [WITHOUT_EDRPOU, WITH_EDRPOU], key="branch_kind") == WITH_EDRPOU
    with st.form("branch"):
        name = st.text_input("Назва філії", key="branch_name", max_chars=500)
        settlement = st.text_input("Населений пункт", key="branch_settlement", max_chars=300)
        edebo_id = st.text_input("Код ЄДЕБО (якщо є)", key="branch_edebo_id", max_chars=20)
        edrpou = official_email = ""
        head: dict[str, str] | None = None
        if own:
            edrpou = st.text_input("ЄДРПОУ філії", key="branch_edrpou", max_chars=8)
            official_email = st.text_input(
                "Офіційна електронна пошта філії (на неї надійде базовий ключ)",
                key="branch_official_email",
                max_chars=320,
            )
            head = person_card_fields("керівника філії")
        submitted = st.form_submit_button("Надіслати на підтвердження ОУО", type="primary")
    if not submitted:
        return None
    if own and not edrpou.strip():
        st.error("ЄДРПОУ: обов'язкове поле для філії з власним ЄДРПОУ.")
        return None
    return {
        "name": name,
        "settlement": settlement,
        "edebo_id": edebo_id,
        "edrpou": edrpou if own else None,
        "official_email": official_email if own else None,
        "head": head,
    }
