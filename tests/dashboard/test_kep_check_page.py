"""«Перевірити КЕП» as an anonymous visitor and as a signed-in person (Streamlit AppTest)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from aikom.core import pki
from aikom.db import unit_of_work
from aikom.models import Person, SigninAttempt
from aikom.services.persons import read_rnokpp
from tests import factories as f
from tests.dashboard.conftest import APP, DashboardWorld

PAGE = "views/kep_check.py"


def _open(person_id: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if person_id is not None:
        at.session_state["person_id"] = person_id
    at.run()
    at.switch_page(PAGE).run()
    at._page_hash = ""
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts: list[object] = []
    for kind in ("title", "subheader", "markdown", "caption", "text", "success", "error", "info", "warning"):
        parts += [e.value for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)\*\*", "", "\n".join(str(p) for p in parts)))


def _demo_check(at: AppTest, full_name: str) -> str:
    label = next(o for o in at.selectbox(key="kc_demo_person").options if o.startswith(full_name))
    at.selectbox(key="kc_demo_person").select(label)
    at.button(key="kc_demo").click().run()
    assert not at.exception, at.exception
    return _texts(at)


def _rnokpp(person_id: int) -> str:
    with unit_of_work() as session:
        value = read_rnokpp(session.get_one(Person, person_id))
    assert value
    return value


def test_an_anonymous_visitor_signs_the_challenge_and_sees_the_report(
    dashboard_world: DashboardWorld,
) -> None:
    director = dashboard_world.persons["director"]
    with unit_of_work() as session:
        signins_before = session.scalar(
            select(func.count()).select_from(SigninAttempt).where(SigninAttempt.person_id.is_not(None))
        )
    at = _open()
    assert at.title[0].value == "Перевірити КЕП"
    text = _demo_check(at, director.full_name)

    assert "КЕП буде прийнято для входу до АІКОМ." in text
    rnokpp = _rnokpp(director.person_id)
    assert f"РНОКПП: {rnokpp[:2]}******{rnokpp[-2:]}" in text
    assert rnokpp not in text
    assert f"ЄДРПОУ: {director.edrpou}" in text
    assert "АІКОМ Демо КНЕДП" in text
    assert "вашої картки" not in text and "вашою карткою" not in text  # nothing about cards
    assert "person_id" not in at.session_state  # a check never signs anyone in
    with unit_of_work() as session:
        signins_after = session.scalar(
            select(func.count()).select_from(SigninAttempt).where(SigninAttempt.person_id.is_not(None))
        )
        assert signins_after == signins_before
    assert "Traceback" not in text


def test_an_uploaded_certificate_expired_or_garbage_is_refused_plainly(
    dashboard_world: DashboardWorld,
) -> None:
    now = datetime.now(UTC)
    rnokpp = f.rnokpp()
    old = pki.issue_person(
        dashboard_world.settings.pki_dir, name="Стара Особа", edrpou=f.edrpou(), rnokpp=rnokpp,
        title="Директор", not_before=now - timedelta(days=400), not_after=now - timedelta(days=3),
    )  # fmt: skip
    at = _open()
    at.file_uploader(key="kc_certificate").set_value(
        ("old.pem", old.certificate.public_bytes(serialization.Encoding.PEM), "application/x-pem-file")
    )
    at.button(key="kc_check_certificate").click().run()
    text = _texts(at)
    assert "КЕП не буде прийнято для входу до АІКОМ." in text
    assert "Строк чинності сертифіката закінчився." in text
    assert "сплив 3 дн. тому" in text
    assert rnokpp not in text and f"{rnokpp[:2]}******{rnokpp[-2:]}" in text

    at.file_uploader(key="kc_certificate").set_value(
        ("x.cer", b"not a certificate", "application/octet-stream")
    )
    at.button(key="kc_check_certificate").click().run()
    text = _texts(at)
    assert "Файл не є сертифікатом X.509" in text and "Traceback" not in text
    assert not at.exception


def test_an_uploaded_demo_certificate_in_der_is_accepted(dashboard_world: DashboardWorld) -> None:
    director = dashboard_world.persons["director"]
    pem = Path(director.cert_file).read_bytes()
    from cryptography import x509

    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    at = _open()
    at.file_uploader(key="kc_certificate").set_value(("kep.cer", der, "application/pkix-cert"))
    at.button(key="kc_check_certificate").click().run()
    assert "КЕП буде прийнято для входу до АІКОМ." in _texts(at)


def test_a_signed_in_person_sees_their_last_kep_and_whether_a_kep_is_their_own(
    dashboard_world: DashboardWorld,
) -> None:
    director = dashboard_world.persons["director"]
    with unit_of_work() as session:
        person = session.get_one(Person, director.person_id)
        saved = (person.kep_issuer, person.kep_serial, person.kep_not_after)
        person.kep_issuer, person.kep_serial = "АІКОМ Демо КНЕДП", "ABC"
        person.kep_not_after = datetime.now(UTC) + timedelta(days=10, hours=1)
    try:
        at = _open(director.person_id)
        text = _texts(at)
        assert "КЕП, з яким ви востаннє входили (надавач: АІКОМ Демо КНЕДП)" in text
        assert "строк спливає через 11 дн." in text

        text = _demo_check(at, director.full_name)
        assert "РНОКПП і ЄДРПОУ цього КЕП — вашої картки." in text
        deputy = dashboard_world.persons["deputy"]
        text = _demo_check(at, deputy.full_name)
        assert "КЕП буде прийнято для входу до АІКОМ." in text
        assert "не збігаються з вашою карткою" in text
    finally:
        with unit_of_work() as session:
            person = session.get_one(Person, director.person_id)
            person.kep_issuer, person.kep_serial, person.kep_not_after = saved
