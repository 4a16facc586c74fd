"""The fields of a person card, as every start form that creates one asks for them."""

from __future__ import annotations

import streamlit as st


def person_card_fields(whose: str) -> dict[str, str]:
    """ПІБ, РНОКПП, email and position of the person (`whose`: «заступника», …), inside a form."""
    return {
        "full_name": st.text_input(f"ПІБ {whose}", key="full_name", max_chars=300),
        "rnokpp": st.text_input(f"РНОКПП {whose}", key="rnokpp", max_chars=10),
        "email": st.text_input(f"Електронна пошта {whose}", key="email", max_chars=320),
        "position": st.text_input("Посада", key="position", max_chars=300),
    }
