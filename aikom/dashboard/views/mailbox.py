"""The local SMTP sink's mailbox (demo mode): every message the system has sent."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import settings
from aikom.mail.sink import read_mailbox

st.title("Пошта (демонстраційна скринька)")
messages = read_mailbox(settings().mailbox_dir)
if not messages:
    st.info("Листів поки немає.")
for message in reversed(messages):
    with st.expander(f"{message.subject} — {message.to}"):
        st.caption(f"{message.date} · {message.message_id}")
        st.text(message.text)
