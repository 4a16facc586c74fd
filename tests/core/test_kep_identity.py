"""Reading who a certificate names: ЄДРПОУ and РНОКПП from subjectDirectoryAttributes, name, title."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from aikom.core import pki
from aikom.core.kep import (
    EDRPOU_OID,
    RNOKPP_OID,
    KeyAlgorithm,
    encode_subject_directory_attributes,
    read_identity,
)


def as_asn1(person: pki.IssuedPerson) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(person.certificate.public_bytes(serialization.Encoding.DER))


def test_identity_of_a_demo_person(pki_dir: Path) -> None:
    person = pki.issue_person(
        pki_dir,
        name="Шевченко Тарас Григорович",
        edrpou="12345678",
        rnokpp="1234567899",
        title="Директор",
        organization="Ліцей № 1",
    )

    identity = read_identity(as_asn1(person))

    assert identity.edrpou == "12345678"
    assert identity.rnokpp == "1234567899"
    assert identity.common_name == "Шевченко Тарас Григорович"
    assert (identity.surname, identity.given_name) == ("Шевченко", "Тарас Григорович")
    assert identity.title == "Директор"
    assert identity.organization == "Ліцей № 1"
    assert identity.subject_serial == "TINUA-1234567899"
    assert identity.issuer == "АІКОМ Демо КНЕДП"
    assert identity.certificate_serial == format(person.certificate.serial_number, "X")
    assert identity.key_algorithm is KeyAlgorithm.ECDSA
    assert identity.to_dict()["edrpou"] == "12345678"


def test_identity_of_an_rsa_person(pki_dir: Path) -> None:
    person = pki.issue_person(
        pki_dir,
        name="Франко Іван",
        edrpou="12345678",
        rnokpp="1234567899",
        title="Заступник",
        key_type=pki.KeyType.RSA_2048,
    )

    identity = read_identity(as_asn1(person))

    assert identity.key_algorithm is KeyAlgorithm.RSA
    assert identity.rnokpp == "1234567899"


def test_certificate_without_directory_attributes_has_no_codes(pki_dir: Path) -> None:
    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)

    identity = read_identity(
        asn1_x509.Certificate.load(ca.certificate.public_bytes(serialization.Encoding.DER))
    )

    assert identity.edrpou is None and identity.rnokpp is None
    assert identity.common_name == "АІКОМ Демо КНЕДП"


def test_subject_directory_attributes_encoding_reads_back() -> None:
    der = encode_subject_directory_attributes(edrpou="87654321", rnokpp="0123456789")

    parsed = asn1_x509.SubjectDirectoryAttributes.load(der)

    assert [attribute["type"].dotted for attribute in parsed] == [EDRPOU_OID, RNOKPP_OID]
    values = [core.load(attribute["values"].contents).native for attribute in parsed]
    assert values == ["87654321", "0123456789"]


def test_utf8_string_values_are_read(pki_dir: Path) -> None:
    class Utf8Strings(core.SetOf):
        _child_spec = core.UTF8String

    class Attribute(core.Sequence):
        _fields = [("type", core.ObjectIdentifier), ("values", Utf8Strings)]  # noqa: RUF012

    class Attributes(core.SequenceOf):
        _child_spec = Attribute

    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)
    person = pki.issue_person(
        pki_dir, name="Леся Українка", edrpou="12345678", rnokpp="1234567899", title="Х"
    )
    utf8 = Attributes(
        [{"type": EDRPOU_OID, "values": ["12345678"]}, {"type": RNOKPP_OID, "values": ["1234567899"]}]
    ).dump()
    builder = (
        x509.CertificateBuilder()
        .subject_name(person.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(person.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(person.certificate.not_valid_before_utc)
        .not_valid_after(person.certificate.not_valid_after_utc)
        .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), utf8), critical=False)
    )
    certificate = builder.sign(ca.key, hashes.SHA256())

    identity = read_identity(asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)))

    assert (identity.edrpou, identity.rnokpp) == ("12345678", "1234567899")
    assert core.load(utf8)[0][1].dump()[2] == 0x0C  # the values really are UTF8String


def test_damaged_directory_attributes_give_no_codes(pki_dir: Path) -> None:
    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)
    person = pki.issue_person(
        pki_dir, name="Леся Українка", edrpou="12345678", rnokpp="1234567899", title="Х"
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(person.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(person.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(person.certificate.not_valid_before_utc)
        .not_valid_after(person.certificate.not_valid_after_utc)
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), b"\x30\x03\x02\x01\x05"),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )

    identity = read_identity(asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)))

    assert identity.edrpou is None and identity.rnokpp is None
    assert identity.common_name == "Леся Українка"
