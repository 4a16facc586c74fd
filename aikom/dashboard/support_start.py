"""The desk's «від імені» controls on «Служба підтримки»: start the process a request maps to (its start
form, prefilled from the request, submitted on the requester's behalf), and file a request for a person.
Logic lives in `aikom.services.support_processes` and `aikom.commands`; this only draws and calls."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from aikom import commands
from aikom.core.actor import Actor
from aikom.core.validation import validation_message_uk
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import plain
from aikom.dashboard.pages import page
from aikom.dashboard.support_widgets import actor_of, attachment_uploader
from aikom.models import SupportRequestType
from aikom.processes import get_spec, load
from aikom.services import org, support, support_processes
from aikom.services.persons import PersonView, person_view
from aikom.services.support_queue import RequestDetail

START_FOR = "sq_start_for"  # the request whose process's start form is open
PREFILL = "sq_start_prefill"  # its prefilled raw parameters


def show_process(detail: RequestDetail) -> None:
    """The process started from the request: its state, current step and a link to its page."""
    process = detail.process
    if process is None:
        return
    step = f" · поточний крок: {process.current_step_uk}" if process.current_step_uk else ""
    with st.container(border=True):
        st.text(f"Процес №{process.id} «{process.title}»: {process.state_uk}{step}")
        st.page_link(
            page("process").script,
            label=f"Відкрити процес №{process.id}",
            query_params={"id": str(process.id)},
        )


def _open_form(person: PersonView, request_id: int) -> None:
    try:
        with unit_of_work() as session:
            form = support_processes.start_form(
                session=session, actor=actor_of(person), request_id=request_id
            )
    except Exception as error:
        show_error(error)
        return
    # A start form's widgets are keyed by its parameters' names: set before they are drawn, they open
    # prefilled (a field the request does not carry opens empty, never with another request's value);
    # what the form does not show (`support_request_id`) is merged in at submission.
    for key in get_spec(form.process_type).params.model_fields:
        value = form.params.get(key)
        if isinstance(value, str):
            st.session_state[key] = value
        else:
            st.session_state.pop(key, None)
    st.session_state[START_FOR] = request_id
    st.session_state[PREFILL] = form.params
    st.rerun()


def start_process_control(person: PersonView, detail: RequestDetail) -> None:
    """«Запустити процес …» (desk only, a mapped type, no live process), then the prefilled start form."""
    r = detail.request
    if detail.process_to_start is None:
        st.session_state.pop(START_FOR, None)
        return
    if st.session_state.get(START_FOR) != r.id:
        if st.button(f"Запустити процес «{detail.process_to_start}»", key="sq_start_process"):
            _open_form(person, r.id)
        return
    try:
        with unit_of_work() as session:
            form = support_processes.start_form(session=session, actor=actor_of(person), request_id=r.id)
            requester = person_view(session=session, person_id=form.requester_id)
    except Exception as error:
        show_error(error)
        return
    spec = get_spec(form.process_type)
    with st.container(border=True):
        st.subheader(plain(f"Запуск процесу «{spec.title_uk}»"))
        st.caption(
            plain(
                f"Від імені: {requester.full_name} ({requester.org_name}). Запускає: {person.full_name}. "
                "Дані заповнено зі звернення — перевірте їх перед запуском."
            )
        )
        if st.button("Скасувати запуск", key="sq_start_cancel"):
            st.session_state.pop(START_FOR, None)
            st.rerun()
        if spec.form is None:
            st.info(f"Цей процес запускають з командного рядка: aikom support start-process {r.id} --as …")
            return
        raw = load(spec.form)(requester)
    if raw is None:
        return
    params = {**st.session_state.get(PREFILL, {}), **raw}
    try:
        outcome = commands.start_process_from_request(request_id=r.id, actor=actor_of(person), params=params)
    except ValidationError as error:
        st.error(plain(validation_message_uk(error)))
    except Exception as error:
        show_error(error)
    else:
        st.session_state.pop(START_FOR, None)
        st.session_state.pop(PREFILL, None)
        flash(f"{outcome.message_uk} Від імені: {requester.full_name}.")
        st.rerun()


def file_for_person(person: PersonView) -> None:
    """«Нове звернення від імені особи»: the requester chosen from persons, then the request; it opens."""
    with st.expander("Нове звернення від імені особи", expanded=False):
        query = st.text_input("Пошук заявника (ПІБ, email або номер картки)", key="sq_nr_query")
        try:
            with unit_of_work() as session:
                choices = dict(support_processes.requester_choices(session=session, query=query))
        except Exception as error:
            show_error(error)
            return
        if query.strip() and not choices:
            st.info("Таких осіб не знайдено.")
        requester_id = st.selectbox(
            "Заявник",
            list(choices),
            format_func=lambda i: choices[i],
            index=None,
            placeholder="Оберіть особу",
            key="sq_nr_requester",
        )
        with st.form("sq_new", clear_on_submit=True):
            request_type = st.selectbox(
                "Тип звернення",
                list(SupportRequestType),
                format_func=lambda t: support.TYPE_LABELS_UK[t],
                key="sq_nr_type",
            )
            unit_code = st.text_input(
                "Організація (ЄДРПОУ або КАТОТТГ; порожньо — заявника)", key="sq_nr_unit"
            )
            subject = st.text_input("Тема", max_chars=support.SUBJECT_CHARS, key="sq_nr_subject")
            body = st.text_area("Текст звернення (зі слів заявника)", key="sq_nr_body")
            files = attachment_uploader("sq_nr_files")
            submitted = st.form_submit_button("Подати від імені заявника", key="sq_nr_send")
    if not submitted:
        return
    if requester_id is None:
        st.error("Заявник: оберіть особу, від імені якої подається звернення.")
        return
    try:
        with unit_of_work() as session:
            who: Actor = support_processes.filing_actor(
                session=session, actor=actor_of(person), requester_id=requester_id
            )
            unit_id = org.find_unit(session=session, code=unit_code).id if unit_code.strip() else None
            request = support.file_request(
                session=session,
                actor=who,
                type=request_type or SupportRequestType.QUESTION,
                subject=subject,
                body=body,
                org_unit_id=unit_id,
                attachments=files,
            )
            request_id = request.id
    except Exception as error:
        show_error(error)
        return
    flash(f"Звернення #{request_id} подано від імені {who.on_behalf_of_label}.")
    st.query_params["request"] = str(request_id)
    st.rerun()
