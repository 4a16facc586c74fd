"""«Реєстрація оператора ОІС»: a company outside the education tree registers with the КЕП of its employee
(the certificate's ЄДРПОУ is the company's): its org unit, its account and the signer's operator card;
then the operator is signed in and applies on «Моя ОІС»."""

from __future__ import annotations

import uuid

import streamlit as st

from aikom.core.errors import DomainError
from aikom.dashboard.context import current_person, flash, settings, show_error, start_session, unit_of_work
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import switch_to
from aikom.dashboard.widgets import signature_uploader
from aikom.services import ois_connection as oc
from aikom.services.signin import challenge_content, issue_challenge
from aikom.services.trust import current_trust_list

NONCE_KEY = "ois_register_nonce"


def _client_key() -> str:
    address = st.context.ip_address
    if address:
        return f"ip:{address}"
    return "session:" + st.session_state.setdefault("client_id", uuid.uuid4().hex)


def _new_challenge() -> str:
    with unit_of_work() as session:
        challenge = issue_challenge(session=session, settings=settings())
    st.session_state[NONCE_KEY] = challenge.nonce
    return challenge.nonce


def _register(nonce: str, signature: bytes, company: str, email: str, *, demo: bool = False) -> None:
    cfg = settings()
    try:
        with unit_of_work() as session:
            result = oc.register_operator(
                session=session,
                settings=cfg,
                trust=current_trust_list(cfg),
                nonce=nonce,
                signature=signature,
                email=email,
                company_name=company or None,
                client_key=_client_key(),
            )
            if demo:  # the demo newcomer is now a demo person: it signs in and signs with its demo key
                from aikom.demo.persons import remember_newcomer

                remember_newcomer(session=session, settings=cfg, person_id=result.person_id)
    except Exception as error:
        st.session_state.pop(NONCE_KEY, None)  # the challenge is burnt by any attempt
        if isinstance(error, DomainError) and not isinstance(error, oc.RegistrationRateLimited):
            with unit_of_work() as session:
                oc.registration_refused(
                    session=session, nonce=nonce, client_key=_client_key(), reason=error.code
                )
        show_error(error)
        return
    st.session_state.pop(NONCE_KEY, None)
    try:
        start_session(result.person_id, _client_key())
    except Exception as error:
        show_error(error)
        return
    flash("Оператора ОІС зареєстровано, вхід виконано. Подайте заявку на підключення вашої ОІС.")
    switch_to("my-ois")


st.title("Реєстрація оператора ОІС")
person = current_person()
if person is not None:
    st.markdown(plain(f"Ви увійшли як {person.full_name} — {person.role_title}."))
    st.stop()
st.write(
    "Оператор освітньої інформаційної системи (ОІС) — компанія, що не належить до системи освіти. "
    "Зареєструйтеся КЕП працівника вашої компанії (у сертифікаті — ЄДРПОУ компанії): отримайте одноразовий "
    "виклик, підпишіть його файл (відокремлений підпис .p7s) і завантажте підпис. Після реєстрації ви "
    "входите до АІКОМ як звичайно, з цим КЕП."
)
nonce = st.session_state.get(NONCE_KEY) or _new_challenge()
st.download_button(
    "Завантажити виклик для підпису",
    data=challenge_content(nonce),
    file_name="aikom-ois-registration.txt",
    mime="text/plain",
    key="ois_reg_challenge",
)
company = st.text_input("Назва компанії (як у ЄДР)", key="ois_reg_company", max_chars=500).strip()
email = st.text_input("Ваша ел. пошта", key="ois_reg_email", max_chars=320).strip()
uploaded = signature_uploader("Підпис виклику (.p7s)", key="ois_reg_p7s")
if st.button("Зареєструватися з КЕП", key="ois_reg_submit", type="primary"):
    if uploaded is None:
        st.error("Підпис: завантажте відокремлений підпис виклику (.p7s).")
    else:
        _register(nonce, uploaded.getvalue(), company, email)

cfg = settings()
if cfg.demo_mode:
    st.divider()
    st.subheader("Демонстраційний режим")
    st.caption(
        "Сторінка підпише виклик демо-КЕП працівника компанії «ТОВ «Новий Щоденник»», ще не зареєстрованої "
        "в АІКОМ — як це зробив би її засіб КЕП."
    )
    if st.button("Зареєструватися демо-КЕП нової компанії", key="ois_reg_demo"):
        from aikom.demo.persons import demo_newcomer_key, demo_sign

        try:
            with unit_of_work() as session:
                key = demo_newcomer_key(session=session, settings=cfg)
            signature = demo_sign(cfg, key, challenge_content(nonce))
        except Exception as error:
            show_error(error)
        else:
            _register(
                nonce,
                signature,
                company or "ТОВ «Новий Щоденник»",
                email or "newcomer@demo.aikom.local",
                demo=True,
            )
