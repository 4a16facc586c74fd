"""«Підключені ОІС» (public, no sign-in): the list of connected education information systems as the
Institute publishes it — name, company, ЄДРПОУ, site, what it may do now, connected since. Nothing else
about operators (no contacts, no persons). A suspended ОІС is not listed while it is suspended."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import show_error, unit_of_work
from aikom.dashboard.labels import KYIV_COLUMN, kyiv_cell
from aikom.services.ois_admin import CAPABILITY_UK, PublicOis, public_list

st.title("Підключені ОІС")
st.caption(
    "Освітні інформаційні системи (ОІС), підключені до АІКОМ на підставі договору про приєднання та "
    "висновку Інституту освітньої аналітики про відповідність технічним вимогам. Заклад освіти може "
    "передати ключ API лише підключеній ОІС. Зупинені й відключені системи тут не показано."
)


def _load() -> list[PublicOis] | None:
    try:
        with unit_of_work() as session:
            return public_list(session=session)
    except Exception as error:
        show_error(error)
        return None


listed = _load()
if listed is not None:
    if not listed:
        st.info("Наразі немає підключених ОІС.")
    else:
        st.markdown(f"Підключених систем: **{len(listed)}**")
        st.dataframe(
            [
                {
                    "Назва системи": o.name,
                    "Компанія": o.company,
                    "ЄДРПОУ": o.edrpou,
                    "Сайт": o.site or "",
                    "Можливості": CAPABILITY_UK[o.capability],
                    f"Підключена з {KYIV_COLUMN}": kyiv_cell(o.since),
                }
                for o in listed
            ],
            hide_index=True,
            width="stretch",
        )
