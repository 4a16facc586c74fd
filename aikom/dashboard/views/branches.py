"""«Філії»: branches of the register whose hub school could not be chosen automatically, in the person's
scope, each with its ranked candidate hubs; an ОУО admin (or an institute admin) confirms one."""

from __future__ import annotations

import streamlit as st

from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import plain
from aikom.dashboard.navigation import open_page
from aikom.services import approvals, branch_linking

PAGE_SIZE = 25


def _confirm(person_id: int, branch_id: int, hub_id: int) -> None:
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person_id))
            link = branch_linking.confirm_branch_link(
                session=session, actor=actor, branch_id=branch_id, hub_id=hub_id
            )
            chosen = next((c["name"] for c in link.candidates if c.get("hub_id") == hub_id), str(hub_id))
    except Exception as error:
        show_error(error)
        return
    flash(f"Філію прив’язано до опорного закладу «{chosen}».")
    st.rerun()


person = open_page("branches")
st.title("Філії")
st.caption(
    "Філії з ЄДЕБО, для яких опорний заклад не вдалося визначити автоматично. Кандидати — заклади тієї "
    "самої області, найподібніші першими; підтвердьте правильний."
)
offset = int(st.session_state.get("branches_offset", 0))
try:
    with unit_of_work() as session:
        viewer = approvals.find_person(session=session, ref=str(person.id))
        page = branch_linking.branch_queue(session=session, actor=viewer, offset=offset, limit=PAGE_SIZE)
except Exception as error:
    show_error(error)
    st.stop()

st.markdown(f"У черзі: **{page.total}**; без жодного кандидата: **{page.no_candidate}**.")
if not page.rows:
    st.info("Немає філій, що чекають вибору опорного закладу у вашій зоні відповідальності.")
for row in page.rows:
    with st.container(border=True):
        st.markdown(f"**{plain(row.name)}**")
        details = [
            f"Населений пункт: {row.settlement}" if row.settlement else "",
            f"Орган управління (ЄДЕБО): {row.managing_body_name}" if row.managing_body_name else "",
            f"Зараз розміщено: {row.placed_under}" if row.placed_under else "",
        ]
        st.text("\n".join(d for d in details if d))
        for rank, candidate in enumerate(row.candidates, start=1):
            columns = st.columns([5, 1], vertical_alignment="center")
            columns[0].text(f"{rank}. {candidate.name}\n   {candidate.score:.0f} балів: {candidate.why}")
            if columns[1].button("Підтвердити", key=f"link-{row.branch_id}-{candidate.hub_id}"):
                _confirm(person.id, row.branch_id, candidate.hub_id)
if page.total > PAGE_SIZE:
    previous, following = st.columns(2)
    if offset > 0 and previous.button("← Попередні", key="branches_prev"):
        st.session_state["branches_offset"] = max(0, offset - PAGE_SIZE)
        st.rerun()
    if offset + PAGE_SIZE < page.total and following.button("Наступні →", key="branches_next"):
        st.session_state["branches_offset"] = offset + PAGE_SIZE
        st.rerun()
