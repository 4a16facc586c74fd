"""«Мої завдання»: the work queue — the open tasks this person may decide, filtered, oldest due first.

A task can be taken into work, handed back, or (by an admin of its unit or the unit above) given to a
colleague; a decision is signed with КЕП — one task at a time, or several under ONE signature over a batch
document that lists every task and its decision (each task is still checked on its own). The page
refreshes itself when a task arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from aikom import commands
from aikom.dashboard.context import flash, rerun_by_itself, show_error, unit_of_work
from aikom.dashboard.labels import DECISION_LABELS_UK, kyiv, plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.pages import page as page_spec
from aikom.dashboard.widgets import SigningLabels, oblast_filter, signed_submit
from aikom.models import Decision
from aikom.processes import all_specs
from aikom.services import approvals, batch, queue
from aikom.services.approvals import DEFAULT_DECISIONS
from aikom.services.persons import PersonView
from aikom.services.queue import ClaimFilter, QueueFilters, QueueRow

_log = logging.getLogger(__name__)

PAGE_SIZE = 50
REFRESH_SECONDS = 15
OPEN_KEY = "queue_open_task"  # the task whose decision panel is open
TASK_PARAM_KEY = "queue_task_param"  # the ?task= of an email link, handled once
DOCS_KEY = "decision_documents"
BATCH_KEY = "queue_batch"  # task id -> title and decisions: what the bulk decision will cover
BATCH_DOCS_KEY = "batch_documents"
CLAIM_LABELS_UK: dict[ClaimFilter, str] = {
    "all": "Усі",
    "mine": "Взяті мною",
    "unassigned": "Ніхто не взяв",
    "others": "Взяті колегами",
}
BATCH_LABELS = SigningLabels(
    document="1. Завантажити пакетний документ рішень",
    signature="2. Підпис пакетного документа (.p7s)",
    submit="3. Ухвалити пакет рішень",
    demo="Підписати демо-ключем і ухвалити пакет",
)


def _filters(person: PersonView) -> QueueFilters:
    types = {"": "Усі процеси"} | {spec.type: spec.title_uk for spec in all_specs()}
    columns = st.columns(4)
    process_type = columns[0].selectbox("Процес", list(types), format_func=types.__getitem__, key="q_type")
    with columns[1]:
        oblast_id = oblast_filter(person.org_unit_id, key="q_oblast")
    claim = columns[2].selectbox(
        "Хто працює", list(CLAIM_LABELS_UK), format_func=CLAIM_LABELS_UK.__getitem__, key="q_claim"
    )
    overdue = columns[3].checkbox("Лише прострочені", key="q_overdue")
    return QueueFilters(process_type=process_type or None, oblast_id=oblast_id, overdue=overdue, claim=claim)


@st.fragment(run_every=REFRESH_SECONDS)
def _watch(person_id: int, filters: QueueFilters, shown: tuple[int, int, int]) -> None:
    """Every few seconds: when the queue's counts changed (a task arrived or left), rerun the page."""
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            now = queue.queue_page(session=session, actor=actor, filters=filters, limit=1)
    except Exception:  # a failed poll waits for the next one; the page itself shows errors
        _log.debug("queue poll failed", exc_info=True)
        return
    if (now.total, now.mine, now.unassigned) != shown:
        rerun_by_itself("Надійшло нове завдання." if now.total > shown[0] else None)


def _act(service: Callable[..., object], task_id: int, person_id: int, done_uk: str, **extra: Any) -> None:
    """Claim, release or assign a task (`service` from `aikom.services.queue`), then show the queue again."""
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            service(session=session, task_id=task_id, actor=actor, **extra)
    except Exception as error:
        show_error(error)
        return
    flash(done_uk)
    st.rerun()


def _document(person_id: int, task_id: int, decision: Decision, comment: str) -> bytes:
    """The decision document to sign; kept per (task, decision, comment) so its time stays fixed."""
    key = (task_id, decision.value, comment)
    documents: dict[tuple[int, str, str], bytes] = st.session_state.setdefault(DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            task = approvals.get_task(session=session, task_id=task_id)
            documents[key] = approvals.decision_document(
                task=task, actor=actor, decision=decision, comment=comment
            )
    return documents[key]


def _forget(task_ids: list[int]) -> None:
    """Tasks decided: out of the batch, their panels and documents dropped."""
    picked: dict[int, Any] = st.session_state.setdefault(BATCH_KEY, {})
    for task_id in task_ids:
        picked.pop(task_id, None)
        st.session_state.pop(f"pick{task_id}", None)
    st.session_state.pop(DOCS_KEY, None)
    st.session_state.pop(BATCH_DOCS_KEY, None)
    st.session_state.pop(OPEN_KEY, None)


def _decisions_of(offered: list[str]) -> list[Decision]:
    return [Decision(d) for d in offered] or list(DEFAULT_DECISIONS)


def _assign(row: QueueRow, person: PersonView) -> None:
    """An admin of the task's unit (or the unit above) gives it to a colleague who may decide it."""
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person.id))
            colleagues = {
                p.id: p.full_name
                for p in queue.colleagues_for(session=session, task_id=row.task_id, actor=actor)
                if p.id != person.id
            }
    except Exception as error:
        show_error(error)
        return
    if not colleagues:
        return
    columns = st.columns([3, 1], vertical_alignment="bottom")
    assignee = columns[0].selectbox(
        "Призначити колезі",
        list(colleagues),
        format_func=colleagues.__getitem__,
        key=f"assignee{row.task_id}",
    )
    if columns[1].button("Призначити", key=f"assign{row.task_id}"):
        _act(
            queue.assign,
            row.task_id,
            person.id,
            f"Завдання №{row.task_id} призначено колезі.",
            assignee_id=assignee,
        )


