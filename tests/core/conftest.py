"""Fixtures for КЕП and demo-PKI tests: a fresh demo PKI per test, persons, openssl and DSTU signers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from aikom.core import pki
from aikom.core.kep import DSTU_4145_OID, TrustList, encode_subject_directory_attributes
from aikom.core.kep.identity import GOST_34311_OID

EDRPOU = "12345678"
RNOKPP = "1234567899"


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    """A freshly initialised demo PKI."""
    directory = tmp_path / "pki"
    pki.init(directory)
    return directory


@pytest.fixture
def trust(pki_dir: Path) -> Callable[[], TrustList]:
    """Load the PKI's trust folder as it is now (call after changing CRLs)."""
    return lambda: TrustList.load(pki.trust_dir(pki_dir))


@pytest.fixture
def person(pki_dir: Path) -> Callable[..., pki.IssuedPerson]:
    """Issue a person from the PKI under test; keyword arguments override the defaults."""

    def issue(**overrides: object) -> pki.IssuedPerson:
        fields: dict[str, object] = {
            "name": "Шевченко Тарас Григорович",
            "edrpou": EDRPOU,
            "rnokpp": RNOKPP,
            "title": "Директор",
            "organization": "Ліцей № 1",
        }
        fields.update(overrides)
        return pki.issue_person(pki_dir, **fields)  # type: ignore[arg-type]

    return issue


@pytest.fixture
def openssl_sign(tmp_path: Path) -> Callable[..., bytes]:
    """Sign CONTENT-like bytes with the `openssl cms -sign` command line; extra arguments pass through."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    counter = iter(range(1_000_000))

    def sign(signer: pki.IssuedPerson, content: bytes, *extra: str, outform: str = "DER") -> bytes:
        n = next(counter)
        prefix = tmp_path / f"openssl-{n}"
        key_path, cert_path = signer.write(prefix)
        content_path = tmp_path / f"content-{n}.bin"
        content_path.write_bytes(content)
        out = tmp_path / f"signature-{n}.p7s"
        command = [
            "openssl", "cms", "-sign", "-binary",
            "-in", str(content_path), "-signer", str(cert_path), "-inkey", str(key_path),
            "-outform", outform, "-out", str(out), *extra,
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        return out.read_bytes()

    return sign


@pytest.fixture
def dstu_signature(pki_dir: Path) -> bytes:
    """A CMS signature made with a DSTU 4145 certificate issued by the demo qualified CA."""
    return _dstu_signed_data(_dstu_certificate(pki_dir))


def _dstu_certificate(pki_dir: Path) -> asn1_x509.Certificate:
    """A person's certificate with a DSTU 4145 key (random bytes), signed by the demo qualified CA."""
    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)
    now = datetime.now(UTC).replace(microsecond=0)
    public_key_info = keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": DSTU_4145_OID,
                # The curve OID (DSTU 4145 M257 pb); the verifier must not need to understand it.
                "parameters": core.ObjectIdentifier("1.2.804.2.1.1.1.1.3.1.1.2.6"),
            },
            "public_key": core.OctetString(os.urandom(33)).dump(),
        }
    )
    directory_attributes = encode_subject_directory_attributes(edrpou=EDRPOU, rnokpp=RNOKPP)
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(os.urandom(10), "big"),
            "signature": {"algorithm": "sha256_ecdsa"},
            "issuer": asn1_x509.Name.load(ca.certificate.subject.public_bytes()),
            "validity": {
                "not_before": asn1_x509.Time({"utc_time": now - timedelta(minutes=5)}),
                "not_after": asn1_x509.Time({"utc_time": now + timedelta(days=365)}),
            },
            "subject": asn1_x509.Name.build(
                {
                    "country_name": "UA",
                    "organization_name": "Гімназія № 2",
                    "title": "Директор",
                    "common_name": "Коваль Ольга Петрівна",
                }
            ),
            "subject_public_key_info": public_key_info,
            "extensions": [
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": asn1_x509.KeyUsage({"digital_signature", "non_repudiation"}),
                },
                {
                    "extn_id": "subject_directory_attributes",
                    "critical": False,
                    "extn_value": asn1_x509.SubjectDirectoryAttributes.load(directory_attributes),
                },
            ],
        }
    )
    signature = ca.key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    return asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature_value": signature,
        }
    )


def _dstu_signed_data(certificate: asn1_x509.Certificate) -> bytes:
    """A CMS SignedData as a DSTU signing app would shape it (GOST 34.311 digest, DSTU signature bytes)."""
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": certificate.issuer,
                    "serial_number": certificate.serial_number,
                }
            }
        ),
        "digest_algorithm": {"algorithm": GOST_34311_OID},
        "signed_attrs": [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [os.urandom(32)]},
        ],
        "signature_algorithm": {"algorithm": DSTU_4145_OID},
        "signature": os.urandom(64),
    }
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": GOST_34311_OID}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
