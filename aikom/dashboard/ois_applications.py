"""The «Заявки та перевірки» tab of the staff's «ОІС» page: the ОІС connection applications with their
reviews and conclusions. An institute admin reviews an application item by item (signed; a pass issues
the Institute's conclusion), approves the agreement when someone else reviewed it (four-eyes, signed), and
runs the extended review of a connected ОІС; a manager reads."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import DECISION_LABELS_UK, plain
from aikom.dashboard.ois_connection_widgets import application_details, review_form, reviews
from aikom.dashboard.widgets import signed_submit
from aikom.models import Decision, OisState, PersonRole, ReviewRound
from aikom.services import approvals
from aikom.services import ois_connection as oc
from aikom.services.ois_connection_views import OisCard, staff_applications
from aikom.services.persons import PersonView

AGREEMENT_DOCS_KEY = "ois_agreement_documents"
FILTERS = {
    "waiting": ("Очікують рішення", (OisState.APPLIED, OisState.IN_REVIEW)),
    "returned": ("Повернуті на доопрацювання", (OisState.RETURNED,)),
    "connected": ("Підключені", (OisState.CONNECTED, OisState.SUSPENDED)),
    "all": ("Усі", ()),
}


def _agreement_document(person_id: int, ois_id: int, decision: Decision, comment: str) -> bytes:
    key = (ois_id, decision.value, comment)
    documents: dict[tuple[int, str, str], bytes] = st.session_state.setdefault(AGREEMENT_DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            documents[key] = oc.agreement_document(
                session=session, ois_id=ois_id, actor=actor, decision=decision, comment=comment or None
            )
    return documents[key]


def _agreement_panel(card: OisCard, person_id: int) -> None:
    if card.reviewer_id == person_id:
        st.info(
            "Ви перевіряли відповідність цієї ОІС: договір погоджує інший технічний адміністратор ІОА "
            "(принцип «чотирьох очей»)."
        )
        return
    decision = st.radio(
        "Рішення щодо договору",
        [Decision.APPROVE, Decision.REJECT],
        format_func=DECISION_LABELS_UK.__getitem__,
        key=f"ag{card.id}",
        horizontal=True,
    )
    comment = st.text_area("Коментар", key=f"ag{card.id}_comment", max_chars=2000).strip()
    try:
        document = _agreement_document(person_id, card.id, decision, comment)
    except Exception as error:
        show_error(error)
        return
    signed = signed_submit(
        document=document,
        file_name=f"aikom-ois-{card.id}-agreement.json",
        key=f"ag{card.id}",
        person_id=person_id,
    )
    if signed is None:
        return
    try:
        oc.decide_agreement_command(
            person_id=person_id, ois_id=card.id, decision=decision, comment=comment or None, signed=signed
        )
    except Exception as error:
        show_error(error)
        return
    st.session_state.pop(AGREEMENT_DOCS_KEY, None)
    flash(
        "Договір погоджено: ОІС підключається, оператора буде повідомлено."
        if decision == Decision.APPROVE
        else "Договір відхилено: оператора буде повідомлено."
    )
    st.rerun()


def _actions(card: OisCard, person_id: int) -> None:
    if card.open_step == "review":
        st.subheader("Перевірка відповідності Технічним вимогам")
        review_form(card, person_id, ReviewRound.CONNECTION)
    elif card.open_step == "agreement":
        st.subheader("Погодження договору про приєднання")
        _agreement_panel(card, person_id)
    elif card.open_step == "resubmit":
        st.info("Заявку повернуто: чекаємо повторного подання від оператора.")
    elif card.state == OisState.CONNECTED.value:
        with st.expander("Розширена перевірка (для передавання даних)"):
            review_form(card, person_id, ReviewRound.EXTENDED)


def applications(person: PersonView) -> None:
    """The applications (filtered by state), each with its reviews; an institute admin acts on them."""
    st.caption(
        "Заявки на підключення освітніх інформаційних систем: перевірка відповідності Технічним вимогам, "
        "висновок ІОА, погодження договору про приєднання."
    )
    choice = st.radio(
        "Показати", list(FILTERS), format_func=lambda k: FILTERS[k][0], key="ois_filter", horizontal=True
    )
    try:
        with unit_of_work() as session:
            cards = staff_applications(session=session, viewer_id=person.id, states=FILTERS[choice][1])
    except Exception as error:
        show_error(error)
        return

    if not cards:
        st.info("Заявок немає.")
    for card in cards:
        waiting = {"review": " — чекає перевірки", "agreement": " — чекає погодження договору"}.get(
            card.open_step or "", ""
        )
        with st.expander(
            plain(f"№ {card.id} «{card.system_name}» — {card.company_name}: {card.state_label}{waiting}")
        ):
            application_details(card)
            reviews(card, person.id)
            if person.role == PersonRole.INSTITUTE_ADMIN:
                _actions(card, person.id)
