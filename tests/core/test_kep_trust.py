"""Loading the trust list: CA certificates and CRLs in PEM, DER or a .p7b bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aikom.core import pki
from aikom.core.kep import Purpose, ReasonCode, TrustList, TrustListUnavailable, verify_detached

CONTENT = b"challenge"


def test_demo_trust_folder_has_root_anchor_intermediate_and_two_crls(pki_dir: Path) -> None:
    trust = TrustList.load(pki.trust_dir(pki_dir))

    assert [cert.subject.native["common_name"] for cert in trust.anchors] == ["АІКОМ Демо ЦЗО"]
    assert [cert.subject.native["common_name"] for cert in trust.intermediates] == ["АІКОМ Демо КНЕДП"]
    assert len(trust.crls) == 2


def test_der_files_and_a_p7b_bundle_are_read(pki_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    certificates = []
    for name in pki.CaName:
        cert = x509.load_pem_x509_certificate((pki.trust_dir(pki_dir) / f"{name}.cert.pem").read_bytes())
        certificates.append(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
        shutil.copy(pki.trust_dir(pki_dir) / f"{name}.crl", folder / f"{name}.crl")
    bundle = cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data"},
                "certificates": certificates,
                "signer_infos": [],
            },
        }
    )
    (folder / "CACertificates.p7b").write_bytes(bundle.dump())
    person = pki.issue_person(pki_dir, name="Тест Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    signature = pki.sign_detached(person.key, person.certificate, CONTENT)

    trust = TrustList.load(folder)

    assert (len(trust.anchors), len(trust.intermediates), len(trust.crls)) == (1, 1, 2)
    assert verify_detached(signature, CONTENT, trust=trust, purpose=Purpose.SIGN_IN).ok


def test_qualified_ca_without_its_root_is_not_trusted(pki_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    shutil.copy(pki.trust_dir(pki_dir) / "qualified.cert.pem", folder)
    shutil.copy(pki.trust_dir(pki_dir) / "qualified.crl", folder)
    person = pki.issue_person(pki_dir, name="Тест Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    signature = pki.sign_detached(person.key, person.certificate, CONTENT)

    trust = TrustList.load(folder)

    assert not trust.anchors
    result = verify_detached(signature, CONTENT, trust=trust, purpose=Purpose.SIGN_IN)
    assert result.reason is ReasonCode.UNKNOWN_CA


def test_person_certificates_in_the_folder_are_not_trusted(pki_dir: Path) -> None:
    person = pki.issue_person(pki_dir, name="Тест Тест", edrpou="12345678", rnokpp="1234567899", title="Х")
    person.write(pki.trust_dir(pki_dir) / "stray")

    trust = TrustList.load(pki.trust_dir(pki_dir))

    assert len(trust.anchors) + len(trust.intermediates) == 2


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TrustListUnavailable) as raised:
        TrustList.load(tmp_path / "nowhere")

    assert "недоступний" in raised.value.message_uk


def test_damaged_file_is_reported(pki_dir: Path) -> None:
    (pki.trust_dir(pki_dir) / "broken.crl").write_bytes(b"\x30\x05garbage")

    with pytest.raises(TrustListUnavailable) as raised:
        TrustList.load(pki.trust_dir(pki_dir))

    assert "broken.crl" in raised.value.message_uk
