"""The АІКОМ dashboard: one entry script. The menu is built from the page registry for whoever is signed
in, on every rerun (`aikom.dashboard.navigation`); pages call services and application commands."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import current_person, end_session, flash, render_cookie, show_flashes
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import build, switch_to
from aikom.dashboard.widgets import UPLOADER_CSS

st.set_page_config(page_title="АІКОМ Back Office", page_icon="🎓", layout="wide")
st.html(f"<style>{UPLOADER_CSS}</style>")

person = current_person()
current = st.navigation(build(person))

with st.sidebar:
    if person is not None:
        st.markdown(
            f"**{plain(person.full_name)}**  \n{plain(person.role_title)}  \n{plain(person.org_name)}"
        )
        if st.button("Вийти", key="signout", icon=":material/logout:"):
            end_session()
            flash("Ви вийшли з системи.", "info")
            switch_to("signin")
    else:
        st.caption("Ви не увійшли до системи.")
    render_cookie()

show_flashes()
current.run()
