"""«ОІС» for institute staff (institute admins act, managers read): one page, two tabs, each a module of
its own — «Заявки та перевірки» (`aikom.dashboard.ois_applications`: applications, conformity reviews,
conclusions, the agreement, the extended review) and «Підключені ОІС» (`aikom.dashboard.ois_connected`:
connected systems, phases, suspension, disconnection, grants per ОІС)."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.navigation import open_page
from aikom.dashboard.ois_applications import applications
from aikom.dashboard.ois_connected import connected_systems

APPLICATIONS_TAB, CONNECTED_TAB = "Заявки та перевірки", "Підключені ОІС"

person = open_page("ois")
st.title("ОІС")
st.caption(
    "Освітні інформаційні системи: заявки на підключення та їх перевірка, підключені ОІС з їхніми "
    "можливостями за фазами, зупинення, відновлення, відключення та доступи закладів освіти."
)
applications_tab, connected_tab = st.tabs([APPLICATIONS_TAB, CONNECTED_TAB])
with applications_tab:
    applications(person)
with connected_tab:
    connected_systems(person.id)
