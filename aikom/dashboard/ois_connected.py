"""The «Підключені системи» section of the staff's «ОІС» page: every ОІС connected once, each with its
state, capability in force and phases (planned ones shown as such), its agreement, and the schools' grants
(count by state, the schools). An institute admin decides here, each decision signed with КЕП: widen to
«отримання і передавання» from a date (after a passed extended review) or cancel that before its day,
suspend, reinstate, disconnect (final; grants revoked). A manager reads only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import streamlit as st

from aikom import commands
from aikom.core.ois_decisions import OisAction
from aikom.core.timefmt import format_date
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import KYIV_COLUMN, kyiv, kyiv_cell, plain
from aikom.dashboard.widgets import SigningLabels, signed_submit
from aikom.models import OisCapability, OisState, ReviewOutcome
from aikom.services import ois_admin
from aikom.services.approvals import SignedPayload
from aikom.services.ois_admin import ACTION_UK, CAPABILITY_UK, PHASE_STATUS_UK, STATE_UK, StaffOis

DOCS_KEY = "ois_decision_documents"
SHOWN_KEY = "ois_shown_states"
ACTIONS_OF_STATE: dict[OisState, list[OisAction]] = {
    OisState.CONNECTED: [OisAction.WIDEN, OisAction.CANCEL_WIDENING, OisAction.SUSPEND, OisAction.DISCONNECT],
    OisState.SUSPENDED: [OisAction.REINSTATE, OisAction.CANCEL_WIDENING, OisAction.DISCONNECT],
}
BUTTON_UK = {
    OisAction.WIDEN: "Ухвалити розширення",
    OisAction.SUSPEND: "Зупинити ОІС",
    OisAction.REINSTATE: "Відновити ОІС",
    OisAction.DISCONNECT: "Відключити ОІС",
    OisAction.CANCEL_WIDENING: "Скасувати розширення",
}
VIEWS = {
    "active": ("Підключені й зупинені", [OisState.CONNECTED, OisState.SUSPENDED]),
    "disconnected": ("Відключені", [OisState.DISCONNECTED]),
}


def _document(person_id: int, ois_id: int, action: OisAction, reason: str, day: date | None) -> bytes:
    """The decision document for these inputs, made once (its time stays what the person downloaded)."""
    documents: dict[tuple[object, ...], bytes] = st.session_state.setdefault(DOCS_KEY, {})
    key = (ois_id, action.value, reason, day)
    if key not in documents:
        documents[key] = ois_admin.decision_document(
            action=action, ois_id=ois_id, actor_id=person_id, reason=reason, effective_on=day
        )
    return documents[key]


def _apply(
    person_id: int, row: StaffOis, action: OisAction, reason: str, day: date | None, signed: SignedPayload
) -> None:
    try:
        actor = commands.actor_of(person_id)
        with unit_of_work() as session:
            if action == OisAction.WIDEN:
                assert day is not None
                phase = ois_admin.widen_capability(
                    session=session,
                    actor=actor,
                    ois_id=row.id,
                    effective_on=day,
                    comment=reason,
                    signed=signed,
                )
                done = f"передавання даних дозволено з {kyiv(phase.effective_from)}"
            elif action == OisAction.CANCEL_WIDENING:
                cancelled = ois_admin.cancel_widening(
                    session=session, actor=actor, ois_id=row.id, reason=reason, signed=signed
                )
                done = (
                    f"заплановане з {format_date(cancelled)} розширення скасовано; "
                    "ОІС і далі лише отримує дані"
                )
            elif action == OisAction.DISCONNECT:
                result = ois_admin.disconnect(
                    session=session, actor=actor, ois_id=row.id, reason=reason, signed=signed
                )
                done = f"відключено; відкликано доступів закладів: {len(result.revoked_grant_ids)}"
            elif action == OisAction.SUSPEND:
                ois_admin.suspend(session=session, actor=actor, ois_id=row.id, reason=reason, signed=signed)
                done = "зупинено; доступи закладів не діють, доки ОІС зупинена"
            else:
                ois_admin.reinstate(session=session, actor=actor, ois_id=row.id, reason=reason, signed=signed)
                done = "відновлено; доступи закладів знову діють"
    except Exception as error:
        show_error(error)
        return
    st.session_state.pop(DOCS_KEY, None)
    for widget in (f"ois_action{row.id}", f"ois_reason{row.id}", f"ois_day{row.id}"):
        st.session_state.pop(widget, None)
    flash(f"ОІС «{row.name}»: {done}. Оператора повідомлено листом.")
    st.rerun()


def _may_widen(row: StaffOis) -> bool:
    transmit = any(p.capability == OisCapability.RECEIVE_TRANSMIT for p in row.phases)
    return row.extended_review == ReviewOutcome.PASSED and not transmit


def _planned_widening_day(row: StaffOis) -> date | None:
    """The day (Kyiv) of the ОІС's widening still to come, if one is planned."""
    planned = [
        p for p in row.phases if p.capability == OisCapability.RECEIVE_TRANSMIT and p.status == "planned"
    ]
    return ois_admin.day_of(planned[0].effective_from) if planned else None


