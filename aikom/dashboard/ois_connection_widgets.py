"""What «Моя ОІС» and the staff's «ОІС» share: an ОІС's card (application, agreement, reviews per round with
their notes, the conclusion's download) and the signed review form of an institute admin."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.widgets import SigningLabels, signed_submit
from aikom.models import ReviewRound
from aikom.services import approvals
from aikom.services import ois_connection as oc
from aikom.services.ois_connection_views import OisCard, ReviewRow, conclusion_file

REVIEW_DOCS_KEY = "ois_review_documents"  # (ois, round, findings) -> the document to sign, time fixed
REVIEW_LABELS = SigningLabels(
    document="1. Завантажити документ перевірки",
    signature="2. Підпис документа перевірки (.p7s)",
    submit="3. Подати перевірку",
    demo="Підписати демо-ключем і подати перевірку",
)


def application_details(card: OisCard) -> None:
    """The application as submitted (and resubmitted)."""
    contacts = ", ".join(x for x in (card.contact_name, card.contact_email, card.contact_phone) if x)
    st.text(
        f"Компанія: {card.company_name}, ЄДРПОУ {card.company_edrpou}\n"
        f"Сайт: {card.site or '—'}\n"
        f"Контакти: {contacts}\n"
        f"Стан: {card.state_label}" + (f" — {card.state_reason}" if card.state_reason else "") + "\n"
        f"Можливості: {card.capability_label}\n"
        f"Подань заявки: {card.submission_count}"
        + (f"\nІдентифікатор клієнта: {card.client_id}" if card.client_id else "")
        + (f"\nПідключено: {kyiv(card.connected_at)}" if card.connected_at else "")
    )
    agreement = "—"
    if card.agreement_file:
        agreement = f"{card.agreement_file}, підписав {card.agreement_signer or '—'}"
        if card.agreement_number:
            date = card.agreement_date.strftime("%d.%m.%Y") if card.agreement_date else "—"
            agreement += f"; № {card.agreement_number} від {date}"
        elif card.agreement_state == "submitted":
            agreement += "; на розгляді"
        elif card.agreement_state == "rejected":
            agreement += "; відхилено"
    st.text(f"Договір про приєднання: {agreement}")
    if card.self_assessment:
        rows = [
            {
                "Вимога": code,
                "Самооцінка": "виконано" if a.get("met") else "не виконано",
                "Примітка": a.get("note"),
            }
            for code, a in sorted(card.self_assessment.items())
        ]
        st.caption("Самооцінка оператора")
        st.dataframe(rows, hide_index=True, width="stretch")


def _download_conclusion(person_id: int, review: ReviewRow) -> None:
    if review.conclusion_id is None:
        return
    try:
        with unit_of_work() as session:
            file = conclusion_file(session=session, viewer_id=person_id, conclusion_id=review.conclusion_id)
    except Exception as error:
        show_error(error)
        return
    columns = st.columns(2)
    columns[0].download_button(
        f"Висновок № {file.number}",
        data=file.document,
        file_name=file.file_name,
        mime="application/json",
        key=f"conclusion{review.conclusion_id}",
    )
    columns[1].download_button(
        "Підпис висновку (.p7s)",
        data=file.signature,
        file_name=file.file_name + ".p7s",
        mime="application/pkcs7-signature",
        key=f"conclusion{review.conclusion_id}_p7s",
    )


def reviews(card: OisCard, person_id: int) -> None:
    """Every review, per round, item by item with its notes; a passed connection review's conclusion."""
    if not card.reviews:
        st.caption("Перевірок ще не було.")
        return
    for review in card.reviews:
        outcome = "пройдено" if review.outcome == "passed" else "не пройдено"
        st.markdown(
            plain(
                f"Перевірка ({review.round_label}), подання {review.submission_no}: {outcome} — "
                f"{review.reviewer}, {kyiv(review.at)}"
            )
        )
        st.dataframe(
            [
                {
                    "Вимога": item["code"],
                    "Зміст": item.get("text"),
                    "Результат": "виконано" if item["passed"] else "НЕ виконано",
                    "Примітка": item.get("note"),
                }
                for item in review.items
            ],
            hide_index=True,
            width="stretch",
        )
        if review.comment:
            st.caption(plain(f"Коментар: {review.comment}"))
        _download_conclusion(person_id, review)


def _review_document(
    person_id: int, card: OisCard, round_: ReviewRound, findings: Any, comment: str
) -> bytes:
    key = (card.id, round_.value, card.submission_count, findings, comment)
    documents: dict[Any, bytes] = st.session_state.setdefault(REVIEW_DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            documents[key] = oc.review_document(
                session=session,
                ois_id=card.id,
                actor=actor,
                items=[oc.ReviewItemInput(code=c, passed=p, note=n or None) for c, p, n in findings],
                comment=comment or None,
                round_=round_,
            )
    return documents[key]


def review_form(card: OisCard, person_id: int, round_: ReviewRound) -> None:
    """An institute admin's review: each requirement passed or not (with a note), signed with КЕП."""
    prefix = f"rv{card.id}{round_.value}"
    findings = []
    for check in oc.checklist(round_):
        columns = st.columns([3, 1, 3], vertical_alignment="center")
        columns[0].markdown(plain(f"{check.code}: {check.text}"))
        passed = columns[1].checkbox("виконано", value=True, key=f"{prefix}_{check.code}_ok")
        note = columns[2].text_input("Примітка", key=f"{prefix}_{check.code}_note", max_chars=2000).strip()
        findings.append((check.code, passed, note))
    comment = st.text_area("Коментар до перевірки", key=f"{prefix}_comment", max_chars=2000).strip()
    failed = [c for c, p, _ in findings if not p]
    if failed:
        st.info(f"Не виконано: {', '.join(failed)} — заявку буде повернуто оператору на доопрацювання.")
    elif round_ == ReviewRound.CONNECTION:
        st.info("Усі вимоги виконано: документ перевірки стане висновком ІОА про відповідність (з номером).")
    try:
        document = _review_document(person_id, card, round_, tuple(findings), comment)
    except Exception as error:
        show_error(error)
        return
    signed = signed_submit(
        document=document,
        file_name=f"aikom-ois-{card.id}-review.json",
        key=prefix,
        person_id=person_id,
        labels=REVIEW_LABELS,
    )
    if signed is None:
        return
    try:
        row = oc.submit_review_command(
            person_id=person_id, document=signed.document, signature=signed.signature
        )
    except Exception as error:
        if isinstance(error, oc.ReviewDocumentMismatch):  # stale (or its number taken): form a new one
            st.session_state.pop(REVIEW_DOCS_KEY, None)
        show_error(error)
        return
    st.session_state.pop(REVIEW_DOCS_KEY, None)
    if row.conclusion_number:
        flash(f"Перевірку пройдено: висновок № {row.conclusion_number} видано.")
    elif row.outcome == "passed":
        flash("Розширену перевірку пройдено: оператора повідомлено.")
    elif row.round == ReviewRound.EXTENDED.value:
        flash("Розширену перевірку не пройдено: оператора повідомлено, що виправити.", "warning")
    else:
        flash("Перевірку не пройдено: оператора повідомлено, що виправити.", "warning")
    st.rerun()
