"""verify_detached on signatures made by the `openssl cms` command line with demo-PKI keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from aikom.core import pki
from aikom.core.kep import Purpose, ReasonCode, TrustList, verify_detached

CONTENT = "Рішення: погодити заявку № 42\n".encode()

TrustLoader = Callable[[], TrustList]
PersonFactory = Callable[..., pki.IssuedPerson]
OpensslSigner = Callable[..., bytes]


@pytest.mark.parametrize(
    ("key_type", "options", "outform"),
    [
        (pki.KeyType.ECDSA_P256, (), "DER"),
        (pki.KeyType.ECDSA_P256, ("-cades",), "DER"),
        (pki.KeyType.ECDSA_P256, ("-cades", "-md", "sha384"), "PEM"),
        (pki.KeyType.ECDSA_P256, ("-md", "sha512", "-nodetach"), "DER"),
        (pki.KeyType.ECDSA_P256, ("-keyid", "-noattr"), "PEM"),
        (pki.KeyType.RSA_2048, (), "DER"),
        (pki.KeyType.RSA_2048, ("-cades",), "PEM"),
        (pki.KeyType.RSA_2048, ("-keyopt", "rsa_padding_mode:pss"), "DER"),
        (pki.KeyType.RSA_2048, ("-cades", "-keyopt", "rsa_padding_mode:pss", "-md", "sha512"), "PEM"),
        (pki.KeyType.RSA_2048, ("-nodetach",), "PEM"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else str(value),
)
def test_openssl_signatures_are_accepted(
    person: PersonFactory,
    trust: TrustLoader,
    openssl_sign: OpensslSigner,
    key_type: pki.KeyType,
    options: tuple[str, ...],
    outform: str,
) -> None:
    signer = person(key_type=key_type)
    signature = openssl_sign(signer, CONTENT, *options, outform=outform)

    result = verify_detached(signature, CONTENT, trust=trust(), purpose=Purpose.DECISION)

    assert result.ok, (result.reason, result.message_uk)
    assert result.identity is not None and result.identity.edrpou == "12345678"


@pytest.mark.parametrize("options", [(), ("-cades",), ("-nodetach",)], ids=["plain", "cades", "nodetach"])
def test_openssl_signature_over_other_content_is_refused(
    person: PersonFactory, trust: TrustLoader, openssl_sign: OpensslSigner, options: tuple[str, ...]
) -> None:
    signer = person()
    signature = openssl_sign(signer, CONTENT, *options)

    result = verify_detached(signature, b"other content", trust=trust(), purpose=Purpose.SIGN_IN)

    assert result.reason is ReasonCode.CONTENT_MISMATCH


def test_openssl_signature_with_flipped_byte_is_refused(
    person: PersonFactory, trust: TrustLoader, openssl_sign: OpensslSigner
) -> None:
    signer = person(key_type=pki.KeyType.RSA_2048)
    signature = bytearray(openssl_sign(signer, CONTENT, "-cades"))
    signature[-10] ^= 0x40

    result = verify_detached(bytes(signature), CONTENT, trust=trust(), purpose=Purpose.SIGN_IN)

    assert result.reason is ReasonCode.BAD_SIGNATURE


def test_openssl_signature_without_certificate_is_refused(
    person: PersonFactory, trust: TrustLoader, openssl_sign: OpensslSigner
) -> None:
    signer = person()
    signature = openssl_sign(signer, CONTENT, "-nocerts")

    result = verify_detached(signature, CONTENT, trust=trust(), purpose=Purpose.SIGN_IN)

    assert result.reason is ReasonCode.NO_SIGNER_CERTIFICATE


def test_openssl_signature_with_revoked_certificate_is_refused(
    pki_dir: Path, person: PersonFactory, trust: TrustLoader, openssl_sign: OpensslSigner
) -> None:
    signer = person()
    signature = openssl_sign(signer, CONTENT, "-cades")
    pki.revoke(pki_dir, signer.certificate.serial_number)

    result = verify_detached(signature, CONTENT, trust=trust(), purpose=Purpose.SIGN_IN)

    assert result.reason is ReasonCode.REVOKED


def test_cades_signing_certificate_must_match_the_embedded_certificate(
    pki_dir: Path, person: PersonFactory, trust: TrustLoader, openssl_sign: OpensslSigner
) -> None:
    """A second certificate for the same key, issuer and serial swapped into a CAdES signature."""
    signer = person(title="Заступник директора")
    signature = openssl_sign(signer, CONTENT, "-cades")
    ca = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)
    original = signer.certificate
    now = datetime.now(UTC)
    look_alike = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Директор")]))
        .issuer_name(original.issuer)
        .public_key(signer.key.public_key())
        .serial_number(original.serial_number)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(original.extensions.get_extension_for_class(x509.KeyUsage).value, critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    content_info = cms.ContentInfo.load(signature)
    content_info["content"]["certificates"] = [
        cms.CertificateChoices(
            {"certificate": asn1_x509.Certificate.load(look_alike.public_bytes(serialization.Encoding.DER))}
        )
    ]

    result = verify_detached(content_info.dump(force=True), CONTENT, trust=trust(), purpose=Purpose.SIGN_IN)

    assert result.reason is ReasonCode.SIGNING_CERTIFICATE_MISMATCH
