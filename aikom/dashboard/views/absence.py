"""«Відсутність»: an ОУО or institute admin marks themselves away for a date range (their tasks go back to
the pool, or up to the unit above when nobody else can decide them) and ends it on return; they see their
own absences and those of the admins below them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import streamlit as st

from aikom.core.calendar import KYIV
from aikom.core.timefmt import format_date
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import kyiv
from aikom.dashboard.navigation import open_page
from aikom.services import absence, approvals
from aikom.services.absence import AbsenceView


def _today() -> date:
    return datetime.now(KYIV).date()


def _state(item: AbsenceView, today: date) -> str:
    if item.ended_at is not None:
        return f"завершено {kyiv(item.ended_at)}"
    if item.active:
        return "триває"
    return "заплановано" if item.starts_on > today else "минула"


def _set(person_id: int, starts_on: date, ends_on: date, note: str) -> None:
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            absence.set_absence(session=session, actor=actor, starts_on=starts_on, ends_on=ends_on, note=note)
    except Exception as error:
        show_error(error)
        return
    flash(
        f"Відсутність {format_date(starts_on)}–{format_date(ends_on)} позначено. На цей час ваші завдання "
        "повертаються до спільної черги (або переходять до ОУО вищого рівня, якщо вирішити їх нікому)."
    )
    st.rerun()


def _end(person_id: int, absence_id: int) -> None:
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            absence.end_absence(session=session, actor=actor, absence_id=absence_id)
    except Exception as error:
        show_error(error)
        return
    flash("Відсутність завершено: завдання, передані на час відсутності, повернулися до вас.")
    st.rerun()


person = open_page("absence")
st.title("Відсутність")
today = _today()
with st.form("absence"):
    st.caption(
        "Позначте період, коли ви не зможете розглядати завдання (відпустка, лікарняний, відрядження)."
    )
    period = st.date_input(
        "Період відсутності",
        value=(today, today + timedelta(days=6)),
        min_value=today,
        format="DD.MM.YYYY",
        key="absence_period",
    )
    note = st.text_input("Примітка (необов'язково)", max_chars=300, key="absence_note")
    submitted = st.form_submit_button("Позначити відсутність", type="primary")
if submitted:
    days = list(period) if isinstance(period, tuple | list) else [period]
    if len(days) != 2:
        st.error("Період відсутності: виберіть дату початку й дату закінчення.")
    else:
        _set(person.id, days[0], days[1], note.strip())

try:
    with unit_of_work() as session:
        viewer = approvals.find_person(session=session, ref=str(person.id))
        items = absence.list_absences(session=session, viewer=viewer)
except Exception as error:
    show_error(error)
    st.stop()

own = [a for a in items if a.person_id == person.id]
st.subheader("Мої відсутності")
if not own:
    st.info("Ви не позначали відсутності.")
for item in own:
    with st.container(border=True):
        columns = st.columns([4, 1], vertical_alignment="center")
        columns[0].text(
            f"{format_date(item.starts_on)}–{format_date(item.ends_on)}: {_state(item, today)}"
            + (f". Примітка: {item.note}" if item.note else "")
        )
        if (
            item.ended_at is None
            and item.ends_on >= today
            and columns[1].button("Завершити", key=f"end{item.id}")
        ):
            _end(person.id, item.id)

others = [a for a in items if a.person_id != person.id]
if others:
    st.subheader("Відсутності адміністраторів у вашій зоні відповідальності")
    st.dataframe(
        [
            {
                "Особа": a.person,
                "З": format_date(a.starts_on),
                "По": format_date(a.ends_on),
                "Стан": _state(a, today),
                "Примітка": a.note or "",
            }
            for a in others
        ],
        hide_index=True,
        width="stretch",
    )