def _decision_panel(row: QueueRow, person: PersonView) -> None:
    _assign(row, person)
    if row.claimed_by_id is not None and row.claimed_by_id != person.id:
        st.info(
            f"Завдання взяв у роботу {plain(row.claimed_by)}: рішення ухвалює той, хто взяв завдання. "
            "Попросіть звільнити його або адміністратора ОУО — перепризначити."
        )
        return
    decision = st.radio(
        "Рішення",
        _decisions_of(row.decisions),
        format_func=DECISION_LABELS_UK.__getitem__,
        key=f"d{row.task_id}",
        horizontal=True,
    )
    comment = st.text_area("Коментар", key=f"c{row.task_id}", max_chars=2000).strip()
    try:
        document = _document(person.id, row.task_id, decision, comment)
    except Exception as error:
        show_error(error)
        return
    signed = signed_submit(
        document=document,
        file_name=f"aikom-decision-{row.task_id}.json",
        key=f"task{row.task_id}",
        person_id=person.id,
    )
    if signed is None:
        return
    try:
        outcome = commands.decide_task(
            task_id=row.task_id,
            actor=commands.actor_of(person.id),
            decision=decision,
            comment=comment or None,
            signed=signed,
        )
    except Exception as error:
        show_error(error)
        return
    _forget([row.task_id])
    flash(outcome.message_uk)
    st.rerun()


def _toggle_pick(task_id: int, title: str, decisions: list[str]) -> None:
    picked: dict[int, dict[str, Any]] = st.session_state.setdefault(BATCH_KEY, {})
    if st.session_state.get(f"pick{task_id}"):
        picked[task_id] = {"title": title, "decisions": decisions}
    else:
        picked.pop(task_id, None)


def _unpick(task_id: int) -> None:
    st.session_state.setdefault(BATCH_KEY, {}).pop(task_id, None)
    st.session_state.pop(f"pick{task_id}", None)


def _own_screen(row: QueueRow, column: Any) -> None:
    """A step decided on a screen of its own (a checklist, a form): a link there, no decision here."""
    assert row.screen_page is not None
    column.page_link(
        page_spec(row.screen_page).script,
        label=f"Розглянути на сторінці «{row.screen_title}»",
        icon=":material/open_in_new:",
    )
    st.caption(
        f"Це завдання розглядають на сторінці «{row.screen_title}» (або командою `{row.screen_command}`): "
        "рішення тут не ухвалюють."
    )


def _task_card(row: QueueRow, person: PersonView) -> None:
    opened = st.session_state.get(OPEN_KEY) == row.task_id
    with st.container(border=True):
        st.subheader(f"№ {row.task_id}. {plain(row.title)}")
        asked = plain(row.requester) if row.requester else "система"
        st.markdown(f"**Запит від:** {asked} · **процес:** {plain(row.process_title)} (№ {row.process_id})")
        due = f"**Строк:** {kyiv(row.due_at)}" + (" — :red[**прострочено**]" if row.overdue else "")
        notes = [due]
        if row.oblast:
            notes.append(f"**Область:** {plain(row.oblast)}")
        notes.append(f"**У роботі:** {plain(row.claimed_by)}" if row.claimed_by else "Ніхто не взяв у роботу")
        if row.escalation_level:
            notes.append(f"Передано з нижчого рівня через прострочення (рівень {row.escalation_level})")
        if row.absence_of:
            notes.append(f"За відсутності: {plain(row.absence_of)}")
        st.markdown(" · ".join(notes))
        shown = row.details.get("shown")
        for label, value in shown if isinstance(shown, list) else []:
            st.text(f"{label}: {value}")
        columns = st.columns(4, vertical_alignment="center")
        if row.claimed_by_id is None:
            if columns[0].button("Взяти в роботу", key=f"claim{row.task_id}"):
                _act(queue.claim, row.task_id, person.id, f"Завдання №{row.task_id} взято в роботу.")
        elif columns[0].button("Звільнити", key=f"release{row.task_id}"):
            _act(
                queue.release, row.task_id, person.id, f"Завдання №{row.task_id} повернуто до спільної черги."
            )
        if row.screen_page is not None:
            _own_screen(row, columns[1])
            return
        if columns[1].button("Згорнути" if opened else "Розглянути", key=f"open{row.task_id}"):
            st.session_state[OPEN_KEY] = None if opened else row.task_id
            st.rerun()
        if f"pick{row.task_id}" not in st.session_state:  # (a row shown again after a filter change)
            st.session_state[f"pick{row.task_id}"] = row.task_id in st.session_state.get(BATCH_KEY, {})
        columns[2].checkbox(
            "До пакетного рішення",
            key=f"pick{row.task_id}",
            on_change=_toggle_pick,
            args=(row.task_id, row.title, row.decisions),
        )
        if opened:
            _decision_panel(row, person)