def _offered(row: StaffOis, action: OisAction) -> bool:
    if action == OisAction.WIDEN:
        return _may_widen(row)
    if action == OisAction.CANCEL_WIDENING:
        return _planned_widening_day(row) is not None
    return True


def _decisions(person_id: int, row: StaffOis) -> None:
    offered = [a for a in ACTIONS_OF_STATE.get(row.state, []) if _offered(row, a)]
    if not offered:
        return
    st.markdown("**Рішення щодо ОІС**")
    if row.state == OisState.CONNECTED and OisAction.WIDEN not in offered:
        st.caption(
            "Розширення до передавання даних: після пройденої розширеної перевірки"
            + (
                " (уже ухвалено)."
                if any(p.capability == OisCapability.RECEIVE_TRANSMIT for p in row.phases)
                else "."
            )
        )
    choice = st.selectbox(
        "Рішення",
        [None, *[a.value for a in offered]],
        format_func=lambda a: "— оберіть —" if a is None else ACTION_UK[OisAction(a)].capitalize(),
        key=f"ois_action{row.id}",
    )
    if choice is None:
        return
    action = OisAction(choice)
    day: date | None = None
    if action == OisAction.WIDEN:
        today = ois_admin.day_of(datetime.now(UTC))
        day = st.date_input(
            "Діє з (дата початку фази, за київським часом)", value=today, min_value=today,
            key=f"ois_day{row.id}", format="DD.MM.YYYY",
        )  # fmt: skip
        reason = st.text_input("Коментар (необов'язково)", key=f"ois_reason{row.id}", max_chars=1000).strip()
    else:
        if action == OisAction.CANCEL_WIDENING:
            day = _planned_widening_day(row)
            st.info(
                f"Заплановану з {format_date(day)} фазу «{CAPABILITY_UK[OisCapability.RECEIVE_TRANSMIT]}» "
                "буде скасовано: ОІС і далі лише отримуватиме дані; нове розширення можна буде "
                "ухвалити знову."
            )
        reason = st.text_area("Причина (підстава рішення)", key=f"ois_reason{row.id}", max_chars=1000).strip()
        if not reason:
            st.info("Вкажіть причину — вона потрапить у підписаний документ рішення і в лист оператору.")
            return
    if action == OisAction.DISCONNECT:
        st.warning(
            f"Відключення остаточне: чинні доступи закладів ({row.grants.get('active', 0)}) буде відкликано, "
            "для нового підключення оператор подаватиме нову заявку."
        )
    if action == OisAction.SUSPEND:
        st.warning(
            "Доки ОІС зупинена, жоден запит за доступами закладів не виконується; доступи зберігаються."
        )
    document = _document(person_id, row.id, action, reason, day if isinstance(day, date) else None)
    signed = signed_submit(
        document=document,
        file_name=f"ois-{row.id}-{action.value}.json",
        key=f"ois_sign{row.id}",
        person_id=person_id,
        labels=SigningLabels(
            submit=f"3. {BUTTON_UK[action]}", demo=f"Підписати демо-ключем: {BUTTON_UK[action]}"
        ),
    )
    if signed is not None:
        _apply(person_id, row, action, reason, day if isinstance(day, date) else None, signed)


