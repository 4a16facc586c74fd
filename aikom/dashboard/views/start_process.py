"""«Почати процес»: the processes this person's role may start (from the registry), each with its form."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from aikom import commands
from aikom.core.validation import validation_message_uk
from aikom.dashboard.context import flash, show_error
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.pages import page
from aikom.processes import all_specs, load

LAST_KEY = "start_last_process"

person = open_page("start")
st.title("Почати процес")
last = st.session_state.get(LAST_KEY)
if last:
    st.page_link(
        page("process").script, label=f"Відкрити процес №{int(last)}", query_params={"id": str(last)}
    )

startable = [spec for spec in all_specs() if spec.may_be_started_by(person.role)]
titles = {spec.title_uk: spec for spec in startable}
chosen = st.selectbox("Процес", list(titles), key="process_type") if len(titles) > 1 else next(iter(titles))
spec = titles[chosen]
st.subheader(plain(spec.title_uk))
if spec.description_uk:
    st.caption(plain(spec.description_uk))
if spec.form is None:
    st.info(f"Цей процес починають з командного рядка: aikom process start {spec.type} --params …")
    st.stop()

raw = load(spec.form)(person)
if raw is not None:
    try:
        outcome = commands.start_process(
            process_type=spec.type, params=raw, actor=commands.actor_of(person.id)
        )
    except ValidationError as error:
        st.error(plain(validation_message_uk(error)))
    except Exception as error:
        show_error(error)
    else:
        flash(outcome.message_uk)
        st.session_state[LAST_KEY] = st.session_state["process_id"] = outcome.process_id
        st.rerun()
