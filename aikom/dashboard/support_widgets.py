"""What the support desk's page and «Мої звернення» share: a request's thread shown as text (never as
HTML or Markdown from the requester), its files offered as downloads, and the attachment uploader."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from aikom.core.actor import Actor
from aikom.dashboard.context import flash, settings, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain, size_uk
from aikom.services import support, support_queue
from aikom.services.persons import PersonView
from aikom.services.support import NewAttachment
from aikom.services.support_queue import RequestDetail


def actor_of(person: PersonView) -> Actor:
    """The signed-in person as the acting `Actor`."""
    return Actor(person_id=person.id, label=person.full_name)


def act(person: PersonView, done_uk: str, action: Callable[[Any, Actor], object]) -> None:
    """Run `action(session, actor)` in one unit of work: a message and a rerun, else the refusal."""
    try:
        with unit_of_work() as session:
            action(session, actor_of(person))
    except Exception as error:
        show_error(error)
        return
    flash(done_uk)
    st.rerun()


def _download(person: PersonView, attachment_id: int, file_name: str, size: int, key: str) -> None:
    try:
        with unit_of_work() as session:
            file = support_queue.attachment_file(
                session=session, actor=actor_of(person), attachment_id=attachment_id
            )
    except Exception as error:
        show_error(error)
        return
    # Always a download with the canonical type of its extension: never shown in the page.
    st.download_button(
        f"Завантажити «{plain(file_name)}» ({size_uk(size)})",
        data=file.content,
        file_name=file.file_name,
        mime=file.content_type,
        key=key,
    )


def show_thread(person: PersonView, detail: RequestDetail) -> None:
    """The thread, oldest first: each message's author and time, its text as text, its files; the
    opening message says when the desk filed it «від імені» the requester."""
    for n, message in enumerate(detail.messages):
        internal = message.visibility == "internal"
        with st.container(border=True):
            kind = (
                "Внутрішня нотатка" if internal else ("Заявник" if message.direction == "in" else "Відповідь")
            )
            behalf = (
                f" · подано службою підтримки ({detail.filed_by}) від імені {message.author}"
                if n == 0 and detail.filed_by and message.direction == "in"
                else ""
            )
            st.caption(plain(f"{kind} · {message.author} · {kyiv(message.created_at)}{behalf}"))
            st.text(message.body)
            for attachment in message.attachments:
                _download(
                    person,
                    attachment.id,
                    attachment.file_name,
                    attachment.size_bytes,
                    key=f"att-{attachment.id}",
                )


def attachment_uploader(key: str) -> list[NewAttachment]:
    """Files for a message, with the configured types and size stated in Ukrainian."""
    config = settings()
    uploads = st.file_uploader(
        "Вкладення",
        type=config.support_attachment_types,
        accept_multiple_files=True,
        key=key,
        max_upload_size=max(1, math.ceil(config.support_attachment_max_bytes / 2**20)),
    )
    st.caption(f"Вкладення: {support.attachment_limits_uk(config)}.")
    return [NewAttachment(u.name, u.getvalue()) for u in uploads or []]
