"""КЕП currency: the sign-in keeps the certificate, the check page's report, expiring КЕП by scope, and
the 30/7-day reminders to the person and their ОУО."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core import pki
from aikom.core.errors import NotInScope, RoleNotAllowed, ValidationFailed
from aikom.core.kep import TrustList
from aikom.mail.templates import render
from aikom.models import EmailMessage, OrgUnit, Person, PersonRole, PersonState, SigninAttempt
from aikom.services import kep_currency
from aikom.services.kep_currency import (
    CHECK_CLIENT_PREFIX,
    CHECKS_PER_WINDOW,
    check_certificate,
    check_signed_challenge,
    expiring_persons,
    issue_check_challenge,
    send_expiry_reminders,
)
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import Settings
from tests import factories as f
from tests.signing import SigningPki, sign

R = PersonRole


@pytest.fixture
def settings() -> Settings:
    return Settings()


@dataclass
class World:
    """national → oblast → rayon → hromada → school (the school managed by the hromada), with staff."""

    units: dict[str, OrgUnit]
    institute_admin: Person
    oblast_admin: Person
    rayon_admins: list[Person]
    hromada_admins: list[Person]
    director: Person
    deputy: Person


def _world(session: Session) -> World:
    units = f.cascade(session, with_edrpou=True)
    accounts = {level: f.account(session, unit) for level, unit in units.items()}

    def person(level: str, role: PersonRole, **kwargs: object) -> Person:
        return f.person(session, accounts[level], role=role, rnokpp=f.rnokpp(), **kwargs)  # type: ignore[arg-type]

    world = World(
        units=units,
        institute_admin=person("national", R.INSTITUTE_ADMIN),
        oblast_admin=person("oblast", R.OBLAST_ADMIN),
        rayon_admins=[person("rayon", R.RAYON_ADMIN)],
        hromada_admins=[person("hromada", R.HROMADA_ADMIN), person("hromada", R.HROMADA_ADMIN)],
        director=person("school", R.DIRECTOR, name="Коваль Олена Петрівна"),
        deputy=person("school", R.DEPUTY),
    )
    person("hromada", R.HROMADA_ADMIN, state=PersonState.INACTIVE)  # a former admin: never told
    return world


def _issue(signing_pki: SigningPki, session: Session, person: Person) -> pki.IssuedPerson:
    return signing_pki.certificate_for(session, person)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --- the sign-in keeps the certificate ------------------------------------------------------------------


def test_a_sign_in_keeps_the_certificates_issuer_serial_and_end(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList
) -> None:
    w = _world(session)
    holder = _issue(signing_pki, session, w.director)
    challenge = issue_challenge(session=session, settings=settings)
    result = sign_in(
        session=session, settings=settings, trust=trust, nonce=challenge.nonce,
        signature=sign(holder, challenge.content), client_key="test-kep",
    )  # fmt: skip
    assert result.ok, result.message_uk
    session.refresh(w.director)
    assert w.director.kep_issuer == "АІКОМ Демо КНЕДП"
    assert w.director.kep_serial == format(holder.certificate.serial_number, "X")
    assert w.director.kep_not_after == holder.certificate.not_valid_after_utc


# --- the check -------------------------------------------------------------------------------------------


def test_a_signed_check_challenge_of_a_good_kep_is_accepted_with_the_rnokpp_masked(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList
) -> None:
    w = _world(session)
    holder = _issue(signing_pki, session, w.director)
    challenge = issue_check_challenge(settings=settings)
    report = check_signed_challenge(
        session=session, settings=settings, trust=trust, token=challenge.token,
        signature=sign(holder, challenge.content), client_key="anon-1",
    )  # fmt: skip
    assert report.accepted and report.reasons == []
    assert report.subject_name == "Коваль Олена Петрівна"
    assert report.issuer == "АІКОМ Демо КНЕДП"
    assert report.edrpou == w.units["school"].edrpou
    rnokpp = holder_rnokpp(holder)
    assert report.rnokpp_masked == rnokpp[:2] + "******" + rnokpp[-2:]
    assert rnokpp not in report.model_dump_json()
    assert report.own_card is None  # an anonymous visitor learns nothing about cards
    assert report.days_left is not None and 360 <= report.days_left <= 366


def holder_rnokpp(holder: pki.IssuedPerson) -> str:
    serial = holder.certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
    return str(serial).removeprefix("TINUA-")


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_an_uploaded_good_certificate_is_accepted(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList, encoding: str
) -> None:
    w = _world(session)
    cert = _issue(signing_pki, session, w.director).certificate
    data = _pem(cert) if encoding == "pem" else _der(cert)
    report = check_certificate(
        session=session, settings=settings, trust=trust, certificate=data, client_key="a"
    )
    assert report.accepted, report.reasons
    assert report.serial == format(cert.serial_number, "X")


def test_an_expired_certificate_is_refused_and_says_so(
    session: Session, settings: Settings, pki_dir: Path, trust: TrustList
) -> None:
    now = datetime.now(UTC)
    old = pki.issue_person(
        pki_dir, name="Стара Особа", edrpou=f.edrpou(), rnokpp=f.rnokpp(), title="Директор",
        not_before=now - timedelta(days=400), not_after=now - timedelta(days=10),
    )  # fmt: skip
    report = check_certificate(
        session=session, settings=settings, trust=trust, certificate=_pem(old.certificate), client_key="a"
    )
    assert not report.accepted
    assert "expired" in report.reason_codes
    assert "Строк чинності сертифіката закінчився." in report.reasons
    assert report.days_left is not None and report.days_left <= -10


def _without_digital_signature(pki_dir: Path) -> x509.Certificate:
    """A certificate of the trusted CA whose key usage allows non-repudiation only."""
    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=True, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Без цифрового підпису")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )


def test_a_certificate_without_digital_signature_is_refused_for_its_key_usage(
    session: Session, settings: Settings, pki_dir: Path, trust: TrustList
) -> None:
    cert = _without_digital_signature(pki_dir)
    report = check_certificate(
        session=session, settings=settings, trust=trust, certificate=_der(cert), client_key="a"
    )
    assert not report.accepted
    assert "key_usage" in report.reason_codes
    assert any("digitalSignature" in reason for reason in report.reasons)
    assert "no_identity" in report.reason_codes  # neither РНОКПП nor ЄДРПОУ in it either


def test_a_certificate_of_an_untrusted_ca_is_refused(
    session: Session, settings: Settings, tmp_path: Path, trust: TrustList
) -> None:
    stranger = SigningPki.create(tmp_path / "other-pki")
    cert = stranger.issue(name="Чужа Особа", edrpou=f.edrpou(), rnokpp=f.rnokpp()).certificate
    report = check_certificate(
        session=session, settings=settings, trust=trust, certificate=_pem(cert), client_key="a"
    )
    assert not report.accepted and report.reason_codes[0] == "unknown_ca"
    assert "надавачем, якого немає в списку довірених" in report.reasons[0]


def test_a_file_that_is_no_certificate_is_refused_plainly(
    session: Session, settings: Settings, trust: TrustList
) -> None:
    for data in (b"hello", b"\x30\x03\x02\x01\x01", b"A" * 70_000):
        report = check_certificate(
            session=session, settings=settings, trust=trust, certificate=data, client_key="b"
        )
        assert not report.accepted and report.reasons
        assert report.subject_name is None


def test_check_and_sign_in_challenges_are_not_interchangeable(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList
) -> None:
    w = _world(session)
    holder = _issue(signing_pki, session, w.director)
    check = issue_check_challenge(settings=settings)
    # A check signature (or its token) never signs anyone in.
    as_signin = sign_in(
        session=session, settings=settings, trust=trust, nonce=check.token,
        signature=sign(holder, check.content), client_key="x",
    )  # fmt: skip
    assert not as_signin.ok and as_signin.reason == "challenge_unknown"
    signin_challenge = issue_challenge(session=session, settings=settings)
    with_check_text = sign_in(
        session=session, settings=settings, trust=trust, nonce=signin_challenge.nonce,
        signature=sign(holder, check.content), client_key="x",
    )  # fmt: skip
    assert not with_check_text.ok and with_check_text.person_id is None
    session.refresh(w.director)
    assert w.director.kep_not_after is None
    # And a sign-in challenge is refused by the check.
    other = issue_challenge(session=session, settings=settings)
    report = check_signed_challenge(
        session=session, settings=settings, trust=trust, token=other.nonce,
        signature=sign(holder, other.content), client_key="x",
    )  # fmt: skip
    assert not report.accepted and report.reason_codes == ["challenge_unknown"]
    expired = issue_check_challenge(settings=settings, now=datetime.now(UTC) - timedelta(hours=1))
    report = check_signed_challenge(
        session=session, settings=settings, trust=trust, token=expired.token,
        signature=sign(holder, expired.content), client_key="x",
    )  # fmt: skip
    assert report.reason_codes == ["challenge_expired"]


def test_a_signed_in_viewer_learns_only_whether_it_is_their_own_card(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList
) -> None:
    w = _world(session)
    cert = _pem(_issue(signing_pki, session, w.director).certificate)

    def as_viewer(viewer: Person) -> bool | None:
        return check_certificate(
            session=session,
            settings=settings,
            trust=trust,
            certificate=cert,
            client_key="v",
            viewer_id=viewer.id,
        ).own_card

    assert as_viewer(w.director) is True
    assert as_viewer(w.deputy) is False


def test_checks_are_rate_limited_per_client(
    session: Session, settings: Settings, signing_pki: SigningPki, trust: TrustList
) -> None:
    w = _world(session)
    cert = _pem(_issue(signing_pki, session, w.director).certificate)
    now = datetime.now(UTC)
    for _ in range(CHECKS_PER_WINDOW):
        session.add(
            SigninAttempt(client_key=CHECK_CLIENT_PREFIX + "busy", ok=True, reason="kep-check", at=now)
        )
    session.flush()
    busy = check_certificate(
        session=session, settings=settings, trust=trust, certificate=cert, client_key="busy"
    )
    assert busy.reason_codes == ["rate_limited"] and busy.subject_name is None
    calm = check_certificate(
        session=session, settings=settings, trust=trust, certificate=cert, client_key="calm"
    )
    assert calm.accepted
    # The checks never count against anyone's sign-in.
    signins = session.scalars(select(SigninAttempt).where(SigninAttempt.client_key == "calm")).all()
    assert signins == []


# --- the directory ---------------------------------------------------------------------------------------


def _expires(person: Person, days: float, now: datetime) -> None:
    person.kep_not_after = now + timedelta(days=days)
    person.kep_issuer, person.kep_serial = "АІКОМ Демо КНЕДП", f"S{person.id}"


def test_expiring_persons_by_scope_with_counts_per_unit_and_oblast(session: Session) -> None:
    now = datetime.now(UTC)
    w = _world(session)
    _expires(w.director, 10, now)
    _expires(w.deputy, -3, now)  # already expired
    _expires(w.hromada_admins[0], 25, now)
    _expires(w.rayon_admins[0], 40, now)  # beyond 30 days
    _expires(w.oblast_admin, 5, now)
    session.flush()

    national = expiring_persons(session=session, viewer=w.institute_admin, within_days=30, now=now)
    assert [p.person_id for p in national.persons] == [
        w.deputy.id,
        w.oblast_admin.id,
        w.director.id,
        w.hromada_admins[0].id,
    ]
    assert (national.total, national.expired) == (4, 1)
    deputy_row = national.persons[0]
    assert deputy_row.expired and deputy_row.days_left == -3 and deputy_row.oblast_id == w.units["oblast"].id
    assert {c.id: (c.expiring, c.expired) for c in national.per_unit} == {
        w.units["school"].id: (1, 1),
        w.units["hromada"].id: (1, 0),
        w.units["oblast"].id: (1, 0),
    }
    assert [(c.id, c.expiring, c.expired) for c in national.per_oblast] == [(w.units["oblast"].id, 3, 1)]

    hromada = expiring_persons(session=session, viewer=w.hromada_admins[1], within_days=30, now=now)
    assert {p.person_id for p in hromada.persons} == {w.deputy.id, w.director.id, w.hromada_admins[0].id}
    school = expiring_persons(session=session, viewer=w.director, within_days=30, now=now)
    assert {p.person_id for p in school.persons} == {w.deputy.id, w.director.id}
    wider = expiring_persons(session=session, viewer=w.hromada_admins[1], within_days=60, now=now)
    assert w.rayon_admins[0].id not in {p.person_id for p in wider.persons}  # above the hromada
    only_school = expiring_persons(
        session=session, viewer=w.oblast_admin, within_days=30, now=now, org_unit_id=w.units["school"].id
    )
    assert only_school.scope_unit_id == w.units["school"].id and only_school.total == 2


def test_expiring_persons_refuses_other_roles_units_and_periods(session: Session) -> None:
    w = _world(session)
    with pytest.raises(RoleNotAllowed):
        expiring_persons(session=session, viewer=w.deputy, within_days=30)
    with pytest.raises(NotInScope):
        expiring_persons(
            session=session, viewer=w.director, within_days=30, org_unit_id=w.units["hromada"].id
        )
    with pytest.raises(ValidationFailed) as error:
        expiring_persons(session=session, viewer=w.oblast_admin, within_days=-1)
    assert error.value.field == "within"


# --- reminders -------------------------------------------------------------------------------------------


def _mail_to(session: Session, person: Person) -> list[EmailMessage]:
    return list(
        session.scalars(
            select(EmailMessage)
            .where(EmailMessage.to_address == person.email, EmailMessage.template == "kep_expiring")
            .order_by(EmailMessage.id)
        )
    )


def test_reminders_go_once_at_30_and_once_at_7_days_to_the_person_and_their_ouo(session: Session) -> None:
    now = datetime.now(UTC)
    w = _world(session)
    _expires(w.director, 25, now)
    session.flush()
    admins = w.hromada_admins

    assert w.director.id in send_expiry_reminders(session=session, now=now)
    (to_director,) = _mail_to(session, w.director)
    assert to_director.variables["about_self"] is True and to_director.variables["threshold_days"] == 30
    assert to_director.variables["days_left"] == 25
    letter = render(to_director.template, to_director.variables)
    assert letter.subject == "АІКОМ: строк чинності вашого КЕП спливає через 25 дн."
    assert "Шановна(ий) Коваль Олена Петрівна!" in letter.text and "/kep-check" in letter.text
    for admin in admins:
        (notice,) = _mail_to(session, admin)
        assert notice.variables["about_self"] is False
        assert notice.variables["person_name"] == "Коваль Олена Петрівна"
        subject = render(notice.template, notice.variables).subject
        assert subject.startswith("АІКОМ: КЕП особи Коваль Олена Петрівна («school ")
    assert _mail_to(session, w.rayon_admins[0]) == []  # the school's ОУО is the hromada

    assert w.director.id not in send_expiry_reminders(session=session, now=now + timedelta(hours=1))
    assert len(_mail_to(session, w.director)) == 1

    six_days_left = now + timedelta(days=19)
    assert w.director.id in send_expiry_reminders(session=session, now=six_days_left)
    assert w.director.id not in send_expiry_reminders(session=session, now=six_days_left + timedelta(hours=2))
    mails = _mail_to(session, w.director)
    assert [m.variables["threshold_days"] for m in mails] == [30, 7]
    assert mails[1].variables["days_left"] == 6
    assert all(len(_mail_to(session, admin)) == 2 for admin in admins)

    # A new certificate (a new end date) starts afresh.
    _expires(w.director, 28, six_days_left)
    session.flush()
    assert w.director.id in send_expiry_reminders(session=session, now=six_days_left)
    assert [m.variables["threshold_days"] for m in _mail_to(session, w.director)] == [30, 7, 30]


def test_an_ouo_admins_reminder_goes_to_the_ouo_above_and_expired_kep_gets_none(session: Session) -> None:
    now = datetime.now(UTC)
    w = _world(session)
    _expires(w.hromada_admins[0], 6, now)  # first seen inside 7 days: the 7-day reminder only
    _expires(w.deputy, -1, now)
    session.flush()
    reminded = send_expiry_reminders(session=session, now=now)
    assert w.hromada_admins[0].id in reminded and w.deputy.id not in reminded
    (own,) = _mail_to(session, w.hromada_admins[0])
    assert own.variables["threshold_days"] == 7
    (above,) = _mail_to(session, w.rayon_admins[0])
    assert above.variables["person_name"] == w.hromada_admins[0].full_name
    assert _mail_to(session, w.hromada_admins[1]) == []  # a colleague, not the ОУО above
    assert _mail_to(session, w.deputy) == []
    assert kep_currency.managing_body(session, w.units["oblast"]) == w.units["national"]


def test_the_reconciler_pass_sends_the_reminders(database_url: str) -> None:
    from aikom.db import unit_of_work
    from aikom.services.reconcile import reconcile

    now = datetime.now(UTC)
    with unit_of_work(database_url) as s:
        w = _world(s)
        _expires(w.director, 20, now)
        director_id, email = w.director.id, w.director.email
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_api = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
        first = reconcile(db_url=database_url, api_url=dead_api, now=now)
        second = reconcile(db_url=database_url, api_url=dead_api, now=now)
        assert director_id in first.kep_reminders and director_id not in second.kep_reminders
        with unit_of_work(database_url) as s:
            sent = s.scalars(select(EmailMessage).where(EmailMessage.to_address == email)).all()
            assert [m.template for m in sent] == ["kep_expiring"]
    finally:
        with unit_of_work(database_url) as s:  # leave no expiring КЕП behind for other tests' passes
            s.get_one(Person, director_id).state = PersonState.INACTIVE
