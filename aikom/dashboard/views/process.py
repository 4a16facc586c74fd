"""«Процес»: one process — what it is, where it stands, its human steps and, beside them, its history (every
audit entry about it, automatic steps included, in order, with who and when)."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import KYIV_COLUMN, kyiv, kyiv_cell, plain
from aikom.dashboard.navigation import open_page
from aikom.models import ProcessState
from aikom.services import processes
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.processes import HistoryEntry, ProcessView, StepView

NUMBER_KEY = "process_number"
PARAM_KEY = "process_param_seen"  # the ?id= last applied to the number field
AUTOMATIC = frozenset({ProcessState.STARTING.value, ProcessState.RUNNING.value})


def _choose(person_id: int) -> int | None:
    """The process to show: from the address (`/process?id=7`), the field, or the person's latest."""
    try:
        with unit_of_work() as session:
            mine = processes.processes_of_person(session=session, person_id=person_id)
    except Exception as error:
        show_error(error)
        mine = []
    wanted = st.query_params.get("id")
    if wanted and wanted.isdigit() and st.session_state.get(PARAM_KEY) != wanted:
        st.session_state[PARAM_KEY] = wanted
        st.session_state[NUMBER_KEY] = int(wanted)
    if NUMBER_KEY not in st.session_state:
        latest = st.session_state.get("process_id") or (mine[0].id if mine else None)
        st.session_state[NUMBER_KEY] = int(latest) if latest else None
    choice = st.number_input("Номер процесу", min_value=1, step=1, key=NUMBER_KEY)
    if mine:
        st.caption("Ваші запити: " + ", ".join(f"№ {p.id} ({p.state_uk})" for p in mine[:20]))
    if choice and st.query_params.get("id") != str(choice):
        st.query_params["id"] = str(choice)  # the address names what is shown: a reload or a link keeps it
    return int(choice) if choice else None


def _summary(view: ProcessView) -> None:
    st.subheader(f"№ {view.id}. {plain(view.title)}")
    if view.current_step_title:
        step = plain(view.current_step_title)
    elif view.state in AUTOMATIC:
        step = "автоматичні дії (див. історію)"
    else:
        step = "—"
    lines = [
        f"**Стан:** {plain(view.state_uk)}",
        f"**Поточний крок:** {step}",
        f"**Ініціатор:** {plain(view.requester) if view.requester else '—'}"
        + (f" (подав від його імені: {plain(view.started_by)})" if view.started_by else ""),
        f"**Стосується:** {plain(view.subject) if view.subject else '—'}",
        f"**Розпочато:** {kyiv(view.created_at)}",
    ]
    if view.finished_at:
        lines.append(f"**Завершено:** {kyiv(view.finished_at)}")
    if view.flow_version:
        lines.append(f"**Версія процесу:** {plain(view.flow_version)}")
    st.markdown("  \n".join(lines))
    for line in view.progress:
        if line.total:
            st.progress(
                min(line.done / line.total, 1.0), text=f"{plain(line.label)}: {line.done} з {line.total}"
            )
        else:
            st.caption(f"{plain(line.label)}: {line.done}")
    if view.outcome:
        st.text(f"Результат: {view.outcome}")


def _step(step: StepView) -> None:
    with st.container(border=True):
        st.markdown(f"**{plain(step.title)}** — {plain(step.state_uk)}")
        facts: list[str] = []
        if step.step_key == FIRST_SIGNIN_STEP and step.state == "decided":
            facts.append(f"виконано першим входом із КЕП {kyiv(step.decided_at)}")
        elif step.decision_uk:
            who = plain(step.decided_by) if step.decided_by else "—"
            facts.append(f"рішення: {plain(step.decision_uk)} · хто: {who} · коли: {kyiv(step.decided_at)}")
        if step.state == "open":
            facts.append(f"строк: {kyiv(step.due_at)}")
            facts.append(
                f"у роботі: {plain(step.claimed_by)}" if step.claimed_by else "ніхто не взяв у роботу"
            )
        if step.escalation_level:
            facts.append(f"передано на рівень вище через прострочення (рівень {step.escalation_level})")
        st.caption(" · ".join(facts) or "—")
        for label, value in step.shown:
            st.text(f"{label}: {value}")
        if step.comment:
            st.text(f"Коментар: {step.comment}")


def _history(entries: list[HistoryEntry]) -> None:
    if not entries:
        st.info("Записів ще немає.")
        return
    st.dataframe(
        [
            {
                f"Час {KYIV_COLUMN}": kyiv_cell(entry.at),
                "Хто": "система" if entry.actor == "system" else entry.actor,
                "Подія": entry.action_uk,
            }
            for entry in entries
        ],
        hide_index=True,
        width="stretch",
    )


person = open_page("process")
st.title("Процес")
process_id = _choose(person.id)
if process_id is None:
    st.info("Вкажіть номер процесу.")
    st.stop()
try:
    with unit_of_work() as session:
        view = processes.show_process(session=session, process_id=process_id, viewer_id=person.id)
except Exception as error:
    show_error(error)
    st.stop()

_summary(view)
if st.button("Оновити", key="refresh"):
    st.rerun()
steps_column, history_column = st.columns(2)
with steps_column:
    st.markdown("#### Кроки, що потребують рішення")
    if not view.steps:
        st.info("Людських кроків ще немає: процес виконує автоматичні дії (див. історію).")
    for step in view.steps:
        _step(step)
with history_column:
    st.markdown("#### Історія")
    _history(view.history)
