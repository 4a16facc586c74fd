"""«Процес»: one process with its steps, times and who decided; and the processes this person started."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import require_person, show_error, unit_of_work
from aikom.dashboard.labels import DECISION_LABELS_UK, TASK_STATE_LABELS_UK, format_time
from aikom.models import Decision
from aikom.services import processes
from aikom.services.persons import person_view

person = require_person()
st.title("Процес")

try:
    with unit_of_work() as session:
        mine = processes.processes_of_person(session=session, person_id=person.id)
except Exception as error:
    show_error(error)
    st.stop()

default = st.session_state.get("process_id") or (mine[0].id if mine else None)
choice = st.number_input(
    "Номер процесу", min_value=1, step=1, value=int(default) if default else None, key="process_number"
)
if mine:
    st.caption("Ваші процеси: " + ", ".join(f"№ {p.id} ({p.state_uk})" for p in mine[:20]))
if not choice:
    st.info("Вкажіть номер процесу.")
    st.stop()

try:
    with unit_of_work() as session:
        view = processes.show_process(session=session, process_id=int(choice), viewer_id=person.id)
        names = {
            step.decided_by_id: person_view(session=session, person_id=step.decided_by_id).full_name
            for step in view.steps
            if step.decided_by_id
        }
except Exception as error:
    show_error(error)
    st.stop()

st.subheader(f"№ {view.id}: {view.parameters.get('school_name') or view.type}")
cols = st.columns(3)
cols[0].metric("Стан", view.state_uk)
waiting = next((step.title for step in view.steps if step.state == "open"), None)
cols[1].metric("Поточний крок", "очікує: людський крок" if waiting else (view.current_step or "—"))
if waiting:
    st.info(f"Очікує: {waiting}")
cols[2].metric("Розпочато", format_time(view.created_at))
if view.outcome:
    st.write(f"**Результат:** {view.outcome}")
if st.button("Оновити", key="refresh"):
    st.rerun()

st.markdown("#### Кроки")
if not view.steps:
    st.info("Людських кроків ще немає: процес виконує автоматичні дії.")
for step in view.steps:
    decision = DECISION_LABELS_UK[Decision(step.decision)] if step.decision else "—"
    who = names.get(step.decided_by_id, "—") if step.decided_by_id else "—"
    with st.container(border=True):
        st.write(f"**{step.title}** — {TASK_STATE_LABELS_UK.get(step.state, step.state)}")
        st.caption(
            f"Рішення: {decision} · хто: {who} · коли: {format_time(step.decided_at)} · "
            f"строк: {format_time(step.due_at)}"
        )
        if step.comment:
            st.write(f"Коментар: {step.comment}")
