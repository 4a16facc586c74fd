"""«Заступники»: a director's deputies (current and former) with their state, position and who appointed
them; an active one is deactivated here (after a confirmation), a new one is appointed through «Почати
процес». A deputy manages no deputies: the page refuses them."""

from __future__ import annotations

import streamlit as st

from aikom import commands
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.pages import page
from aikom.models import PersonState
from aikom.services import deputies, provisioning
from aikom.services.provisioning import DeputyView

CONFIRM_KEY = "deputy_to_deactivate"  # the deputy whose deactivation waits for «Так, деактивувати»


def _deactivate(person_id: int, deputy_id: int) -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    try:
        actor = commands.actor_of(person_id)
        with unit_of_work() as session:
            deputy = provisioning.deactivate_deputy(session=session, actor=actor, deputy_id=deputy_id)
            name = deputy.full_name
    except Exception as error:
        show_error(error)
        return
    flash(
        f"Заступника «{name}» деактивовано: вхід від імені закладу для нього закрито, його повідомлено "
        "листом. Це остаточно — щоб повернути повноваження, призначте заступника знову."
    )
    st.rerun()


def _card(deputy: DeputyView) -> None:
    with st.container(border=True):
        columns = st.columns([4, 1], vertical_alignment="center")
        columns[0].markdown(
            f"**{plain(deputy.full_name)}** — {plain(deputies.DEPUTY_STATE_UK[deputy.state])}"
        )
        columns[0].text(
            f"Посада: {deputy.position or '—'}\n"
            f"Електронна пошта: {deputy.email}\n"
            f"Призначив: {deputy.appointed_by or '—'}\n"
            f"Картку створено: {kyiv(deputy.created_at)}"
        )
        if deputy.state != PersonState.ACTIVE:
            return
        if st.session_state.get(CONFIRM_KEY) != deputy.id:
            if columns[1].button("Деактивувати", key=f"deactivate{deputy.id}"):
                st.session_state[CONFIRM_KEY] = deputy.id
                st.rerun()
            return
        st.warning(
            plain(
                f"Деактивувати заступника «{deputy.full_name}»? Він більше не зможе входити від імені "
                "закладу; це остаточно."
            )
        )
        yes, no = st.columns(2)
        if yes.button("Так, деактивувати", key=f"confirm{deputy.id}", type="primary"):
            _deactivate(person.id, deputy.id)
        if no.button("Скасувати", key=f"cancel{deputy.id}"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


person = open_page("deputies")
st.title("Заступники")
st.caption(plain(f"Заступники (відповідальні особи) закладу «{person.org_name}»: чинні й колишні."))
st.page_link(page("start").script, label="Почати процес: призначити заступника", icon=":material/person_add:")

try:
    actor = commands.actor_of(person.id)
    with unit_of_work() as session:
        listed = deputies.deputies_for(session=session, actor=actor)
except Exception as error:
    show_error(error)
    st.stop()

if not listed:
    st.info("У закладу ще немає заступників. Призначте заступника через «Почати процес».")
active = sum(1 for d in listed if d.state == PersonState.ACTIVE)
if listed:
    st.markdown(f"Усього: **{len(listed)}**, активних: **{active}**.")
for deputy in listed:
    _card(deputy)
