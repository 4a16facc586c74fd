"""Who a КЕП certificate names: ЄДРПОУ, РНОКПП, name, title, organization, issuer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from asn1crypto import core, x509

# Ukrainian attributes inside subjectDirectoryAttributes (2.5.29.9).
EDRPOU_OID = "1.2.804.2.1.1.1.11.1.4.2.1"
RNOKPP_OID = "1.2.804.2.1.1.1.11.1.4.1.1"
SUBJECT_DIRECTORY_ATTRIBUTES_OID = "2.5.29.9"
# DSTU 4145 public keys (little- and big-endian variants share this arc).
DSTU_4145_OID = "1.2.804.2.1.1.1.1.3.1.1"
DSTU_4145_ARC = "1.2.804.2.1.1.1.1.3."
# Digest GOST 34.311-95, used with DSTU 4145 signatures.
GOST_34311_OID = "1.2.804.2.1.1.1.1.2.1"

_COMMON_NAME = "2.5.4.3"
_SURNAME = "2.5.4.4"
_SERIAL_NUMBER = "2.5.4.5"
_ORGANIZATION = "2.5.4.10"
_TITLE = "2.5.4.12"
_GIVEN_NAME = "2.5.4.42"


class KeyAlgorithm(StrEnum):
    """Public key family of a signer's certificate."""

    ECDSA = "ecdsa"
    RSA = "rsa"
    DSTU_4145 = "dstu4145"
    OTHER = "other"


@dataclass(frozen=True)
class Identity:
    """What a certificate says about its holder (all values as written in the certificate)."""

    common_name: str | None
    surname: str | None
    given_name: str | None
    title: str | None
    organization: str | None
    edrpou: str | None
    rnokpp: str | None
    subject_serial: str | None
    certificate_serial: str
    issuer: str
    valid_from: datetime
    valid_until: datetime
    key_algorithm: KeyAlgorithm

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready dict (dates in ISO 8601)."""
        data = asdict(self)
        data["valid_from"] = self.valid_from.isoformat()
        data["valid_until"] = self.valid_until.isoformat()
        data["key_algorithm"] = self.key_algorithm.value
        return data


class _PrintableStrings(core.SetOf):
    _child_spec = core.PrintableString


class _DirectoryAttribute(core.Sequence):
    _fields: ClassVar = [("type", core.ObjectIdentifier), ("values", _PrintableStrings)]


class _DirectoryAttributes(core.SequenceOf):
    _child_spec = _DirectoryAttribute


class _AnyValues(core.SetOf):
    _child_spec = core.Any


def encode_subject_directory_attributes(*, edrpou: str | None, rnokpp: str | None) -> bytes:
    """DER of a subjectDirectoryAttributes extension value holding ЄДРПОУ and РНОКПП."""
    attributes = []
    if edrpou is not None:
        attributes.append({"type": EDRPOU_OID, "values": [edrpou]})
    if rnokpp is not None:
        attributes.append({"type": RNOKPP_OID, "values": [rnokpp]})
    return _DirectoryAttributes(attributes).dump()


def key_algorithm_of(cert: x509.Certificate) -> KeyAlgorithm:
    """The family of the certificate's public key, read from its OID (no key parsing)."""
    oid = cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["algorithm"].dotted
    if oid.startswith(DSTU_4145_ARC):
        return KeyAlgorithm.DSTU_4145
    if oid == "1.2.840.10045.2.1":
        return KeyAlgorithm.ECDSA
    if oid in ("1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10"):
        return KeyAlgorithm.RSA
    return KeyAlgorithm.OTHER


def read_identity(cert: x509.Certificate) -> Identity:
    """Read the holder's identity from a parsed certificate (missing values become None)."""
    subject = _name_values(cert.subject)
    directory = _directory_attributes(cert)
    issuer = _name_values(cert.issuer)
    validity = cert["tbs_certificate"]["validity"]
    return Identity(
        common_name=subject.get(_COMMON_NAME),
        surname=subject.get(_SURNAME),
        given_name=subject.get(_GIVEN_NAME),
        title=subject.get(_TITLE),
        organization=subject.get(_ORGANIZATION),
        edrpou=directory.get(EDRPOU_OID),
        rnokpp=directory.get(RNOKPP_OID),
        subject_serial=subject.get(_SERIAL_NUMBER),
        certificate_serial=format(cert.serial_number, "X"),
        issuer=issuer.get(_COMMON_NAME) or cert.issuer.human_friendly,
        valid_from=validity["not_before"].native,
        valid_until=validity["not_after"].native,
        key_algorithm=key_algorithm_of(cert),
    )


def _name_values(name: x509.Name) -> dict[str, str]:
    """First value of each attribute type of a distinguished name, keyed by dotted OID."""
    values: dict[str, str] = {}
    for rdn in name.chosen:
        for type_and_value in rdn:
            oid = type_and_value["type"].dotted
            value = type_and_value["value"].native
            if isinstance(value, str) and oid not in values:
                values[oid] = value
    return values


def _directory_attributes(cert: x509.Certificate) -> dict[str, str]:
    """String attributes of subjectDirectoryAttributes, keyed by dotted OID; empty when absent or bad."""
    found: dict[str, str] = {}
    for extension in cert["tbs_certificate"]["extensions"]:
        if extension["extn_id"].dotted != SUBJECT_DIRECTORY_ATTRIBUTES_OID:
            continue
        try:
            for attribute in extension["extn_value"].parsed:
                for value in _AnyValues.load(attribute["values"].dump()):
                    text = core.load(value.dump()).native
                    if isinstance(text, str):
                        found.setdefault(attribute["type"].dotted, text.strip())
        except (ValueError, TypeError, KeyError):
            # A damaged extension identifies nobody; the caller sees missing values.
            return {}
    return found