def _system(person_id: int, row: StaffOis, may_decide: bool) -> None:
    label = f"{row.name} — {row.company} · {STATE_UK[row.state]} · {CAPABILITY_UK[row.capability]}"
    with st.expander(plain(label), expanded=False):
        st.text(
            f"Компанія: {row.company}, ЄДРПОУ {row.edrpou}\n"
            f"Сайт: {row.site or '—'}\n"
            f"Контакт: {row.contact_name or '—'}, {row.contact_email}, {row.contact_phone or '—'}\n"
            f"Ідентифікатор для шлюзу: {row.client_id or '—'}\n"
            f"Договір про приєднання: {row.agreement_number or '—'} від {format_date(row.agreement_date)}\n"
            f"Підключена: {kyiv(row.connected_at)}\n"
            f"Стан: {STATE_UK[row.state]} (з {kyiv(row.state_changed_at)})"
            + (
                f"; причина: {row.state_reason}"
                if row.state_reason and row.state != OisState.CONNECTED
                else ""
            )
            + "\n"
            f"Можливості зараз: {CAPABILITY_UK[row.capability]}\n"
            "Розширена перевірка: "
            + {None: "не проводилась", ReviewOutcome.PASSED: "пройдена", ReviewOutcome.FAILED: "не пройдена"}[
                row.extended_review
            ]
        )
        st.markdown("**Фази можливостей**")
        if row.phases:
            st.dataframe(
                [
                    {
                        "Можливості": CAPABILITY_UK[p.capability],
                        f"Діє з {KYIV_COLUMN}": kyiv_cell(p.effective_from),
                        "Стан фази": PHASE_STATUS_UK[p.status],
                        "Рішення ухвалив": p.decided_by or "",
                        "Коментар": p.note or "",
                    }
                    for p in row.phases
                ],
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("Фаз ще немає.")
        active, revoked = row.grants.get("active", 0), row.grants.get("revoked", 0)
        st.markdown(f"**Доступи закладів освіти:** чинних {active}, відкликаних {revoked}")
        if row.schools:
            st.dataframe(
                [
                    {
                        "Заклад": s.school,
                        "ЄДРПОУ": s.edrpou or "",
                        "Доступ": "чинний" if s.state == "active" else "відкликаний",
                        f"Надано {KYIV_COLUMN}": kyiv_cell(s.granted_at),
                        f"Відкликано {KYIV_COLUMN}": kyiv_cell(s.revoked_at) if s.revoked_at else "",
                        "Причина відкликання": s.revoke_reason or "",
                    }
                    for s in row.schools
                ],
                hide_index=True,
                width="stretch",
            )
        if may_decide:
            _decisions(person_id, row)


def connected_systems(person_id: int) -> None:
    """The section «Підключені системи»: every ОІС connected once, with the decisions an admin may take."""
    st.subheader("Підключені системи")
    shown = st.segmented_control(
        "Показати", list(VIEWS), format_func=lambda v: VIEWS[v][0], default="active", key=SHOWN_KEY
    )
    states = VIEWS[shown or "active"][1]
    try:
        actor = commands.actor_of(person_id)
        with unit_of_work() as session:
            may_decide = ois_admin.staff_may_decide(session=session, actor=actor)
            rows = ois_admin.staff_list(session=session, actor=actor, states=states)
    except Exception as error:
        show_error(error)
        return
    if not may_decide:
        st.info("Перегляд: рішення щодо ОІС ухвалює технічний адміністратор ІОА.")
    counts = {state: sum(1 for r in rows if r.state == state) for state in states}
    st.caption(", ".join(f"{STATE_UK[s]}: {n}" for s, n in counts.items()))
    if not rows:
        st.info("Таких ОІС немає.")
    for row in rows:
        _system(person_id, row, may_decide)
