"""«Моніторинг»: every process at a glance for the person's scope — now, durations, trends, by area and
coverage — with each table as CSV/XLSX and a one-page PDF summary for the Ministry.

The figures come from `aikom.services.monitor` (which checks role and scope), cached for a few seconds
per person and query; the page refreshes itself while it is open. The territory is the person's own unit,
an oblast (national staff), or any unit reached by drilling down the per-area table; the path back up
is shown above the figures.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import streamlit as st

from aikom.dashboard.context import current_person, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.navigation import open_page, switch_to
from aikom.dashboard.widgets import oblast_filter
from aikom.models import OrgLevel
from aikom.processes import all_specs
from aikom.services import approvals
from aikom.services import monitor_export as export
from aikom.services.monitor import (
    DEFAULT_DAYS,
    Granularity,
    Monitor,
    MonitorQuery,
    WaitingStep,
    kyiv_today,
    monitor,
)
from aikom.services.persons import PersonView

CACHE_SECONDS = 10
REFRESH_SECONDS = 30
PATH_KEY = "m_path"  # the units drilled into below the person's own, top first
NAMES_KEY = "m_names"  # their names, as the figures reported them
OBLAST_KEY = "m_oblast"  # the oblast choice (national staff)
OBLAST_SEEN_KEY = "m_oblast_seen"  # the choice the path last agreed with
OBLASTS_KEY = "m_oblast_ids"  # units known to be oblasts (the choice can show them)
GRANULARITY: dict[Granularity, str] = {"day": "День", "week": "Тиждень"}


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=200)
def _figures(person_id: int, query: str) -> Monitor:
    """The monitor for this person and query (JSON), computed at most once per few seconds."""
    with unit_of_work() as session:
        viewer = approvals.find_person(session=session, ref=str(person_id))
        return monitor(session, viewer, MonitorQuery.model_validate_json(query))


# --- territory: own unit → oblast (national staff) → drill-down ------------------------------------


def _path() -> list[int]:
    return list(st.session_state.get(PATH_KEY, []))


def _set_path(path: list[int]) -> None:
    """Go to a unit of the path (a callback: before the oblast choice is drawn, so it can follow)."""
    st.session_state[PATH_KEY] = path
    top = path[0] if path else None
    if OBLAST_KEY in st.session_state and (top is None or top in st.session_state.get(OBLASTS_KEY, set())):
        st.session_state[OBLAST_KEY] = st.session_state[OBLAST_SEEN_KEY] = top


def _drill(unit_id: int, name: str, level: OrgLevel) -> None:
    """Narrow the figures to a unit one level down."""
    st.session_state.setdefault(NAMES_KEY, {})[unit_id] = name
    if level == OrgLevel.OBLAST:
        st.session_state.setdefault(OBLASTS_KEY, set()).add(unit_id)
    _set_path([*_path(), unit_id])


def _drill_from_table(key: str, rows: list[tuple[int, str, OrgLevel]]) -> None:
    selected = st.session_state[key].selection.rows
    if selected:
        _drill(*rows[selected[0]])


def _drill_from_choice(key: str, rows: dict[int, tuple[str, OrgLevel]]) -> None:
    unit_id = st.session_state[key]
    if unit_id is not None:
        _drill(unit_id, *rows[unit_id])


def _territory(person: PersonView) -> int | None:
    """The oblast choice (national staff only); the unit the figures are for (None: the person's own)."""
    chosen = oblast_filter(person.org_unit_id, key=OBLAST_KEY)
    if OBLAST_KEY in st.session_state and chosen != st.session_state.get(OBLAST_SEEN_KEY):
        # The person chose another oblast (or all of them): the path starts again there.
        st.session_state[OBLAST_SEEN_KEY] = chosen
        st.session_state[PATH_KEY] = [chosen] if chosen is not None else []
        if chosen is not None:
            st.session_state.setdefault(OBLASTS_KEY, set()).add(chosen)
    path = _path()
    return path[-1] if path else None


def _breadcrumbs(person: PersonView, figures: Monitor | None) -> None:
    """The way back up: the person's own unit, then each unit drilled into; the current one last."""
    names: dict[int, str] = st.session_state.setdefault(NAMES_KEY, {})
    if figures is not None:
        names[figures.scope.unit_id] = figures.scope.unit_name
    path = _path()
    if not path:
        return
    trail = [(person.org_name, 0), *((names.get(u, f"№ {u}"), i + 1) for i, u in enumerate(path))]
    columns = st.columns(len(trail) + 1, vertical_alignment="center")
    columns[0].caption("Територія:")
    for column, (name, depth) in zip(columns[1:], trail, strict=True):
        if depth == len(path):
            column.markdown(f"**{plain(name)}**")
        else:
            column.button(
                f"↑ {plain(name)}",
                key=f"m_up{depth}",
                type="tertiary",
                on_click=_set_path,
                args=(path[:depth],),
            )


# --- controls ----------------------------------------------------------------------------------------


def _query(person: PersonView) -> MonitorQuery:
    types = {"": export.ALL_PROCESSES} | {spec.type: spec.title_uk for spec in all_specs()}
    today = kyiv_today()
    columns = st.columns([3, 3, 2, 2, 2], vertical_alignment="bottom")
    with columns[0]:
        unit_id = _territory(person)
    process_type = columns[1].selectbox("Процес", list(types), format_func=types.__getitem__, key="m_type")
    start = columns[2].date_input(
        "Період з", value=today - timedelta(days=DEFAULT_DAYS - 1), format="DD.MM.YYYY", key="m_start"
    )
    end = columns[3].date_input("по", value=today, format="DD.MM.YYYY", key="m_end")
    granularity = columns[4].radio(
        "Динаміка по",
        list(GRANULARITY),
        format_func=GRANULARITY.__getitem__,
        horizontal=True,
        key="m_granularity",
    )
    return MonitorQuery(
        unit_id=unit_id,
        process_type=process_type or None,
        start=start if isinstance(start, date) else None,
        end=end if isinstance(end, date) else None,
        granularity=granularity or "day",
    )


# --- tables and files --------------------------------------------------------------------------------


def _column_config(table: export.Table) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for i, column in enumerate(table.columns):
        values = [row[i] for row in table.rows if row[i] is not None]
        if values and all(isinstance(v, datetime) for v in values):
            config[column] = st.column_config.DatetimeColumn(column, format="DD.MM.YYYY HH:mm")
        elif values and all(isinstance(v, date) for v in values):
            config[column] = st.column_config.DateColumn(column, format="DD.MM.YYYY")
    return config


def _downloads(figures: Monitor, table: export.Table) -> None:
    """CSV and XLSX of the table, made when clicked."""
    stem = export.file_stem(figures, table.key)
    columns = st.columns([1, 1, 6])
    columns[0].download_button(
        "CSV",
        data=lambda: export.to_csv(table),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"m_{table.key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    columns[1].download_button(
        "XLSX",
        data=lambda: export.to_xlsx(table, figures),
        file_name=f"{stem}.xlsx",
        mime=export.XLSX_MIME,
        key=f"m_{table.key}_xlsx",
        on_click="ignore",
        icon=":material/download:",
    )


def _table(figures: Monitor, table: export.Table, empty: str, **options: Any) -> Any:
    """The table with its downloads (or what its emptiness means); the dataframe's selection, if asked."""
    if not table.rows:
        st.info(empty)
        return None
    shown = st.dataframe(
        table.frame(), hide_index=True, width="stretch", column_config=_column_config(table), **options
    )
    _downloads(figures, table)
    return shown


def _open_process(steps: list[WaitingStep], key: str) -> None:
    """Choose one of the listed steps' processes and open it on «Процес»."""
    choices = {w.process_id: f"№ {w.process_id} — {w.process_title}: {w.step_title}" for w in steps}
    columns = st.columns([4, 1], vertical_alignment="bottom")
    chosen = columns[0].selectbox("Процес", list(choices), format_func=choices.__getitem__, key=key)
    if columns[1].button("Відкрити процес", key=f"{key}_go") and chosen is not None:
        switch_to("process", {"id": str(chosen)})


# --- sections ------------------------------------------------------------------------------------------


def _headline(figures: Monitor) -> None:
    moment = figures.as_of or figures.generated_at
    source = (
        "зведення, які система оновлює щохвилини"
        if figures.as_of is not None
        else "дані безпосередньо з реєстру процесів"
    )
    st.caption(
        f"{plain(export.scope_line(figures))}. Станом на {plain(kyiv(moment))} ({source}); сторінка "
        f"оновлюється кожні {REFRESH_SECONDS} с."
    )
    figures_shown = export.key_figures(figures)  # now (4), then the period and coverage (3)
    for row in (figures_shown[:4], figures_shown[4:]):
        for column, (label, value) in zip(st.columns(4), row, strict=False):
            column.metric(label, value)
    st.download_button(
        "Зведення для МОН (PDF, 1 сторінка)",
        data=lambda: export.summary_pdf(figures),
        file_name=f"{export.file_stem(figures, 'summary')}.pdf",
        mime="application/pdf",
        key="m_pdf",
        on_click="ignore",
        icon=":material/picture_as_pdf:",
    )


def _now(figures: Monitor) -> None:
    st.header("Зараз")
    st.subheader("Процеси за станами")
    st.caption("Відкриті — зараз; завершені — за період.")
    _table(figures, export.counts_table(figures), "Процесів за цими умовами немає.")
    st.subheader("Відкриті кроки")
    _table(figures, export.steps_table(figures), "Відкритих кроків немає.")
    st.subheader("Порушення строків")
    breaches = figures.breaches
    st.caption(f"Прострочено кроків: {breaches.overdue}; ескальовано: {breaches.escalated}.")
    if _table(figures, export.breaches_table(figures), "Прострочених кроків немає.") is not None:
        _open_process(breaches.worst, "m_open_breach")
    st.subheader("Найдовше очікують рішення")
    if _table(figures, export.oldest_table(figures), "Кроків, що очікують рішення, немає.") is not None:
        _open_process(figures.oldest, "m_open_oldest")


def _durations(figures: Monitor) -> None:
    st.header("Тривалість")
    st.caption(
        "Медіана і 90-й процентиль: увесь процес — за процесами, що завершилися в періоді; кроки — за "
        "рішеннями, ухваленими в періоді. Робочий день — за діловим календарем."
    )
    _table(figures, export.durations_table(figures), "За період нічого не завершено.")
    if any(d.step is not None for d in figures.durations):
        st.subheader("Де минає час")
        st.altair_chart(export.step_durations_chart(figures), width="stretch", key="m_chart_steps")


def _trends(figures: Monitor) -> None:
    st.header("Динаміка")
    st.altair_chart(export.trends_chart(figures), width="stretch", key="m_chart_trends")
    with st.expander("Таблиця"):
        _table(figures, export.trends_table(figures), "Немає даних за період.")


def _areas(figures: Monitor) -> None:
    label = figures.scope.area_label
    st.header("За територіями")
    if label is None or not figures.areas:
        st.info("Нижчих одиниць немає.")
        return
    metric = st.selectbox(
        "Показник на графіку",
        list(export.AREA_METRICS),
        format_func=export.AREA_METRICS.__getitem__,
        key="m_area_metric",
    )
    st.altair_chart(export.areas_chart(figures, metric), width="stretch", key="m_chart_areas")
    st.caption(f"Виберіть рядок, щоб перейти до цієї одиниці ({label.lower()}).")
    rows = [(a.unit_id, a.name, a.level) for a in figures.areas]
    table_key = f"m_areas_{figures.scope.unit_id}"
    _table(
        figures,
        export.areas_table(figures),
        "Нижчих одиниць немає.",
        key=table_key,
        on_select=partial(_drill_from_table, table_key, rows),
        selection_mode="single-row",
    )
    choices = {a.unit_id: (a.name, a.level) for a in figures.areas}
    choice_key = f"m_drill_{figures.scope.unit_id}"
    st.selectbox(
        f"Перейти до: {label.lower()}",
        [None, *choices],
        key=choice_key,
        on_change=_drill_from_choice,
        args=(choice_key, choices),
        format_func=lambda u: "—" if u is None else choices[u][0],
    )


def _coverage(figures: Monitor) -> None:
    st.header("Охоплення")
    st.caption(
        "Облікові записи каскаду за рівнями: активні, що очікують першого входу, призупинені, "
        "деактивовані, і одиниці без облікового запису."
    )
    _table(figures, export.coverage_table(figures), "Одиниць немає.")


@st.fragment(run_every=REFRESH_SECONDS)
def _monitor(person: PersonView) -> None:
    """Controls and figures; rerun on its own every few seconds, and on each choice."""
    # A rerun of this part alone must not outlive the sign-in — nor keep an idle person signed in.
    signed_in = current_person(activity=False)
    if signed_in is None or signed_in.id != person.id:
        st.rerun(scope="app")
    query = _query(person)
    crumbs = st.container()
    try:
        figures = _figures(person.id, query.model_dump_json())
    except Exception as error:
        with crumbs:
            _breadcrumbs(person, None)
        show_error(error)
        return
    with crumbs:
        _breadcrumbs(person, figures)
    _headline(figures)
    _now(figures)
    _durations(figures)
    _trends(figures)
    _areas(figures)
    _coverage(figures)


person = open_page("monitor")
st.title("Моніторинг")
_monitor(person)
