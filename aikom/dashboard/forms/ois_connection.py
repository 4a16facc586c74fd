"""The ОІС connection application form (on «Моя ОІС» and «Почати процес»): the system, its site and
contacts, the accession agreement with its КЕП signature by the company, a self-assessment against the
connection checklist. In demo mode the page can draw up a demo agreement and sign it with the demo key."""

from __future__ import annotations

import base64
from typing import Any

import streamlit as st

from aikom.dashboard.context import settings, show_error
from aikom.dashboard.labels import plain
from aikom.dashboard.widgets import signature_uploader
from aikom.services import ois_connection as oc
from aikom.services.persons import PersonView


def demo_agreement(company: str, system: str) -> bytes:
    """A demo accession agreement's text (demo mode)."""
    return (
        f"ДОГОВІР ПРО ПРИЄДНАННЯ до АІКОМ (демонстраційний)\nОператор: {company}\nОІС: {system}\n"
        "Оператор приєднується до умов використання АІКОМ і зобов'язується дотримуватися Технічних вимог."
    ).encode()


def agreement_inputs(key: str, *, required: bool) -> tuple[str | None, bytes | None, bytes | None, bool]:
    """The agreement file and its signature (and whether to use a demo agreement signed with the demo key)."""
    upload = st.file_uploader(
        "Договір про приєднання (PDF)" + ("" if required else " — новий, якщо змінився"),
        type=["pdf", "p7s", "asice", "docx", "txt"],
        key=f"{key}_file",
        max_upload_size=max(1, oc.MAX_AGREEMENT_BYTES // 2**20),
    )
    signature = signature_uploader("КЕП-підпис договору вашою компанією (.p7s)", key=f"{key}_sig")
    demo = False
    if settings().demo_mode and required:
        demo = st.checkbox(
            "Демонстраційний режим: сформувати договір і підписати його демо-КЕП", key=f"{key}_demo"
        )
    return (
        upload.name if upload else None,
        upload.getvalue() if upload else None,
        signature.getvalue() if signature else None,
        demo,
    )


def self_assessment(key: str, current: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The operator's answer to each connection requirement (met or not, with a note)."""
    st.markdown("**Самооцінка за Технічними вимогами**")
    answers = []
    for check in oc.checklist():
        before = (current or {}).get(check.code, {})
        columns = st.columns([3, 1, 3], vertical_alignment="center")
        columns[0].markdown(plain(f"{check.code}: {check.text}"))
        met = columns[1].checkbox("виконано", value=bool(before.get("met", True)), key=f"{key}_{check.code}")
        note = columns[2].text_input(
            "Примітка", value=before.get("note") or "", key=f"{key}_{check.code}_note", max_chars=2000
        )
        answers.append({"code": check.code, "met": met, "note": note.strip() or None})
    return answers


def application_form(person: PersonView) -> dict[str, Any] | None:
    """The application's fields; the raw parameters once «Подати заявку» is pressed."""
    system = st.text_input("Назва ОІС", key="ap_system", max_chars=300).strip()
    site = st.text_input("Сайт ОІС", key="ap_site", max_chars=500).strip()
    contact = st.text_input("Контактна особа", key="ap_contact", max_chars=300).strip()
    email = st.text_input("Ел. пошта для листів про підключення", key="ap_email", max_chars=320).strip()
    phone = st.text_input("Телефон", key="ap_phone", max_chars=50).strip()
    name, content, signature, demo = agreement_inputs("ap", required=True)
    answers = self_assessment("ap_sa")
    if not st.button("Подати заявку", key="ap_submit", type="primary"):
        return None
    if not demo and content is None:
        st.error("Договір про приєднання: додайте файл договору, підписаного КЕП вашої компанії.")
        return None
    if demo:
        from aikom.demo.persons import demo_key_of, demo_sign

        try:
            content = demo_agreement(person.org_name, system)
            signature = demo_sign(settings(), demo_key_of(settings(), person.id), content)
            name = "договір-про-приєднання.txt"
        except Exception as error:
            show_error(error)
            return None
    return {
        "system_name": system,
        "site": site,
        "contact_name": contact,
        "contact_email": email,
        "contact_phone": phone or None,
        "agreement_file_name": name or "",
        "agreement_base64": base64.b64encode(content or b"").decode(),
        "agreement_signature_base64": base64.b64encode(signature or b"").decode(),
        "self_assessment": answers,
    }


def render(person: PersonView) -> dict[str, Any] | None:
    """«Почати процес»: the same application form."""
    return application_form(person)
