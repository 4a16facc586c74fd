"""«Доступ ОІС»: a school director's ОІС access (DESIGN §3 item 7; the order, items 5 and 8).

The school's API key (the start of its public id and its state — never a secret), the new key shown ONCE
after a revocation or a regeneration, the school's grants with their states and a revocation request for
each active one, the grant form (a connected ОІС, data sets, the school's contract with the operator) and
the list of connected ОІС. For the director only: a deputy neither grants nor revokes (the FAQ: «наразі
весь функціонал доступний директору ЗО»), so the page is not theirs at all.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from pydantic import ValidationError

from aikom import commands
from aikom.core.ois_catalogue import get_catalogue
from aikom.core.validation import validation_message_uk
from aikom.dashboard.context import OIS_ACCESS_KEY_SHOWN, flash, show_error, unit_of_work
from aikom.dashboard.labels import kyiv, plain
from aikom.dashboard.navigation import open_page
from aikom.models import GrantState, KeyState, Person
from aikom.services import ois_access
from aikom.services.accounts import api_key_waiting, reveal_api_key

SHOWN_KEY = OIS_ACCESS_KEY_SHOWN  # the new key revealed, until «Я зберіг(ла)» or sign-out
KEY_STATE_UK = {
    KeyState.ACTIVE: "чинний",
    KeyState.SUSPENDED: "призупинений",
    KeyState.DEACTIVATED: "деактивований",
}


def _start(process_type: str, params: dict[str, object], done_uk: str) -> None:
    try:
        outcome = commands.start_process(
            process_type=process_type, params=params, actor=commands.actor_of(person.id)
        )
    except ValidationError as error:
        st.error(validation_message_uk(error))
        return
    except Exception as error:
        show_error(error)
        return
    flash(f"{done_uk} {outcome.message_uk}")
    st.rerun()


def _new_key() -> None:
    shown = st.session_state.get(SHOWN_KEY)
    if shown is not None:
        st.warning(
            "Новий ключ API закладу. Збережіть його зараз: його показано лише один раз і більше не покажуть. "
            "Передайте його лише тим ОІС, яким заклад надав доступ."
        )
        st.code(shown, language=None)
        if st.button("Я зберіг(ла) ключ", key="ois_key_saved"):
            st.session_state.pop(SHOWN_KEY, None)
            st.rerun()
        return
    with unit_of_work() as session:
        waiting = api_key_waiting(session=session, person_id=person.id)
    if not waiting:
        return
    st.info(
        "Закладу згенеровано новий ключ API (після відкликання доступу чи перегенерації): його покажуть "
        "один раз."
    )
    if st.button("Показати новий ключ API", type="primary", key="ois_reveal_key"):
        with unit_of_work() as session:
            revealed = reveal_api_key(session=session, person_id=person.id)
        if revealed is None:
            st.info("Ключ уже показано або строк його показу минув.")
            return
        st.session_state[SHOWN_KEY] = revealed.token
        st.rerun()


def _grant_card(grant: ois_access.GrantView, titles: dict[str, str]) -> None:
    with st.container(border=True):
        st.markdown(
            f"**{plain(grant.ois_name)}** — доступ №{grant.id}, {ois_access.GRANT_STATE_UK[grant.state]}"
        )
        capability = ois_access.CAPABILITY_UK[grant.capability] if grant.capability else "—"
        contract_date = grant.contract_date.strftime("%d.%m.%Y") if grant.contract_date else "—"
        lines = [
            "Набори даних: " + "; ".join(titles.get(code, code) for code in grant.data_sets),
            f"Договір з оператором: № {grant.contract_number or '—'} від {contract_date}",
            f"Можливості ОІС на час надання: {capability}",
            f"Ключ API: {grant.key_public_prefix}",
            f"Надано: {kyiv(grant.created_at)}",
        ]
        if grant.state == GrantState.REVOKED:
            lines.append(f"Відкликано: {kyiv(grant.revoked_at)} — {grant.revoke_reason or ''}")
        st.text("\n".join(lines))
        if grant.state != GrantState.ACTIVE:
            return
        if grant.revocation_process_id is not None:
            st.info(
                f"Відкликання замовлено (процес №{grant.revocation_process_id}): чекає погодження технічним "
                "адміністратором ІОА."
            )
            return
        with st.expander("Замовити відкликання доступу"):
            st.caption(
                "Після погодження ІОА доступ відкликають, ключ API закладу деактивують і генерують новий — "
                "його покажуть вам тут один раз; інші доступи закладу перейдуть на новий ключ."
            )
            reason = st.text_input("Причина відкликання", key=f"revoke_reason{grant.id}", max_chars=400)
            if st.button("Замовити відкликання", key=f"revoke{grant.id}"):
                _start(
                    "ois-revocation",
                    {"grant": grant.id, "reason": reason},
                    f"Відкликання доступу «{grant.ois_name}» замовлено.",
                )


person = open_page("ois-access")
st.title("Доступ ОІС")
st.caption(plain(person.org_name))

try:
    with unit_of_work() as session:
        school = ois_access.school_of_director(session, session.get_one(Person, person.id))
        key = ois_access.school_key_state(session=session, account_id=school.account.id)
        grants = ois_access.grants_of_school(session=session, school_id=school.unit.id)
        connected = ois_access.connected_ois(session=session)
    _new_key()
except Exception as error:
    show_error(error)
    st.stop()

catalogue = get_catalogue()
titles = {d.code: d.title for d in catalogue.data_sets}

st.subheader("Ключ API закладу")
if key.key_id is None or key.state is None:
    st.warning("Заклад ще не має ключа API.")
else:
    st.text(
        f"Ключ API №{key.key_id}: {key.public_prefix} — {KEY_STATE_UK[key.state]}; "
        f"згенеровано {kyiv(key.created_at)}"
    )
    if key.state != KeyState.ACTIVE:
        st.warning("Чинного ключа API немає: доступ ОІС надати не можна. Замовте перегенерацію ключа API.")

st.subheader("Доступи закладу")
if not grants:
    st.info("Заклад ще не надав доступу жодній ОІС.")
else:
    active = sum(1 for g in grants if g.state == GrantState.ACTIVE)
    st.markdown(f"Усього: **{len(grants)}**, чинних: **{active}**.")
for grant in grants:
    _grant_card(grant, titles)

st.subheader("Надати доступ ОІС")
granted = {g.ois_id for g in grants if g.state == GrantState.ACTIVE}
choices = {o.id: o for o in connected if o.id not in granted}
if not choices:
    st.info("Немає підключених ОІС, яким заклад ще не надав доступу.")
else:
    with st.form("ois_grant"):
        chosen = st.selectbox(
            "ОІС (з переліку підключених)",
            options=list(choices),
            format_func=lambda i: f"{choices[i].system_name} — {choices[i].company_name}",
            key="ois_grant_ois",
        )
        data_sets = st.multiselect(
            "Набори даних",
            options=[d.code for d in catalogue.data_sets],
            format_func=lambda code: titles[code],
            key="ois_grant_data_sets",
        )
        number = st.text_input("Номер договору закладу з оператором ОІС", key="ois_grant_contract_number")
        when = st.date_input(
            "Дата договору",
            value=None,
            max_value=date.today(),
            format="DD.MM.YYYY",
            key="ois_grant_contract_date",
        )
        st.caption(
            "Зарахування, вибуття та переведення учнів ОІС не надають: це роблять лише в державному "
            "інтерфейсі АІКОМ. Ключ API ОІС передаєте ви самі — за договором з оператором."
        )
        if st.form_submit_button("Надати доступ", key="ois_grant_submit", type="primary"):
            _start(
                "ois-access",
                {
                    "ois": chosen,
                    "data_sets": data_sets,
                    "contract_number": number,
                    "contract_date": when if isinstance(when, date) else None,
                },
                "Доступ ОІС надано.",
            )

st.subheader("Підключені ОІС")
if not connected:
    st.info("Жодну ОІС ще не підключено до центральної бази даних АІКОМ.")
else:
    st.table(
        [
            {
                "ОІС": o.system_name,
                "Оператор": o.company_name,
                "Сайт": o.site or "—",
                "Можливості": ois_access.CAPABILITY_UK[o.capability],
                "Договір про приєднання": o.agreement_number or "—",
            }
            for o in connected
        ]
    )
