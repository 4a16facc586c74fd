"""«Пошта (демо)»: the local SMTP sink's mailbox — every message the system has sent (demo mode only; the
page registry registers it only then). Only institute staff see it, and keys and other secrets in the
messages are masked: the mailbox holds base keys that only their addressee may read."""

from __future__ import annotations

import re

import streamlit as st

from aikom.dashboard.context import settings
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import open_page
from aikom.mail.sink import read_mailbox

MASK = "••••••••"
# Access keys (`aikb_…`, `aika_…`, see aikom.core.keys) and any other long token-like run of characters.
_KEY = re.compile(r"\b(aik[ab])_[A-Za-z0-9_]+")
_TOKEN = re.compile(r"(?<![\w/.@-])(?=[A-Za-z0-9+/=_-]*\d)(?=[A-Za-z0-9+/=_-]*[A-Za-z])[A-Za-z0-9+/=_-]{24,}")


def mask_secrets(text: str) -> str:
    """`text` with every access key and long token replaced by a mask (the key's kind stays readable)."""
    text = _KEY.sub(lambda m: f"{m.group(1)}_{MASK} (приховано)", text)
    return _TOKEN.sub(f"{MASK} (приховано)", text)


def render() -> None:
    """The page."""
    open_page("mailbox")
    st.title("Пошта (демонстраційна скринька)")
    st.caption("Листи, які надіслала система, у локальній SMTP-скриньці. Ключі доступу приховано.")
    messages = read_mailbox(settings().mailbox_dir)
    if not messages:
        st.info("Листів поки немає.")
    for message in reversed(messages):
        with st.expander(f"{plain(mask_secrets(message.subject))} — {plain(message.to)}"):
            st.text(f"{message.date} · {message.message_id}")
            st.text(mask_secrets(message.text))


render()