def _batch_document(person_id: int, choices: list[tuple[int, Decision, str | None]]) -> bytes:
    """The batch document to sign; kept per choice list so its time stays fixed."""
    key = tuple((task_id, decision.value, comment) for task_id, decision, comment in choices)
    documents: dict[tuple[Any, ...], bytes] = st.session_state.setdefault(BATCH_DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            documents[key] = batch.batch_document(session=session, actor=actor, choices=choices)
    return documents[key]


def _batch_panel(person: PersonView) -> None:
    picked: dict[int, dict[str, Any]] = st.session_state.get(BATCH_KEY, {})
    if not picked:
        return
    st.divider()
    st.subheader(f"Пакетне рішення: {len(picked)} завд.")
    st.caption(
        "Один підпис КЕП над пакетним документом, що перелічує кожне завдання і рішення щодо нього. Кожне "
        "завдання перевіряється окремо: те, що порушує правило, буде названо, інші рішення буде ухвалено."
    )
    choices: list[tuple[int, Decision, str | None]] = []
    comment = st.text_area("Коментар до кожного рішення пакета", key="batch_comment", max_chars=2000).strip()
    for task_id, info in picked.items():
        columns = st.columns([4, 2, 1], vertical_alignment="center")
        columns[0].text(f"№ {task_id}. {info['title']}")
        decision = columns[1].selectbox(
            "Рішення",
            _decisions_of(info["decisions"]),
            format_func=DECISION_LABELS_UK.__getitem__,
            key=f"bd{task_id}",
            label_visibility="collapsed",
        )
        columns[2].button("Прибрати", key=f"unpick{task_id}", on_click=_unpick, args=(task_id,))
        choices.append((task_id, decision, comment or None))
    try:
        document = _batch_document(person.id, choices)
    except Exception as error:
        show_error(error)
        return
    signed = signed_submit(
        document=document,
        file_name="aikom-batch-decision.json",
        key="batch",
        person_id=person.id,
        labels=BATCH_LABELS,
    )
    if signed is None:
        return
    try:
        outcome = commands.decide_tasks(
            actor=commands.actor_of(person.id), signed=signed, task_ids=[c[0] for c in choices]
        )
    except Exception as error:
        show_error(error)
        return
    _forget([item.task_id for item in outcome.items])
    flash(f"Пакетне рішення: ухвалено {outcome.decided}, не ухвалено {outcome.refused}.")
    for item in outcome.items:
        if item.ok:
            flash(f"Завдання №{item.task_id}: {item.message_uk}")
        else:
            flash(f"Завдання №{item.task_id}: {item.message_uk}", "error")
    st.rerun()


def _open_from_link(rows: list[QueueRow]) -> None:
    """An email link (`/tasks?task=7`) opens that task once; one not in the queue is explained."""
    wanted = st.query_params.get("task")
    if not wanted or st.session_state.get(TASK_PARAM_KEY) == wanted:
        return
    st.session_state[TASK_PARAM_KEY] = wanted
    if wanted.isdigit() and any(row.task_id == int(wanted) for row in rows):
        st.session_state[OPEN_KEY] = int(wanted)
    else:
        st.info(
            f"Завдання №{plain(wanted)} немає серед ваших завдань з цими фільтрами: його вже розглянули, "
            "воно призначене іншій особі або не стосується вашої зони відповідальності."
        )


person = open_page("tasks")
st.title("Мої завдання")
filters = _filters(person)
page_no = int(st.session_state.get("q_page") or 1)
try:
    with unit_of_work() as session:
        actor = approvals.find_person(session=session, ref=str(person.id))
        page = queue.queue_page(
            session=session, actor=actor, filters=filters, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
except Exception as error:
    show_error(error)
    st.stop()
if page_no > 1 and not page.rows:  # the filters left fewer pages than the one shown
    st.session_state["q_page"] = 1
    st.rerun()

_watch(person.id, filters, (page.total, page.mine, page.unassigned))
st.caption(
    f"Усього: {page.total} · прострочено: {page.overdue} · взяті вами: {page.mine} · "
    f"ніхто не взяв: {page.unassigned}. Упорядковано за строком; сторінка оновлюється сама, "
    "коли надходить завдання."
)
if st.button("Оновити", key="refresh_tasks"):
    st.rerun()
_open_from_link(page.rows)
if not page.rows:
    st.info("Завдань, що очікують вашого рішення, немає.")
for row in page.rows:
    _task_card(row, person)
if page.total > PAGE_SIZE:
    st.number_input(
        f"Сторінка (по {PAGE_SIZE} завдань)",
        min_value=1,
        max_value=(page.total + PAGE_SIZE - 1) // PAGE_SIZE,
        step=1,
        key="q_page",
    )
_batch_panel(person)
