"""Start forms of the account deactivation and of the bulk deactivation of liquidated schools."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import plain
from aikom.models import Person, PersonRole
from aikom.processes.account_deactivation import REASON_TITLES_UK, SPEC
from aikom.processes.liquidated_deactivation import SPEC as BULK_SPEC
from aikom.services import deactivation, org
from aikom.services.persons import PersonView

NATIONWIDE = "Уся Україна"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def render(person: PersonView) -> dict[str, Any] | None:
    """The form; the raw parameters once submitted."""
    reasons = deactivation.reasons_for(person.role)
    units: list[deactivation.UnitChoice] = []
    if person.role != PersonRole.INSTITUTE_ADMIN:
        try:
            with unit_of_work() as session:
                actor = session.get_one(Person, person.id)
                units = deactivation.units_managed_by(session=session, actor=actor)
        except Exception as error:
            show_error(error)
            return None
        if not units:
            st.info(
                plain(
                    f"{SPEC.title_uk}: {SPEC.who_may_start_uk} Серед організацій, якими керує ваш орган "
                    f"управління освітою ({person.org_name}), немає жодної з відкритим обліковим записом "
                    "АІКОМ."
                )
            )
            return None
    st.caption(
        "Через несанкціоноване втручання чи кіберінцидент ключі організації призупиняються одразу, ще до "
        "погодження; якщо деактивацію відхилять, їх буде відновлено. Деактивований обліковий запис закладу "
        "освіти не підлягає подальшому використанню."
    )
    with st.form("account_deactivation"):
        if units:
            labels = {f"{u.name} (ЄДРПОУ {u.edrpou or '—'}, № {u.id})": u.id for u in units}
            unit_label = st.selectbox("Організація", list(labels), key="deact_unit")
            org_code = str(labels[unit_label]) if unit_label else ""
        else:
            org_code = st.text_input("Організація: ЄДРПОУ або номер", key="deact_org", max_chars=20).strip()
        reason_labels = {_sentence(REASON_TITLES_UK[r]): r.value for r in reasons}
        reason_label = st.selectbox(
            "Причина деактивації",
            list(reason_labels),
            index=None,
            placeholder="Оберіть причину",
            key="deact_reason",
        )
        successor = st.text_input(
            "Правонаступник (лише для реорганізації): ЄДРПОУ або номер", key="deact_successor", max_chars=20
        ).strip()
        note = st.text_area("Підстава: документ, номер інциденту", key="deact_note", max_chars=500).strip()
        submitted = st.form_submit_button("Почати деактивацію", type="primary")
    if not submitted:
        return None
    return {
        "org": org_code,
        "reason": reason_labels.get(reason_label) if reason_label else None,
        "successor": successor or None,
        "note": note or None,
    }


def render_liquidated(person: PersonView) -> dict[str, Any] | None:
    """The bulk form: the scope, how many liquidated schools with an open account it holds; the
    parameters once submitted."""
    try:
        with unit_of_work() as session:
            national = session.get_one(Person, person.id).org_unit_id
            oblasts = org.oblasts_within(session=session, unit_id=national)
    except Exception as error:
        show_error(error)
        return None
    scopes = {NATIONWIDE: None} | {o.name: str(o.id) for o in oblasts}
    scope_label = st.selectbox("Межі", list(scopes), key="liquidated_scope")
    oblast = scopes.get(scope_label or NATIONWIDE)
    try:
        with unit_of_work() as session:
            preview = deactivation.liquidated_preview(session=session, within=national, oblast=oblast)
    except Exception as error:
        show_error(error)
        return None
    st.metric("Ліквідованих закладів з відкритим обліковим записом", preview.count)
    if preview.count == 0:
        st.info(plain(f"У межах «{preview.scope_name}» таких закладів немає: деактивувати нічого."))
        return None
    st.caption(plain("Перші за назвою: " + "; ".join(preview.first)))
    st.caption(plain(BULK_SPEC.description_uk))
    if not st.button(f"Почати деактивацію ({preview.count})", type="primary", key="liquidated_start"):
        return None
    return {"oblast": oblast}
