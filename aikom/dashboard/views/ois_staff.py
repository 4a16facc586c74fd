"""«ОІС» for institute staff (institute admins decide, managers read). Each section is a module of its
own, called here in turn: the connected systems (`aikom.dashboard.ois_connected`); the applications and
reviews of the connection process add theirs the same way."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.navigation import open_page
from aikom.dashboard.ois_connected import connected_systems

person = open_page("ois")
st.title("ОІС")
st.caption(
    "Освітні інформаційні системи, підключені до АІКОМ: можливості за фазами, зупинення, відновлення, "
    "відключення та доступи закладів освіти."
)
connected_systems(person.id)
