"""The demo PKI: CAs, CRLs, persons' certificates, revocation, signing; and `aikom pki …`."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner

from aikom.cli.main import app
from aikom.core import pki
from aikom.core.errors import ValidationFailed
from aikom.core.kep import read_identity

runner = CliRunner()


def load_crl(pki_dir: Path, ca: pki.CaName) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((pki.trust_dir(pki_dir) / f"{ca}.crl").read_bytes())


def test_init_writes_trust_folder_with_two_cas_and_fresh_empty_crls(tmp_path: Path) -> None:
    trust = pki.init(tmp_path / "pki")

    assert sorted(path.name for path in trust.iterdir()) == [
        "qualified.cert.pem",
        "qualified.crl",
        "root.cert.pem",
        "root.crl",
    ]
    root = pki.load_ca(tmp_path / "pki", pki.CaName.ROOT).certificate
    qualified = pki.load_ca(tmp_path / "pki", pki.CaName.QUALIFIED).certificate
    qualified.verify_directly_issued_by(root)
    for name in pki.CaName:
        crl = load_crl(tmp_path / "pki", name)
        assert len(crl) == 0
        assert crl.next_update_utc is not None
        assert timedelta(days=6) < crl.next_update_utc - datetime.now(UTC) <= timedelta(days=7)
    key_mode = stat.S_IMODE((tmp_path / "pki" / "root" / "key.pem").stat().st_mode)
    assert key_mode == 0o600


def test_init_refuses_to_overwrite(pki_dir: Path) -> None:
    with pytest.raises(pki.PkiAlreadyInitialised):
        pki.init(pki_dir)


def test_person_certificate_profile(pki_dir: Path) -> None:
    person = pki.issue_person(
        pki_dir, name="Шевченко Тарас", edrpou="12345678", rnokpp="1234567899", title="Директор"
    )

    cert = person.certificate
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert isinstance(person.key, ec.EllipticCurvePrivateKey)
    assert isinstance(person.key.curve, ec.SECP256R1)
    directory_attributes = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.9"))
    assert isinstance(directory_attributes.value, x509.UnrecognizedExtension)
    assert b"12345678" in directory_attributes.value.value
    cert.verify_directly_issued_by(pki.load_ca(pki_dir, pki.CaName.QUALIFIED).certificate)


def test_long_cyrillic_name_fits_by_characters(pki_dir: Path) -> None:
    name = "Коваленко-Вишневецька Олександра Володимирівна"  # 46 characters, 88 bytes of UTF-8

    person = pki.issue_person(pki_dir, name=name, edrpou="12345678", rnokpp="1234567899", title="Директор")

    # Read with asn1crypto: cryptography warns when it parses a commonName over 64 bytes.
    der = person.certificate.public_bytes(serialization.Encoding.DER)
    assert read_identity(asn1_x509.Certificate.load(der)).common_name == name


def test_rsa_person_and_custom_validity(pki_dir: Path) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    person = pki.issue_person(
        pki_dir,
        name="Франко Іван",
        edrpou="12345678",
        rnokpp="1234567899",
        title="Заступник",
        key_type=pki.KeyType.RSA_2048,
        not_before=start,
        not_after=start + timedelta(days=10),
    )

    assert isinstance(person.key, rsa.RSAPrivateKey) and person.key.key_size == 2048
    assert person.certificate.not_valid_after_utc == start + timedelta(days=10)


@pytest.mark.parametrize(
    ("field", "edrpou", "rnokpp", "name"),
    [
        ("edrpou", "12345679", "1234567899", "Тест"),
        ("rnokpp", "12345678", "1234567890", "Тест"),
        ("name", "12345678", "1234567899", "Я" * 65),
        ("name", "12345678", "1234567899", "  "),
    ],
)
def test_issue_rejects_bad_identifiers(
    pki_dir: Path, field: str, edrpou: str, rnokpp: str, name: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        pki.issue_person(pki_dir, name=name, edrpou=edrpou, rnokpp=rnokpp, title="Х")

    assert raised.value.field == field


def test_revoke_lists_the_serial_once(pki_dir: Path) -> None:
    person = pki.issue_person(pki_dir, name="Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    serial = person.certificate.serial_number

    pki.revoke(pki_dir, serial)
    pki.revoke(pki_dir, serial)

    crl = load_crl(pki_dir, pki.CaName.QUALIFIED)
    assert [entry.serial_number for entry in crl] == [serial]
    assert pki.issuing_ca(pki_dir, person.certificate) is pki.CaName.QUALIFIED


def test_refresh_crls_keeps_revocations_and_moves_next_update(pki_dir: Path) -> None:
    person = pki.issue_person(pki_dir, name="Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    pki.revoke(pki_dir, person.certificate.serial_number)
    before = load_crl(pki_dir, pki.CaName.QUALIFIED)

    past = datetime.now(UTC) - timedelta(days=10)
    pki.refresh_crls(pki_dir, now=past, crl_validity=timedelta(days=1))

    after = load_crl(pki_dir, pki.CaName.QUALIFIED)
    assert after.next_update_utc is not None and after.next_update_utc < datetime.now(UTC)
    assert [entry.serial_number for entry in after] == [person.certificate.serial_number]
    number = x509.CRLNumber
    assert (
        after.extensions.get_extension_for_class(number).value.crl_number
        > before.extensions.get_extension_for_class(number).value.crl_number
    )


def test_sign_detached_embeds_content_only_when_asked(pki_dir: Path) -> None:
    person = pki.issue_person(pki_dir, name="Тест", edrpou="12345678", rnokpp="1234567899", title="Х")

    detached = cms.ContentInfo.load(pki.sign_detached(person.key, person.certificate, b"hello"))
    attached = cms.ContentInfo.load(
        pki.sign_detached(person.key, person.certificate, b"hello", detached=False)
    )

    assert detached["content"]["encap_content_info"]["content"].native is None
    assert attached["content"]["encap_content_info"]["content"].native == b"hello"


def test_operations_on_a_missing_pki_are_refused(tmp_path: Path) -> None:
    with pytest.raises(pki.PkiNotInitialised):
        pki.issue_person(tmp_path, name="Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    with pytest.raises(pki.PkiNotInitialised):
        pki.refresh_crls(tmp_path)


# --- aikom pki … ---------------------------------------------------------------------------------


def run_json(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_cli_init_issue_revoke_crl(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    code, report = run_json("pki", "init", str(folder))
    assert code == 0 and report["trust_dir"] == str(folder / "trust")

    code, report = run_json(
        "pki", "issue", "--dir", str(folder), "--name", "Шевченко Тарас", "--edrpou", "12345678",
        "--rnokpp", "1234567899", "--title", "Директор", "--org", "Ліцей № 1", "--rsa", "--days", "30",
        "--out", str(tmp_path / "taras"),
    )  # fmt: skip
    assert code == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "taras.cert.pem").read_bytes())
    assert (tmp_path / "taras.key.pem").exists()
    assert report["serial"] == format(cert.serial_number, "X")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30)

    code, report = run_json("pki", "revoke", "--dir", str(folder), "--cert", str(tmp_path / "taras.cert.pem"))
    assert code == 0 and report["ca"] == "qualified"
    assert [entry.serial_number for entry in load_crl(folder, pki.CaName.QUALIFIED)] == [cert.serial_number]

    code, report = run_json("pki", "crl", "--dir", str(folder), "--days", "3")
    assert code == 0 and len(report["crls"]) == 2  # type: ignore[arg-type]
    next_update = load_crl(folder, pki.CaName.ROOT).next_update_utc
    assert next_update is not None and next_update - datetime.now(UTC) < timedelta(days=3)


def test_cli_refusals_are_ukrainian_json_without_traceback(pki_dir: Path, tmp_path: Path) -> None:
    code, report = run_json("pki", "init", str(pki_dir))
    assert code == 1 and report["error"] == "pki_exists"

    code, report = run_json(
        "pki", "issue", "--dir", str(pki_dir), "--name", "Тест", "--edrpou", "11111111",
        "--rnokpp", "1234567899", "--title", "Х", "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert code == 1 and report["error"] == "validation_failed"
    assert "ЄДРПОУ" in str(report["message"])

    (tmp_path / "not-a-cert.pem").write_text("hello")
    code, report = run_json(
        "pki", "revoke", "--dir", str(pki_dir), "--cert", str(tmp_path / "not-a-cert.pem")
    )
    assert code == 1 and report["error"] == "bad_certificate"

    other = tmp_path / "other"
    pki.init(other)
    stranger = pki.issue_person(other, name="Чужий", edrpou="12345678", rnokpp="1234567899", title="Х")
    stranger.write(tmp_path / "stranger")
    code, report = run_json(
        "pki", "revoke", "--dir", str(pki_dir), "--cert", str(tmp_path / "stranger.cert.pem")
    )
    assert code == 1 and report["error"] == "not_issued_by_pki"
