"""Sign-in with КЕП: download the one-time challenge, sign it, upload the .p7s (or, in demo mode, pick a
demo person and let the page sign with its demo key)."""

from __future__ import annotations

import uuid

import streamlit as st

from aikom.dashboard.context import (
    ENDED_KEY,
    current_person,
    flash,
    settings,
    show_error,
    start_session,
    unit_of_work,
)
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import SIGNIN_HINT_KEY, after_signin, switch_to
from aikom.dashboard.widgets import signature_uploader
from aikom.models import PersonRole
from aikom.services.accounts import api_key_waiting
from aikom.services.persons import ROLE_TITLES_UK
from aikom.services.signin import challenge_content, issue_challenge, sign_in
from aikom.services.trust import current_trust_list

NONCE_KEY = "signin_nonce"
BASE_KEY_KEY = "signin_base_key"


def _client_key() -> str:
    """Who is trying, for rate limiting: the client address, else this browser session."""
    address = st.context.ip_address
    if address:
        return f"ip:{address}"
    return "session:" + st.session_state.setdefault("client_id", uuid.uuid4().hex)


def _complete(nonce: str, signature: bytes) -> None:
    cfg = settings()
    try:
        with unit_of_work() as session:
            result = sign_in(
                session=session,
                settings=cfg,
                trust=current_trust_list(cfg),
                nonce=nonce,
                signature=signature,
                client_key=_client_key(),
                base_key=st.session_state.get(BASE_KEY_KEY) or None,
            )
    except Exception as error:  # shown as a message, never as a traceback
        show_error(error)
        return
    st.session_state.pop(NONCE_KEY, None)
    if result.ok and result.decided_task_ids:
        # A first sign-in decides the step that waited for it: wake that run now (Prefect down: the
        # decision is committed and the reconciler resumes the run later).
        from aikom.services.reconcile import wake_for_task

        for task_id in result.decided_task_ids:
            wake_for_task(task_id)
    if not result.ok:
        st.error(plain(result.message_uk))
        return
    try:
        start_session(int(result.person_id or 0), _client_key())
    except Exception as error:
        show_error(error)
        return
    flash("Вхід виконано. Вашу картку активовано." if result.activated else "Вхід виконано.")
    with unit_of_work() as session:
        key_waiting = api_key_waiting(session=session, person_id=int(result.person_id or 0))
    if key_waiting:  # a new account's API key waits to be shown once: that comes first
        switch_to("api-key")
    after_signin()


def _new_challenge() -> str:
    with unit_of_work() as session:
        challenge = issue_challenge(session=session, settings=settings())
    st.session_state[NONCE_KEY] = challenge.nonce
    return challenge.nonce


st.title("Вхід до АІКОМ")
ended = st.session_state.pop(ENDED_KEY, None)
if ended:
    st.warning(ended)

person = current_person()
if person is not None:
    st.markdown(
        f"Ви увійшли як **{plain(person.full_name)}** — {plain(person.role_title)}, "
        f"{plain(person.org_name)}. Вийти можна кнопкою «Вийти» на бічній панелі."
    )
    st.stop()
hint = st.session_state.pop(SIGNIN_HINT_KEY, None)
if hint:
    st.info(hint)

st.write(
    "Вхід — лише з кваліфікованим електронним підписом (КЕП) працівника юридичної особи. "
    "Отримайте одноразовий виклик, підпишіть його файл своїм засобом КЕП (відокремлений підпис .p7s) "
    "і завантажте підпис."
)

nonce = st.session_state.get(NONCE_KEY)
if st.button("Отримати виклик", key="get_challenge") or nonce is None:
    nonce = _new_challenge()
st.download_button(
    "Завантажити виклик для підпису",
    data=challenge_content(nonce),
    file_name="aikom-challenge.txt",
    mime="text/plain",
    key="download_challenge",
)
uploaded = signature_uploader("Файл підпису (.p7s)", key="p7s")
st.text_input(
    "Базовий ключ доступу (лише для першого входу до нового облікового запису)",
    key=BASE_KEY_KEY,
    type="password",
    max_chars=200,
    help="Ключ надійшов на офіційну електронну пошту закладу чи органу, коли відкрили його обліковий запис.",
)
if st.button("Увійти з КЕП", key="signin_upload", type="primary"):
    if uploaded is None:
        st.error("Файл підпису: завантажте відокремлений підпис виклику (.p7s).")
    else:
        _complete(nonce, uploaded.getvalue())

cfg = settings()
if cfg.demo_mode:
    from aikom.demo.persons import demo_sign, load_demo_persons

    demo = load_demo_persons(cfg)
    if demo:
        st.divider()
        st.subheader("Демонстраційний режим")
        st.caption(
            "Сторінка підпише виклик демонстраційним ключем обраної особи — як це зробив би її засіб КЕП."
        )
        labels = {f"{p.full_name} — {ROLE_TITLES_UK[PersonRole(p.role)]} — {p.org_name}": p for p in demo}
        choice = st.selectbox("Демонстраційна особа", list(labels), key="demo_person")
        if st.button("Увійти як демонстраційна особа", key="signin_demo"):
            chosen = labels[choice]
            _complete(nonce, demo_sign(cfg, chosen.key, challenge_content(nonce)))

    from aikom.demo.persons import issue_demo_key, persons_awaiting_first_signin

    with unit_of_work() as session:
        awaiting = {
            f"{p.full_name} — {ROLE_TITLES_UK[p.role]} (картка № {p.id})": p.id
            for p in persons_awaiting_first_signin(session=session, settings=cfg)
        }
    if awaiting:
        st.markdown("**Нові картки, що очікують першого входу з КЕП**")
        st.caption(
            "Наприклад, новий керівник після заміни. Демо-PKI видасть особі КЕП з її РНОКПП і ЄДРПОУ "
            "закладу, і сторінка увійде з ним — перший вхід активує картку."
        )
        pending_choice = st.selectbox("Нова картка", list(awaiting), key="demo_pending")
        if st.button("Видати демо-КЕП і увійти", key="signin_pending"):
            try:
                with unit_of_work() as session:
                    issued = issue_demo_key(session=session, settings=cfg, person_id=awaiting[pending_choice])
            except Exception as error:
                show_error(error)
            else:
                _complete(nonce, demo_sign(cfg, issued.key, challenge_content(nonce)))
