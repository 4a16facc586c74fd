"""«Мої звернення»: a person's own requests to the support desk with their states and public threads, a
reply to one of them, and a new request (type, subject unit — their own by default —, text, files)."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.support_start import show_process
from aikom.dashboard.support_widgets import act, actor_of, attachment_uploader, show_thread
from aikom.models import SupportRequestType
from aikom.services import org, support, support_queue

person = open_page("my-requests")
st.title("Мої звернення")
st.caption(
    "Звернення до служби технічної підтримки АІКОМ. Відповіді надходять і на вашу електронну пошту; на лист "
    "можна відповісти, не змінюючи тему."
)
requested = st.query_params.get("request")
request_id = int(requested) if requested and requested.isdigit() else None


def _new_request() -> None:
    with st.expander("Нове звернення", expanded=False), st.form("mr_new", clear_on_submit=True):
        request_type = st.selectbox(
            "Тип звернення",
            list(SupportRequestType),
            format_func=lambda t: support.TYPE_LABELS_UK[t],
            key="mr_type",
        )
        unit_code = st.text_input(
            "Організація (ЄДРПОУ або КАТОТТГ; порожньо — ваша)",
            key="mr_unit",
            help=f"За замовчуванням — {person.org_name}.",
        )
        subject = st.text_input("Тема", max_chars=support.SUBJECT_CHARS, key="mr_subject")
        body = st.text_area("Текст звернення", key="mr_body")
        files = attachment_uploader("mr_files")
        if st.form_submit_button("Надіслати звернення", key="mr_new_send"):

            def file_it(session: object, actor: object) -> None:
                from sqlalchemy.orm import Session

                assert isinstance(session, Session)
                unit_id = org.find_unit(session=session, code=unit_code).id if unit_code.strip() else None
                support.file_request(
                    session=session,
                    actor=actor_of(person),
                    type=request_type or SupportRequestType.QUESTION,
                    subject=subject,
                    body=body,
                    org_unit_id=unit_id,
                    attachments=files,
                )

            act(person, "Звернення надіслано до служби підтримки.", file_it)


def _list() -> None:
    _new_request()
    try:
        with unit_of_work() as session:
            rows = support_queue.my_requests(session=session, actor=actor_of(person))
    except Exception as error:
        show_error(error)
        return
    if not rows:
        st.info("Ви ще не зверталися до служби підтримки.")
    for row in rows:
        with st.container(border=True):
            line, button = st.columns([6, 1], vertical_alignment="center")
            line.text(
                f"#{row.id} · {row.state_label} · {row.type_label} · {row.subject}\n{kyiv(row.created_at)}"
            )
            if button.button("Відкрити", key=f"mr-open-{row.id}"):
                st.query_params["request"] = str(row.id)
                st.rerun()


def _request(request_id: int) -> None:
    if st.button("← До моїх звернень", key="mr_back"):
        st.query_params.clear()
        st.rerun()
    try:
        with unit_of_work() as session:
            detail = support_queue.request_detail(
                session=session, actor=actor_of(person), request_id=request_id
            )
    except Exception as error:
        show_error(error)
        return
    r = detail.request
    st.subheader(plain(f"#{r.id} {r.subject}"))
    st.text(f"Тип: {r.type_label} · стан: {r.state_label} · надійшло: {kyiv(r.created_at)}")
    show_process(detail)
    show_thread(person, detail)
    with st.form("mr_reply", clear_on_submit=True):
        text = st.text_area("Ваше повідомлення", key="mr_reply_text")
        files = attachment_uploader("mr_reply_files")
        if st.form_submit_button("Надіслати", key="mr_reply_send"):
            act(
                person,
                "Повідомлення додано до звернення.",
                lambda s, a: support.requester_reply(
                    session=s, actor=a, request_id=r.id, body=text, attachments=files
                ),
            )


if request_id is None:
    _list()
else:
    _request(request_id)
