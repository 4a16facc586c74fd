"""«Процеси»: every process this person may see (by scope), filtered, newest first; one opens on «Процес»."""

from __future__ import annotations

from datetime import datetime, time

import streamlit as st

from aikom.core.calendar import KYIV
from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import KYIV_COLUMN, kyiv_cell
from aikom.dashboard.navigation import open_page, switch_to
from aikom.dashboard.widgets import oblast_filter
from aikom.models import ProcessState
from aikom.processes import all_specs
from aikom.services import approvals
from aikom.services.persons import PersonView
from aikom.services.process_list import ProcessFilters, ProcessPage, list_processes
from aikom.services.processes import STATE_LABELS_UK

PAGE_SIZE = 50


def _filters(person: PersonView) -> ProcessFilters:
    types = {"": "Усі процеси"} | {spec.type: spec.title_uk for spec in all_specs(demo=True)}
    top = st.columns(3)
    process_type = top[0].selectbox("Процес", list(types), format_func=types.__getitem__, key="p_type")
    states = top[1].multiselect(
        "Стан",
        list(ProcessState),
        format_func=STATE_LABELS_UK.__getitem__,
        key="p_states",
        placeholder="Усі стани",
    )
    with top[2]:
        oblast_id = oblast_filter(person.org_unit_id, key="p_oblast")
    bottom = st.columns(3, vertical_alignment="bottom")
    requester_id = bottom[0].number_input(
        "Ініціатор (номер картки особи)", min_value=1, step=1, value=None, key="p_requester"
    )
    since = bottom[1].date_input("Розпочато не раніше", value=None, format="DD.MM.YYYY", key="p_since")
    mine = bottom[2].checkbox("Лише мої запити", key="p_mine")
    overdue = bottom[2].checkbox("Лише з простроченим кроком", key="p_overdue")
    return ProcessFilters(
        process_type=process_type or None,
        states=states,
        oblast_id=oblast_id,
        requester_id=person.id if mine else (int(requester_id) if requester_id else None),
        overdue=overdue,
        since=datetime.combine(since, time.min, tzinfo=KYIV) if since else None,
    )


def _table(page: ProcessPage) -> None:
    st.dataframe(
        [
            {
                "№": row.id,
                "Процес": row.title,
                "Стан": row.state_uk,
                "Крок, що очікує": row.step or "—",
                f"Строк кроку {KYIV_COLUMN}": kyiv_cell(row.due_at),
                "Прострочено": "так" if row.overdue else "",
                "Ініціатор": row.requester or "—",
                "Область": row.oblast or "—",
                f"Розпочато {KYIV_COLUMN}": kyiv_cell(row.created_at),
            }
            for row in page.rows
        ],
        hide_index=True,
        width="stretch",
    )


person = open_page("processes")
st.title("Процеси")
filters = _filters(person)
page_no = int(st.session_state.get("p_page") or 1)
try:
    with unit_of_work() as session:
        viewer = approvals.find_person(session=session, ref=str(person.id))
        page = list_processes(
            session=session, viewer=viewer, filters=filters, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
except Exception as error:
    show_error(error)
    st.stop()
if page_no > 1 and not page.rows:  # the filters left fewer pages than the one shown
    st.session_state["p_page"] = 1
    st.rerun()

first = page.offset + 1 if page.rows else 0
st.caption(
    f"Знайдено процесів: {page.total}; показано {first}–{page.offset + len(page.rows)}, новіші першими."
)
if not page.rows:
    st.info("Процесів за цими умовами немає.")
    st.stop()
_table(page)
if page.total > PAGE_SIZE:
    st.number_input(
        f"Сторінка (по {PAGE_SIZE} процесів)",
        min_value=1,
        max_value=(page.total + PAGE_SIZE - 1) // PAGE_SIZE,
        step=1,
        key="p_page",
    )
titles = {row.id: f"№ {row.id} — {row.title} ({row.state_uk})" for row in page.rows}
columns = st.columns([4, 1], vertical_alignment="bottom")
chosen = columns[0].selectbox("Процес", list(titles), format_func=titles.__getitem__, key="p_open_id")
if columns[1].button("Відкрити", key="p_open", type="primary"):
    switch_to("process", {"id": str(chosen)})
