"""«Перевірити КЕП» (public): will the sign-in accept this КЕП? Sign a check challenge (never usable to
sign in) or upload the certificate, and see why not — with the РНОКПП masked and nothing said about
whether anybody's card carries it. A signed-in person also sees their last sign-in certificate's end."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import streamlit as st

from aikom.core.kep.certificate import MAX_CERTIFICATE_BYTES
from aikom.dashboard.context import current_person, settings, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain, size_uk
from aikom.dashboard.widgets import signature_uploader
from aikom.models import PersonRole
from aikom.services.kep_currency import (
    KepReport,
    check_certificate,
    check_challenge_content,
    check_signed_challenge,
    issue_check_challenge,
    last_signin_kep,
)
from aikom.services.persons import ROLE_TITLES_UK
from aikom.services.trust import current_trust_list

TOKEN_KEY = "kep_check_token"
REPORT_KEY = "kep_check_report"
CERTIFICATE_TYPES = ["cer", "crt", "der", "pem"]


def _client_key() -> str:
    """Who is checking, for rate limiting: the client address, else this browser session."""
    address = st.context.ip_address
    if address:
        return f"ip:{address}"
    return "session:" + st.session_state.setdefault("client_id", uuid.uuid4().hex)


def _new_token() -> str:
    token = issue_check_challenge(settings=settings()).token
    st.session_state[TOKEN_KEY] = token
    return token


def _check(
    *, signature: bytes | None = None, certificate: bytes | None = None, viewer_id: int | None
) -> None:
    cfg = settings()
    try:
        with unit_of_work() as session:
            trust = current_trust_list(cfg)
            if signature is not None:
                report = check_signed_challenge(
                    session=session, settings=cfg, trust=trust, token=st.session_state[TOKEN_KEY],
                    signature=signature, client_key=_client_key(), viewer_id=viewer_id,
                )  # fmt: skip
            else:
                report = check_certificate(
                    session=session, settings=cfg, trust=trust, certificate=certificate or b"",
                    client_key=_client_key(), viewer_id=viewer_id,
                )  # fmt: skip
    except Exception as error:  # a message, never a traceback
        show_error(error)
        return
    if signature is not None:
        _new_token()  # a fresh challenge for the next check
    st.session_state[REPORT_KEY] = report.model_dump(mode="json")


def _show(report: KepReport) -> None:
    st.subheader("Результат перевірки")
    if report.accepted:
        st.success("КЕП буде прийнято для входу до АІКОМ.")
    else:
        st.error("КЕП не буде прийнято для входу до АІКОМ.")
        st.markdown("\n".join(f"- {plain(reason)}" for reason in report.reasons))
    for note in report.notes:
        st.info(plain(note))
    if report.own_card is True:
        st.success("РНОКПП і ЄДРПОУ цього КЕП — вашої картки.")
    elif report.own_card is False:
        st.warning("РНОКПП або ЄДРПОУ цього КЕП не збігаються з вашою карткою: увійти з ним ви не зможете.")
    if report.valid_until is None:
        return
    days = report.days_left or 0
    if report.valid_until > datetime.now(UTC):
        left = f"залишилося днів: {days}"
    else:
        left = f"сплив {-days} дн. тому" if days < 0 else "сплив сьогодні"
    rows = [
        ("Власник", report.subject_name),
        ("Посада", report.title),
        ("Організація", report.organization),
        ("ЄДРПОУ", report.edrpou),
        ("РНОКПП", report.rnokpp_masked),
        ("Надавач (АЦСК)", report.issuer),
        ("Серійний номер", report.serial),
        ("Чинний з", kyiv(report.valid_from)),
        ("Чинний до", f"{kyiv(report.valid_until)} ({left})"),
    ]
    st.markdown("\n".join(f"- **{name}:** {plain(value or '—')}" for name, value in rows))


st.title("Перевірити КЕП")
st.write(
    "Перевірте, чи прийме АІКОМ ваш кваліфікований електронний підпис (КЕП) для входу: довірений надавач, "
    "ланцюжок сертифікатів, відкликання, строк чинності та використання ключа. Для перевірки не потрібно "
    "входити до системи; підпис, зроблений тут, для входу не придатний."
)

person = current_person()
viewer_id = person.id if person is not None else None
if person is not None:
    try:
        with unit_of_work() as session:
            own = last_signin_kep(session=session, person_id=person.id)
    except Exception as error:
        show_error(error)
        own = None
    if own is not None:
        when = "уже сплив" if own.expired else f"через {own.days_left} дн."
        message = (
            f"КЕП, з яким ви востаннє входили (надавач: {own.issuer or '—'}), чинний до "
            f"{kyiv(own.not_after)}: строк спливає {when}."
        )
        (st.warning if own.days_left <= 30 else st.info)(plain(message))

sign_tab, certificate_tab = st.tabs(["Підписати виклик", "Завантажити сертифікат"])
with sign_tab:
    st.write(
        "Завантажте виклик, підпишіть його своїм засобом КЕП (відокремлений підпис .p7s) і завантажте підпис."
    )
    token = st.session_state.get(TOKEN_KEY)
    if st.button("Новий виклик", key="kc_new_challenge") or token is None:
        token = _new_token()
    st.download_button(
        "Завантажити виклик для підпису",
        data=check_challenge_content(token),
        file_name="aikom-kep-check.txt",
        mime="text/plain",
        key="kc_download",
    )
    uploaded = signature_uploader("Файл підпису (.p7s)", key="kc_p7s")
    if st.button("Перевірити підпис", key="kc_check_signature", type="primary"):
        if uploaded is None:
            st.error("Файл підпису: завантажте відокремлений підпис виклику (.p7s).")
        else:
            _check(signature=uploaded.getvalue(), viewer_id=viewer_id)

    cfg = settings()
    if cfg.demo_mode:
        from aikom.demo.persons import demo_sign, load_demo_persons

        demo = load_demo_persons(cfg)
        if demo:
            st.caption("Демонстраційний режим: сторінка підпише виклик демо-ключем обраної особи.")
            labels = {f"{p.full_name} — {ROLE_TITLES_UK[PersonRole(p.role)]} — {p.org_name}": p for p in demo}
            choice = st.selectbox("Демонстраційна особа", list(labels), key="kc_demo_person")
            if st.button("Підписати демо-ключем і перевірити", key="kc_demo"):
                try:
                    signature = demo_sign(cfg, labels[choice].key, check_challenge_content(token))
                except Exception as error:
                    show_error(error)
                else:
                    _check(signature=signature, viewer_id=viewer_id)

with certificate_tab:
    st.write("Або завантажте сам сертифікат КЕП (файл .cer, .crt, .der або .pem, без закритого ключа).")
    certificate = st.file_uploader(
        "Сертифікат КЕП",
        type=CERTIFICATE_TYPES,
        key="kc_certificate",
        max_upload_size=max(1, math.ceil(MAX_CERTIFICATE_BYTES / 2**20)),
    )
    st.caption(f"Сертифікат у форматі DER або PEM, не більше {size_uk(MAX_CERTIFICATE_BYTES)}.")
    if st.button("Перевірити сертифікат", key="kc_check_certificate", type="primary"):
        if certificate is None:
            st.error("Сертифікат: завантажте файл сертифіката КЕП.")
        elif certificate.size > MAX_CERTIFICATE_BYTES:
            limit, got = size_uk(MAX_CERTIFICATE_BYTES), size_uk(certificate.size)
            st.error(f"Сертифікат: не більше {limit} (завантажено {got}).")
        else:
            _check(certificate=certificate.getvalue(), viewer_id=viewer_id)

saved = st.session_state.get(REPORT_KEY)
if saved is not None:
    _show(KepReport.model_validate(saved))
