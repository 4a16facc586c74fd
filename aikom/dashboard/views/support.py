"""«Служба підтримки»: the desk's queue with its filters, and a request's thread with the desk's steps —
reply, internal note, triage, assign, resolve, close. What requesters wrote is shown as text only."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.support_start import file_for_person, show_process, start_process_control
from aikom.dashboard.support_widgets import act, actor_of, show_thread
from aikom.dashboard.widgets import oblast_filter
from aikom.models import SupportPriority, SupportRequestState, SupportRequestType
from aikom.services import support, support_queue, support_sla

PAGE_SIZE = 50

person = open_page("support")
st.title("Служба підтримки")
requested = st.query_params.get("request")
request_id = int(requested) if requested and requested.isdigit() else None


def _queue() -> None:
    file_for_person(person)
    columns = st.columns(3)
    states = columns[0].multiselect(
        "Стан",
        list(SupportRequestState),
        default=list(support.OPEN_STATES),
        format_func=lambda s: support.STATE_LABELS_UK[s],
        key="sq_states",
    )
    request_type = columns[1].selectbox(
        "Тип",
        [None, *SupportRequestType],
        format_func=lambda t: "Усі типи" if t is None else support.TYPE_LABELS_UK[t],
        key="sq_type",
    )
    with unit_of_work() as session:
        members = dict(support_queue.desk_members(session=session))
    assignee = columns[2].selectbox(
        "Виконавець",
        [None, *members],
        format_func=lambda p: "Будь-хто" if p is None else members[p],
        key="sq_assignee",
    )
    oblast_id = oblast_filter(person.org_unit_id, key="sq_oblast")
    flags = st.columns(2)
    mine = flags[0].checkbox("Лише мої", key="sq_mine")
    overdue = flags[1].checkbox(
        "Прострочені", key="sq_overdue", help="Перша відповідь або вирішення понад SLA (у робочих годинах)"
    )
    offset = int(st.session_state.get("sq_offset", 0))
    try:
        with unit_of_work() as session:
            page = support_queue.queue_page(
                session=session,
                actor=actor_of(person),
                filters=support_queue.QueueFilters(
                    states=states,
                    type=request_type,
                    oblast_id=oblast_id,
                    assignee_id=assignee,
                    mine=mine,
                    overdue=overdue,
                ),
                offset=offset,
                limit=PAGE_SIZE,
            )
    except Exception as error:
        show_error(error)
        st.stop()
    st.markdown(
        f"Звернень: **{page.total}** · нових: **{page.new}** · без виконавця: **{page.unassigned}** · "
        f"моїх: **{page.mine}**"
    )
    if not page.rows:
        st.info("Звернень за цими умовами немає.")
    for row in page.rows:
        with st.container(border=True):
            line, button = st.columns([6, 1], vertical_alignment="center")
            flag = "\n⚠ Відправник не є заявником пов’язаного звернення — перевірте." if row.flag else ""
            sla = (
                f"\n{'⏰ ' if row.sla.breached else ''}Перша відповідь: {row.sla.first_response.label} · "
                f"вирішення: {row.sla.resolution.label}"
                if row.sla
                else ""
            )
            line.text(
                f"#{row.id} · {row.state_label} · {row.type_label} · {row.subject}\n"
                f"{row.requester} · {row.org_unit or 'організацію не вказано'} · "
                f"виконавець: {row.assignee or '—'} · {kyiv(row.created_at)}{flag}{sla}"
            )
            if button.button("Відкрити", key=f"open-{row.id}"):
                st.query_params["request"] = str(row.id)
                st.rerun()
    if page.total > PAGE_SIZE:
        previous, following = st.columns(2)
        if offset > 0 and previous.button("← Попередні", key="sq_prev"):
            st.session_state["sq_offset"] = max(0, offset - PAGE_SIZE)
            st.rerun()
        if offset + PAGE_SIZE < page.total and following.button("Наступні →", key="sq_next"):
            st.session_state["sq_offset"] = offset + PAGE_SIZE
            st.rerun()


def _request(request_id: int) -> None:
    if st.button("← До черги", key="sq_back"):
        st.query_params.clear()
        st.rerun()
    try:
        with unit_of_work() as session:
            detail = support_queue.request_detail(
                session=session, actor=actor_of(person), request_id=request_id
            )
            members = dict(support_queue.desk_members(session=session))
    except Exception as error:
        show_error(error)
        return
    r = detail.request
    st.subheader(plain(f"#{r.id} {r.subject}"))
    st.text(
        f"Тип: {r.type_label} · стан: {r.state_label} · пріоритет: {detail.priority_label}\n"
        f"Заявник: {r.requester} · організація: {r.org_unit or '—'} · виконавець: {r.assignee or '—'}\n"
        f"Надійшло: {kyiv(r.created_at)} · канал: {'ел. пошта' if r.channel == 'email' else 'кабінет'}\n"
        f"Перша відповідь: {kyiv(detail.first_response_at)}"
        + (
            f"\nSLA — перша відповідь: {r.sla.first_response.label}; вирішення: {r.sla.resolution.label}"
            if r.sla
            else ""
        )
        + (f"\nПов’язане звернення: #{r.linked_request_id}" if r.linked_request_id else "")
    )
    if r.flag:
        st.warning("Відправник листа не є заявником звернення, у яке він відповідав. Перевірте, хто пише.")
    show_process(detail)
    start_process_control(person, detail)
    show_thread(person, detail)
    if detail.history:
        with st.expander("Історія звернення"):
            st.text("\n".join(f"{kyiv(h.at)} · {h.actor} · {h.action_uk}" for h in detail.history))

    reply_tab, note_tab, triage_tab, assign_tab, finish_tab = st.tabs(
        ["Відповісти", "Нотатка", "Розгляд", "Виконавець", "Завершення"]
    )
    canned = support_sla.canned_replies()

    def _use_canned() -> None:
        code = st.session_state.get("sq_canned")
        if not code:
            return
        try:
            with unit_of_work() as session:
                st.session_state["sq_reply_text"] = support_sla.render_canned(
                    session=session, actor=actor_of(person), request_id=r.id, code=code
                )
        except Exception as error:
            show_error(error)

    reply_tab.selectbox(
        "Шаблон відповіді",
        [None, *canned],
        format_func=lambda c: "— без шаблону —" if c is None else canned[c],
        key="sq_canned",
        on_change=_use_canned,
    )
    with reply_tab, st.form("sq_reply", clear_on_submit=True):
        text = st.text_area("Відповідь заявнику (надсилається листом)", key="sq_reply_text")
        if st.form_submit_button("Надіслати відповідь", key="sq_reply_send"):
            act(
                person,
                "Відповідь надіслано.",
                lambda s, a: support.reply(session=s, actor=a, request_id=r.id, body=text),
            )
    with note_tab, st.form("sq_note", clear_on_submit=True):
        note = st.text_area("Внутрішня нотатка (заявник її не бачить)", key="sq_note_text")
        if st.form_submit_button("Додати нотатку", key="sq_note_send"):
            act(
                person,
                "Нотатку додано.",
                lambda s, a: support.add_note(session=s, actor=a, request_id=r.id, body=note),
            )
    with triage_tab, st.form("sq_triage"):
        decision = st.radio(
            "Рішення",
            list(support.TriageDecision),
            format_func=lambda d: support.TRIAGE_LABELS_UK[d],
            key="sq_decision",
        )
        new_type = st.selectbox(
            "Тип",
            list(SupportRequestType),
            index=list(SupportRequestType).index(SupportRequestType(r.type)),
            format_func=lambda t: support.TYPE_LABELS_UK[t],
            key="sq_new_type",
        )
        priority = st.selectbox(
            "Пріоритет",
            list(SupportPriority),
            index=list(SupportPriority).index(SupportPriority(r.priority)),
            format_func=lambda p: support.PRIORITY_LABELS_UK[p],
            key="sq_priority",
        )
        comment = st.text_area(
            "Коментар для заявника (для відхилення й запиту — обов’язковий)", key="sq_comment"
        )
        if st.form_submit_button("Зберегти рішення", key="sq_triage_send"):
            act(
                person,
                "Рішення збережено.",
                lambda s, a: support.triage(
                    session=s,
                    actor=a,
                    request_id=r.id,
                    decision=decision or support.TriageDecision.ACCEPT,
                    comment=comment,
                    type=new_type,
                    priority=priority,
                ),
            )
    with assign_tab:
        if st.button("Взяти собі", key="sq_claim"):
            act(
                person,
                "Звернення взято в роботу.",
                lambda s, a: support.claim(session=s, actor=a, request_id=r.id),
            )
        chosen = st.selectbox(
            "Призначити",
            [None, *members],
            format_func=lambda p: "— нікого —" if p is None else members[p],
            key="sq_assign_to",
        )
        if st.button("Призначити", key="sq_assign"):
            act(
                person,
                "Виконавця змінено.",
                lambda s, a: support.assign(session=s, actor=a, request_id=r.id, assignee_id=chosen),
            )
    with finish_tab:
        with st.form("sq_resolve", clear_on_submit=True):
            done = st.text_area("Що зроблено (надсилається заявнику)", key="sq_done_text")
            if st.form_submit_button("Позначити виконаним", key="sq_resolve_send"):
                act(
                    person,
                    "Звернення виконано.",
                    lambda s, a: support.resolve(session=s, actor=a, request_id=r.id, comment=done),
                )
        if st.button("Закрити звернення", key="sq_close"):
            act(person, "Звернення закрито.", lambda s, a: support.close(session=s, actor=a, request_id=r.id))


if request_id is None:
    _queue()
else:
    _request(request_id)
