"""The АІКОМ dashboard: one entry script, `st.navigation`, pages that call services."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from aikom.dashboard.context import current_person, render_cookie

PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="АІКОМ Back Office", page_icon="🎓", layout="wide")

person = current_person()
signin = st.Page(PAGES / "signin.py", title="Вхід", icon=":material/key:", url_path="signin")
mailbox = st.Page(PAGES / "mailbox.py", title="Пошта (демо)", icon=":material/mail:", url_path="mailbox")
work = [
    st.Page(PAGES / "my_tasks.py", title="Мої завдання", icon=":material/task:", url_path="tasks"),
    st.Page(
        PAGES / "start_process.py", title="Почати процес", icon=":material/play_arrow:", url_path="start"
    ),
    st.Page(PAGES / "process.py", title="Процес", icon=":material/timeline:", url_path="process"),
]
pages = {"Обліковий запис": [signin], "Робота": work, "Сервіс": [mailbox]}

with st.sidebar:
    if person is not None:
        st.markdown(f"**{person.full_name}**  \n{person.role_title}  \n{person.org_name}")
    else:
        st.caption("Ви не увійшли до системи.")
    render_cookie()

st.navigation(pages).run()
