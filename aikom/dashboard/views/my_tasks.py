"""«Мої завдання»: the human steps this person may decide, with the request's details; each decision is
signed with КЕП (uploaded .p7s over the downloaded decision document, or the demo key in demo mode)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from aikom.dashboard.context import require_person, settings, show_error, unit_of_work
from aikom.dashboard.labels import DECISION_LABELS_UK, format_time
from aikom.models import Decision
from aikom.services import approvals
from aikom.services.approvals import SignedPayload

DOCS_KEY = "decision_documents"


def _tasks(person_id: int) -> list[dict[str, Any]]:
    with unit_of_work() as session:
        actor = approvals.find_person(session=session, ref=str(person_id))
        return [
            {
                "id": t.id,
                "process_id": t.process_id,
                "title": t.title,
                "due_at": t.due_at,
                "details": {k: v for k, v in t.details.items() if k != "decisions"},
                "decisions": list(
                    t.details.get("decisions") or [d.value for d in approvals.DEFAULT_DECISIONS]
                ),
            }
            for t in approvals.list_tasks_for(session=session, actor=actor)
        ]


def _document(person_id: int, task_id: int, decision: Decision, comment: str) -> bytes:
    """The decision document to sign; kept per (task, decision, comment) so its time stays fixed."""
    key = (task_id, decision.value, comment.strip())
    documents: dict[tuple[int, str, str], bytes] = st.session_state.setdefault(DOCS_KEY, {})
    if key not in documents:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            task = approvals.get_task(session=session, task_id=task_id)
            documents[key] = approvals.decision_document(
                task=task, actor=actor, decision=decision, comment=comment
            )
    return documents[key]


def _decide(person_id: int, task_id: int, decision: Decision, comment: str, signed: SignedPayload) -> None:
    from aikom.services.reconcile import WakeResult, wake_for_task

    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            approvals.decide(
                session=session,
                task_id=task_id,
                actor=actor,
                decision=decision,
                comment=comment,
                signed=signed,
            )
    except Exception as error:
        show_error(error)
        return
    st.session_state.get(DOCS_KEY, {}).clear()
    woke = wake_for_task(task_id)
    note = (
        " Процес продовжиться автоматично, щойно сервер процесів буде доступний."
        if (woke == WakeResult.UNAVAILABLE)
        else ""
    )
    st.session_state["tasks_notice"] = f"Рішення щодо завдання № {task_id} ухвалено й підписано.{note}"
    st.rerun()


person = require_person()
st.title("Мої завдання")
notice = st.session_state.pop("tasks_notice", None)
if notice:
    st.success(notice)

try:
    tasks = _tasks(person.id)
except Exception as error:
    show_error(error)
    st.stop()

if st.button("Оновити", key="refresh_tasks"):
    st.rerun()
if not tasks:
    st.info("Завдань, що очікують вашого рішення, немає.")

for task in tasks:
    with st.container(border=True):
        st.subheader(f"№ {task['id']}. {task['title']}")
        st.caption(f"Процес № {task['process_id']} · строк: {format_time(task['due_at'])}")
        for name, value in task["details"].items():
            st.write(f"**{name}:** {value}")
        options = [Decision(d) for d in task["decisions"]]
        decision = st.radio(
            "Рішення",
            options,
            format_func=lambda d: DECISION_LABELS_UK[d],
            key=f"d{task['id']}",
            horizontal=True,
        )
        comment = st.text_area("Коментар", key=f"c{task['id']}", max_chars=2000)
        document = _document(person.id, task["id"], decision, comment)
        cols = st.columns(2)
        with cols[0]:
            st.download_button(
                "1. Завантажити документ рішення",
                data=document,
                file_name=f"aikom-decision-{task['id']}.json",
                mime="application/json",
                key=f"doc{task['id']}",
            )
            upload = st.file_uploader(
                "2. Підпис документа (.p7s)", type=["p7s", "p7m", "pem", "der", "sig"], key=f"p7s{task['id']}"
            )
            if st.button("3. Ухвалити рішення", key=f"go{task['id']}", type="primary"):
                if upload is None:
                    st.error("Підпис: завантажте відокремлений підпис документа рішення (.p7s).")
                else:
                    _decide(
                        person.id,
                        task["id"],
                        decision,
                        comment,
                        SignedPayload(document=document, signature=upload.getvalue()),
                    )
        cfg = settings()
        if cfg.demo_mode:
            with cols[1]:
                st.caption("Демонстраційний режим: сторінка підпише документ демо-ключем особи.")
                if st.button("Підписати демо-ключем і ухвалити", key=f"demo{task['id']}"):
                    from aikom.services.demo import demo_key_of, demo_sign

                    try:
                        signature = demo_sign(cfg, demo_key_of(cfg, person.id), document)
                    except Exception as error:
                        show_error(error)
                    else:
                        _decide(
                            person.id,
                            task["id"],
                            decision,
                            comment,
                            SignedPayload(document=document, signature=signature),
                        )
