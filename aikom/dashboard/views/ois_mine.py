"""«Моя ОІС» (an ОІС operator): the company's applications — state, the review notes of every round, the
agreement, the Institute's conclusion to download, how many schools granted access — a new application
with the signed accession agreement and a self-assessment, and the resubmission of a returned one."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from aikom import commands
from aikom.core.validation import validation_message_uk
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.forms.ois_connection import agreement_inputs, application_form, self_assessment
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.ois_connection_widgets import application_details, reviews
from aikom.dashboard.widgets import SigningLabels, signed_submit
from aikom.services import approvals
from aikom.services import ois_connection as oc
from aikom.services.ois_connection_views import OisCard, my_systems
from aikom.services.persons import PersonView

RESUBMIT_DOCS_KEY = "ois_resubmit_documents"
RESUBMIT_LABELS = SigningLabels(
    document="1. Завантажити документ повторного подання",
    signature="2. Підпис документа (.p7s)",
    submit="3. Подати повторно",
    demo="Підписати демо-ключем і подати повторно",
)


def _apply(person: PersonView) -> None:
    st.subheader("Нова заявка на підключення")
    raw = application_form(person)
    if raw is None:
        return
    try:
        outcome = commands.start_process(
            process_type="ois-connection", actor=commands.actor_of(person.id), params=raw
        )
    except ValidationError as error:
        st.error(plain(validation_message_uk(error)))
        return
    except Exception as error:
        show_error(error)
        return
    flash(f"Заявку подано. {outcome.message_uk}")
    st.rerun()


def _resubmit_document(person_id: int, ois_id: int, comment: str) -> bytes:
    key = (ois_id, comment)
    documents: dict[tuple[int, str], bytes] = st.session_state.setdefault(RESUBMIT_DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            documents[key] = oc.resubmit_document(
                session=session, ois_id=ois_id, actor=actor, comment=comment or None
            )
    return documents[key]


def _resubmit(card: OisCard, person_id: int) -> None:
    st.subheader("Доопрацювати і подати повторно")
    key = f"rs{card.id}"
    site = st.text_input("Сайт ОІС", value=card.site or "", key=f"{key}_site", max_chars=500).strip()
    email = st.text_input(
        "Ел. пошта для листів", value=card.contact_email, key=f"{key}_email", max_chars=320
    ).strip()
    name, content, signature, _ = agreement_inputs(key, required=False)
    answers = self_assessment(f"{key}_sa", card.self_assessment)
    comment = st.text_area("Що виправлено", key=f"{key}_comment", max_chars=2000).strip()
    try:
        document = _resubmit_document(person_id, card.id, comment)
    except Exception as error:
        show_error(error)
        return
    signed = signed_submit(
        document=document,
        file_name=f"aikom-ois-{card.id}-resubmit.json",
        key=key,
        person_id=person_id,
        labels=RESUBMIT_LABELS,
    )
    if signed is None:
        return
    try:
        changes = oc.ApplicationChanges(
            site=site or None,
            contact_email=email or None,
            agreement_file_name=name,
            agreement=content,
            agreement_signature=signature,
            self_assessment=answers,  # type: ignore[arg-type]
            comment=comment or None,
        )
        count = oc.resubmit_command(person_id=person_id, ois_id=card.id, changes=changes, signed=signed)
    except ValidationError as error:
        st.error(validation_message_uk(error))
        return
    except Exception as error:
        show_error(error)
        return
    st.session_state.pop(RESUBMIT_DOCS_KEY, None)
    flash(f"Заявку подано повторно (подання {count}): її перевірять знову.")
    st.rerun()


person = open_page("my-ois")
st.title("Моя ОІС")
st.caption(plain(f"Оператор ОІС: {person.org_name}. Заявки вашої компанії, їх перевірки та договір."))
try:
    with unit_of_work() as session:
        cards = my_systems(session=session, person_id=person.id)
except Exception as error:
    show_error(error)
    st.stop()

for card in cards:
    with st.container(border=True):
        st.subheader(plain(f"«{card.system_name}» — {card.state_label}"))
        application_details(card)
        st.text(f"Закладів, що надали доступ: {card.active_grants}")
        reviews(card, person.id)
        if card.open_step == "resubmit":
            _resubmit(card, person.id)
        elif card.open_step == "review":
            st.info("Заявка на перевірці відповідності Технічним вимогам у ІОА.")
        elif card.open_step == "agreement":
            st.info("Перевірку пройдено: договір про приєднання на погодженні в ІОА.")

if not cards:
    st.info("Заявок ще немає: подайте заявку на підключення вашої ОІС.")
    _apply(person)
else:
    with st.expander("Подати заявку на іншу ОІС"):
        _apply(person)
