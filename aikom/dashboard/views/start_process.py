"""«Почати процес»: the director-replacement form, validated with messages that name the field."""

from __future__ import annotations

from datetime import date

import streamlit as st
from pydantic import ValidationError

from aikom.core.validation import validation_message_uk
from aikom.dashboard.context import require_person, show_error, unit_of_work
from aikom.services import approvals, directors

person = require_person()
st.title("Почати процес")
st.subheader("Заміна керівника закладу освіти")
notice = st.session_state.pop("start_notice", None)
if notice:
    st.success(notice)

try:
    with unit_of_work() as session:
        actor = approvals.find_person(session=session, ref=str(person.id))
        schools = directors.managed_schools(session=session, actor=actor)
except Exception as error:
    show_error(error)
    st.stop()

if not schools:
    st.info(
        "Заміну керівника починає адміністратор ОУО, що керує закладом. У вашому управлінні немає закладів "
        "з обліковим записом АІКОМ."
    )
    st.stop()

labels = {
    f"{s.name} (ЄДРПОУ {s.edrpou or '—'}; керівник: {s.director or 'не призначено'})": s.id for s in schools
}
with st.form("director_replacement"):
    school_label = st.selectbox("Заклад освіти", list(labels), key="school")
    full_name = st.text_input("ПІБ нового керівника", key="full_name")
    rnokpp = st.text_input("РНОКПП нового керівника", max_chars=10, key="rnokpp")
    email = st.text_input("Електронна пошта нового керівника", key="email")
    order_no = st.text_input("Номер наказу про призначення", key="order_no")
    order_date = st.date_input("Дата наказу", value=date.today(), format="DD.MM.YYYY", key="order_date")
    submitted = st.form_submit_button("Почати заміну керівника", type="primary")

if submitted:
    from aikom.services.reconcile import launch_process

    try:
        form = directors.NewDirector(
            full_name=full_name, rnokpp=rnokpp, email=email, order_no=order_no, order_date=order_date
        )
        with unit_of_work() as session:
            actor = approvals.find_person(session=session, ref=str(person.id))
            process = directors.start_replacement(
                session=session, actor=actor, school_id=labels[school_label], new_director=form
            )
            process_id = process.id
    except ValidationError as error:
        st.error(validation_message_uk(error))
    except Exception as error:
        show_error(error)
    else:
        try:
            launch_process(process_id)
            message = f"Процес № {process_id} розпочато: заміна чекає на погодження."
        except Exception:
            message = (
                f"Процес № {process_id} збережено; він продовжиться автоматично, щойно сервер процесів "
                "буде доступний."
            )
        st.session_state["start_notice"] = message
        st.session_state["process_id"] = process_id
        st.rerun()
