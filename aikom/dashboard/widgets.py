"""Widgets several pages share: the КЕП signature upload (in Ukrainian, with the real size limit) and
«download the document → upload its signature → submit», the way every decision is signed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from aikom.dashboard.context import settings, show_error, unit_of_work
from aikom.dashboard.labels import size_uk
from aikom.services import org
from aikom.services.approvals import SignedPayload

SIGNATURE_TYPES = ["p7s", "p7m", "pem", "der", "sig"]

# Streamlit has no translations: its uploader says «Upload» and «200MB per file». The button gets a
# Ukrainian label and the English limit line is hidden; `signature_uploader` states the real limit.
UPLOADER_CSS = """
[data-testid="stFileUploaderDropzoneInstructions"] { display: none; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p { display: none; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {
  content: "Вибрати файл";
}
"""


@st.cache_data(ttl=600, show_spinner=False)
def _oblasts(unit_id: int) -> dict[int, str]:
    with unit_of_work() as session:
        return {o.id: o.name for o in org.oblasts_within(session=session, unit_id=unit_id)}


def oblast_filter(unit_id: int, *, key: str) -> int | None:
    """An «Область» choice for whoever oversees several oblasts (national staff); None: all of them."""
    oblasts = _oblasts(unit_id)
    if len(oblasts) < 2:
        return None
    choices: list[int | None] = [None, *oblasts]
    return st.selectbox(
        "Область", choices, format_func=lambda o: "Усі області" if o is None else oblasts[o], key=key
    )


def signature_uploader(label: str, *, key: str) -> UploadedFile | None:
    """A detached КЕП signature file, refused in Ukrainian when larger than the configured limit."""
    limit = settings().max_signature_bytes
    upload = st.file_uploader(
        label, type=SIGNATURE_TYPES, key=key, max_upload_size=max(1, math.ceil(limit / 2**20))
    )
    st.caption(f"Відокремлений підпис КЕП (.p7s, .p7m, .pem, .der, .sig), не більше {size_uk(limit)}.")
    if upload is not None and upload.size > limit:
        st.error(f"Файл підпису: не більше {size_uk(limit)} (завантажено {size_uk(upload.size)}).")
        return None
    return upload


@dataclass(frozen=True)
class SigningLabels:
    """What the signing steps are called on one screen."""

    document: str = "1. Завантажити документ рішення"
    signature: str = "2. Підпис документа (.p7s)"
    submit: str = "3. Ухвалити рішення"
    demo: str = "Підписати демо-ключем і ухвалити"


def signed_submit(
    *, document: bytes, file_name: str, key: str, person_id: int, labels: SigningLabels | None = None
) -> SignedPayload | None:
    """Offer `document` for download, take its detached signature, and return both once submitted.

    In demo mode the page can also sign with the person's demo key, as their signing app would.
    """
    labels = labels or SigningLabels()
    cfg = settings()
    columns = st.columns(2) if cfg.demo_mode else [st.container()]
    with columns[0]:
        st.download_button(
            labels.document, data=document, file_name=file_name, mime="application/json", key=f"{key}_doc"
        )
        upload = signature_uploader(labels.signature, key=f"{key}_p7s")
        if st.button(labels.submit, key=f"{key}_go", type="primary"):
            if upload is None:
                st.error("Підпис: завантажте відокремлений підпис документа (.p7s).")
            else:
                return SignedPayload(document=document, signature=upload.getvalue())
    if cfg.demo_mode:
        with columns[1]:
            st.caption("Демонстраційний режим: сторінка підпише документ демо-ключем особи.")
            if st.button(labels.demo, key=f"{key}_demo"):
                from aikom.demo.persons import demo_key_of, demo_sign

                try:
                    signature = demo_sign(cfg, demo_key_of(cfg, person_id), document)
                except Exception as error:
                    show_error(error)
                    return None
                return SignedPayload(document=document, signature=signature)
    return None
