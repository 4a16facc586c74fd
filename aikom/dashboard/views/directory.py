"""«Довідник»: find a unit of the national tree by name or code, open its card (`/directory?unit=7`) as far
as the person may see it, and — for an institute admin or the ОУО admin of the territory — place a school
that the import could not place under its hromada. Every rule and every scope lives in
`aikom.services.directory`; this page only asks and shows."""

from __future__ import annotations

import streamlit as st

from aikom.core.timefmt import format_kyiv
from aikom.dashboard.context import flash, show_error, unit_of_work
from aikom.dashboard.labels import KYIV_COLUMN, kyiv, kyiv_cell, plain
from aikom.dashboard.navigation import open_page
from aikom.dashboard.widgets import oblast_filter
from aikom.models import OrgLevel
from aikom.services import approvals, directory
from aikom.services.directory import SearchResult, UnitBrief, UnitCard, Visibility
from aikom.services.persons import PersonView

UNIT_PARAM = "unit"
LEVELS: dict[OrgLevel | None, str] = {None: "Усі рівні"} | {
    level: directory.LEVEL_UK[level] for level in OrgLevel if level != OrgLevel.NATIONAL
}


def _link(unit_id: int) -> str:
    return f"directory?{UNIT_PARAM}={unit_id}"


def _named_link(brief: UnitBrief) -> str:
    return f"[{plain(brief.name)}]({_link(brief.id)})"


# --- search -----------------------------------------------------------------------------------------


def _search(person: PersonView) -> SearchResult | None:
    """The search box and its filters; the units found (None until something is asked)."""
    query = st.text_input(
        "Назва або код",
        key="d_query",
        placeholder="Слова назви, ЄДРПОУ (8 цифр), КАТОТТГ (UA і 17 цифр) або код ЄДЕБО",
    )
    columns = st.columns(3, vertical_alignment="bottom")
    level = columns[0].selectbox("Рівень", list(LEVELS), format_func=LEVELS.__getitem__, key="d_level")
    with columns[1]:
        oblast_id = oblast_filter(person.org_unit_id, key="d_oblast")
    waiting = columns[2].checkbox("Лише ті, що потребують розміщення", key="d_waiting")
    if not query.strip() and level is None and oblast_id is None and not waiting:
        st.caption("Введіть назву чи код або оберіть фільтр.")
        return None
    try:
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=str(person.id))
            return directory.search_units(
                session=session,
                viewer=viewer,
                query=query,
                level=level,
                oblast_id=oblast_id,
                needs_placement=True if waiting else None,
            )
    except Exception as error:
        show_error(error)
        return None


def _results(result: SearchResult) -> None:
    if not result.rows:
        st.info("Нічого не знайдено. Перевірте код або спробуйте інші слова назви.")
        return
    more = " Показано перші — уточніть запит, щоб побачити решту." if result.truncated else ""
    st.caption(f"Знайдено: {len(result.rows)}.{more} Спершу — точні збіги коду.")
    st.dataframe(
        [
            {
                "№": row.id,
                "Назва": row.name,
                "Рівень": row.level_uk,
                "Стан": row.status_uk,
                "ЄДРПОУ": row.edrpou or "",
                "КАТОТТГ": row.katottg or "",
                "Код ЄДЕБО": row.edebo_id or "",
                "Підпорядкування": row.parent_name or "",
                "Область": row.oblast_name or "",
                "Розміщення": "потребує" if row.needs_placement else "",
                "Збіг": row.matched_by_uk,
                "Картка": _link(row.id),
            }
            for row in result.rows
        ],
        hide_index=True,
        width="stretch",
        column_config={"Картка": st.column_config.LinkColumn("Картка", display_text="відкрити")},
    )
    titles = {row.id: f"№ {row.id} — {row.name} ({row.level_uk})" for row in result.rows}
    columns = st.columns([4, 1], vertical_alignment="bottom")
    chosen = columns[0].selectbox("Одиниця", list(titles), format_func=titles.__getitem__, key="d_pick")
    if columns[1].button("Відкрити картку", key="d_open", type="primary"):
        st.query_params[UNIT_PARAM] = str(chosen)
        st.rerun()


# --- the card ---------------------------------------------------------------------------------------


def _card(person: PersonView, unit_id: int) -> None:
    try:
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=str(person.id))
            card = directory.unit_card(session=session, viewer=viewer, unit_id=unit_id)
    except Exception as error:
        show_error(error)
        return
    with st.container(border=True):
        _header(card)
        if card.needs_placement:
            note = f": {card.placement_note}" if card.placement_note else ""
            st.warning(plain(f"Заклад потребує розміщення під громадою{note}"))
            if card.may_move:
                _move_form(person, card)
        if card.visibility == Visibility.LIMITED:
            st.info("Одиниця поза вашою зоною відповідальності: показано лише назву, коди та стан.")
            return
        _facts(card)
        _kep(card)
        _people(card)
        _keys(card)
        _branches_and_processes(card)


def _header(card: UnitCard) -> None:
    st.subheader(plain(card.name))
    codes = [
        f"{label}: {value}"
        for label, value in (
            ("ЄДРПОУ", card.edrpou),
            ("КАТОТТГ", card.katottg),
            ("код ЄДЕБО", card.edebo_id),
            ("КОАТУУ", card.koatuu),
        )
        if value
    ]
    st.caption(plain(" · ".join([f"№ {card.id}", card.level_uk, card.status_uk, *codes])))
    if card.parents:
        st.markdown("**Підпорядкування:** " + " → ".join(_named_link(p) for p in card.parents))


