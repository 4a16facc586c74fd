"""Messages on screen stay when the page reruns on its own (a new task arrived); the person's next action
clears them, as before."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from aikom.dashboard.context import flash, rerun_by_itself, show_flashes

    # The queue's watcher runs apart from the page (a fragment, every few seconds): when a task arrived,
    # it reruns the page — before the page shows its messages again.
    if st.session_state.pop("task_arrived", False):
        rerun_by_itself("Надійшло нове завдання.")
    show_flashes()
    if st.button("Увійти"):
        flash("Вхід виконано. Вашу картку активовано.")
        st.rerun()
    st.button("Інша дія")


def _messages(at: AppTest) -> list[str]:
    return [str(e.value).replace("\\", "") for e in [*at.success, *at.info]]  # shown escaped


def _task_arrives(at: AppTest) -> None:
    at.session_state["task_arrived"] = True
    at.run()


def test_a_rerun_the_page_makes_by_itself_keeps_the_messages_on_screen() -> None:
    at = AppTest.from_function(_page).run()
    at.button[0].click().run()
    assert _messages(at) == ["Вхід виконано. Вашу картку активовано."]
    _task_arrives(at)
    assert _messages(at) == ["Вхід виконано. Вашу картку активовано.", "Надійшло нове завдання."]
    _task_arrives(at)  # once more: nothing doubled
    assert _messages(at) == ["Вхід виконано. Вашу картку активовано.", "Надійшло нове завдання."]
    at.button[1].click().run()  # the person's own action: the messages have been read
    assert _messages(at) == []
