"""«Ключ API»: a new account's API key, shown ONCE to the unit's director or admin after the account's
first sign-in; afterwards only its hash remains (a lost key is replaced through key regeneration)."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import API_KEY_SHOWN, show_error, unit_of_work
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import open_page
from aikom.services.accounts import API_KEY_DELIVERY_DAYS, api_key_waiting, reveal_api_key

SHOWN_KEY = API_KEY_SHOWN  # kept in this browser session until its person signs out

person = open_page("api-key")
st.title("Ключ API облікового запису")
st.caption(plain(person.org_name))

shown = st.session_state.get(SHOWN_KEY)
if shown is not None:
    st.warning(
        "Збережіть ключ зараз: його показано лише один раз і більше не покажуть. Передавайте його лише "
        "обраній вами ОІС за договором із нею."
    )
    st.code(shown, language=None)
    st.stop()

try:
    with unit_of_work() as session:
        waiting = api_key_waiting(session=session, person_id=person.id)
except Exception as error:
    show_error(error)
    st.stop()

if not waiting:
    st.info(
        "Нового ключа API для показу немає: ключ показують один раз — після першого входу до нового "
        f"облікового запису, протягом {API_KEY_DELIVERY_DAYS} днів. Втрачений ключ замінюють через "
        "перегенерацію ключа."
    )
    st.stop()

st.write(
    "Для облікового запису згенеровано ключ API. Його буде показано один раз — натисніть кнопку, коли "
    "зможете його зберегти."
)
if st.button("Показати ключ API", type="primary", key="reveal_api_key"):
    try:
        with unit_of_work() as session:
            revealed = reveal_api_key(session=session, person_id=person.id)
    except Exception as error:
        show_error(error)
        st.stop()
    if revealed is None:
        st.info("Ключ уже показано або строк його показу минув.")
        st.stop()
    st.session_state[SHOWN_KEY] = revealed.token
    st.rerun()