def _facts(card: UnitCard) -> None:
    lines = []
    for label, value in (
        ("Тип закладу", card.school_type),
        ("Населений пункт", card.settlement),
        ("Адреса", card.address),
        ("Офіційна ел. пошта", card.official_email),
        ("Керівник за реєстром", card.director_name),
        ("Орган управління за реєстром", card.managing_body_name),
    ):
        if value:
            lines.append(f"**{label}:** {plain(value)}")
    if card.managing_body:
        lines.append(f"**Орган управління:** {_named_link(card.managing_body)}")
    account = card.account
    lines.append(
        f"**Обліковий запис:** {plain(account.state_uk)} (створено {kyiv(account.created_at)})"
        if account
        else "**Обліковий запис:** ще не створено"
    )
    if card.children:
        counts = ", ".join(f"{directory.LEVEL_UK[OrgLevel(k)]} — {n}" for k, n in card.children.items())
        lines.append(f"**Безпосередньо підпорядковані:** {plain(counts)}")
    st.markdown("  \n".join(lines))


def _kep(card: UnitCard) -> None:
    for w in card.kep_expiring:
        when = format_kyiv(w.kep_not_after)
        if w.expired:
            st.error(plain(f"КЕП особи {w.full_name} ({w.role_uk}) сплив {when}: вхід і підпис неможливі."))
        else:
            st.warning(plain(f"КЕП особи {w.full_name} ({w.role_uk}) спливає {when} (днів: {w.days_left})."))


def _people(card: UnitCard) -> None:
    st.markdown("#### Особи")
    if not card.persons:
        st.caption("Карток осіб ще немає.")
        return
    st.dataframe(
        [
            {
                "№": p.id,
                "ПІБ": p.full_name,
                "Роль": p.role_uk + (" (колишній)" if p.is_former else ""),
                "Посада": p.title or "",
                "Стан": p.state_uk,
                "Ел. пошта": p.email,
                f"КЕП дійсний до {KYIV_COLUMN}": kyiv_cell(p.kep_not_after) if p.kep_not_after else "—",
            }
            for p in card.persons
        ],
        hide_index=True,
        width="stretch",
    )


def _keys(card: UnitCard) -> None:
    st.markdown("#### Ключі")
    if not card.keys:
        st.caption("Ключів немає.")
        return
    st.dataframe(
        [
            {
                "Вид": k.kind_uk,
                "Стан": k.state_uk,
                "Ідентифікатор (початок)": k.public_id_prefix,
                f"Створено {KYIV_COLUMN}": kyiv_cell(k.created_at),
                f"Доставлено {KYIV_COLUMN}": kyiv_cell(k.delivered_at) if k.delivered_at else "—",
                f"Деактивовано {KYIV_COLUMN}": kyiv_cell(k.deactivated_at) if k.deactivated_at else "—",
            }
            for k in card.keys
        ],
        hide_index=True,
        width="stretch",
    )


def _branches_and_processes(card: UnitCard) -> None:
    if card.branches:
        st.markdown("#### Філії")
        st.markdown("  \n".join(f"{_named_link(b)} — {plain(b.status_uk)}" for b in card.branches))
    st.markdown("#### Відкриті процеси")
    if not card.open_processes:
        st.caption("Відкритих процесів немає.")
        return
    shown = len(card.open_processes)
    if card.open_processes_total > shown:
        st.caption(f"Показано {shown} з {card.open_processes_total}; решта — на сторінці «Процеси».")
    st.markdown(
        "  \n".join(
            f"[№ {p.id}](process?id={p.id}) {plain(p.title)} — {plain(p.state_uk)}, від {kyiv(p.created_at)}"
            for p in card.open_processes
        )
    )


# --- placing a school -------------------------------------------------------------------------------


def _move_form(person: PersonView, card: UnitCard) -> None:
    st.markdown("**Перемістити під громаду**")
    wanted = st.text_input("Пошук громади за назвою", key="d_move_query")
    try:
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person.id))
            targets = directory.placement_targets(session=session, actor=actor, unit_id=card.id, query=wanted)
    except Exception as error:
        show_error(error)
        return
    if not targets:
        st.info("Громад за цими словами у вашій зоні немає.")
        return
    names = {t.id: t.name + (f" ({t.katottg})" if t.katottg else "") for t in targets}
    target_id = st.selectbox("Нова громада", list(names), format_func=names.__getitem__, key="d_move_target")
    note = st.text_input(
        "Примітка (підстава, необов'язково)", max_chars=directory.NOTE_MAX, key="d_move_note"
    )
    if st.button("Перемістити", key="d_move_go", type="primary"):
        try:
            with unit_of_work() as session:
                actor = approvals.find_person(session=session, ref=str(person.id))
                result = directory.move_unit(
                    session=session, actor=actor, unit_id=card.id, new_parent_id=target_id, note=note
                )
        except Exception as error:
            show_error(error)
            return
        flash(result.message_uk)
        st.rerun()


person = open_page("directory")
st.title("Довідник")
found = _search(person)
if found is not None:
    _results(found)
wanted_unit = st.query_params.get(UNIT_PARAM)
if wanted_unit:
    if not wanted_unit.isdigit():
        st.error("Адреса картки: номер одиниці має складатися з цифр.")
    else:
        if st.button("Закрити картку", key="d_close"):
            del st.query_params[UNIT_PARAM]
            st.rerun()
        _card(person, int(wanted_unit))
