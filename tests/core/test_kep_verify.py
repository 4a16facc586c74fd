"""verify_detached on signatures made by the demo PKI: acceptance and every refusal."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from aikom.core import pki
from aikom.core.kep import Purpose, ReasonCode, TrustList, Verification, verify_detached

CONTENT = "АІКОМ: виклик для входу 7f3a9c".encode()

TrustLoader = Callable[[], TrustList]
PersonFactory = Callable[..., pki.IssuedPerson]


def verify(signature: bytes, trust: TrustList, **options: object) -> Verification:
    options.setdefault("purpose", Purpose.SIGN_IN)
    content = options.pop("content", CONTENT)
    assert isinstance(content, bytes)
    return verify_detached(signature, content, trust=trust, **options)  # type: ignore[arg-type]


def flip_last_byte(data: bytes) -> bytes:
    """Damage the signature value: in DER SignedData the signer's signature ends the structure."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize(
    ("key_type", "rsa_pss", "hash_algorithm"),
    [
        (pki.KeyType.ECDSA_P256, False, hashes.SHA256()),
        (pki.KeyType.ECDSA_P256, False, hashes.SHA512()),
        (pki.KeyType.RSA_2048, False, hashes.SHA256()),
        (pki.KeyType.RSA_2048, True, hashes.SHA384()),
    ],
)
@pytest.mark.parametrize("purpose", list(Purpose))
def test_valid_signature_is_accepted_with_identity(
    person: PersonFactory,
    trust: TrustLoader,
    key_type: pki.KeyType,
    rsa_pss: bool,
    hash_algorithm: hashes.SHA256,
    purpose: Purpose,
) -> None:
    signer = person(key_type=key_type)
    signature = pki.sign_detached(
        signer.key, signer.certificate, CONTENT, hash_algorithm=hash_algorithm, rsa_pss=rsa_pss
    )

    result = verify(signature, trust(), purpose=purpose)

    assert result.ok, result.message_uk
    assert result.reason is None
    assert result.message_uk == "Підпис дійсний."
    assert result.identity is not None
    assert (result.identity.edrpou, result.identity.rnokpp) == ("12345678", "1234567899")
    assert result.certificate_der == signer.certificate.public_bytes(serialization.Encoding.DER)
    assert result.signing_time is not None


def test_encapsulated_content_must_equal_the_content(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT, detached=False)

    assert verify(signature, trust()).ok
    refused = verify(signature, trust(), content=b"something else")
    assert refused.reason is ReasonCode.CONTENT_MISMATCH


def test_pem_and_bare_base64_are_accepted(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    der = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    bare = base64.encodebytes(der)
    pem = b"-----BEGIN PKCS7-----\n" + bare + b"-----END PKCS7-----\n"

    assert verify(pem, trust()).ok
    assert verify(bare, trust()).ok


def test_flipped_signature_byte_is_a_bad_signature(person: PersonFactory, trust: TrustLoader) -> None:
    for key_type in pki.KeyType:
        signer = person(key_type=key_type)
        signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

        result = verify(flip_last_byte(signature), trust())

        assert result.reason is ReasonCode.BAD_SIGNATURE, key_type
        assert not result.ok


def test_other_content_is_refused(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    result = verify(signature, trust(), content=CONTENT + b" ")

    assert result.reason is ReasonCode.CONTENT_MISMATCH
    assert result.message_uk == "Підпис накладено на інші дані, ніж ті, що перевіряються."
    # Whose signature was refused is still known.
    assert result.identity is not None and result.identity.rnokpp == "1234567899"


def test_expired_certificate_is_refused(person: PersonFactory, trust: TrustLoader) -> None:
    now = datetime.now(UTC)
    signer = person(not_before=now - timedelta(days=400), not_after=now - timedelta(days=35))
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    result = verify(signature, trust())

    assert result.reason is ReasonCode.EXPIRED
    assert "закінчився" in result.message_uk


def test_not_yet_valid_certificate_is_refused(person: PersonFactory, trust: TrustLoader) -> None:
    now = datetime.now(UTC)
    signer = person(not_before=now + timedelta(days=2), not_after=now + timedelta(days=300))
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    result = verify(signature, trust())

    assert result.reason is ReasonCode.NOT_YET_VALID


def test_validity_is_judged_at_the_given_moment(
    pki_dir: Path, person: PersonFactory, trust: TrustLoader
) -> None:
    now = datetime.now(UTC)
    signer = person(not_before=now - timedelta(days=10), not_after=now + timedelta(days=10))
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    # CRLs that still speak for the later moment, so that only the certificate's validity decides.
    pki.refresh_crls(pki_dir, crl_validity=timedelta(days=60))

    assert verify(signature, trust(), at=now + timedelta(days=1)).ok
    assert verify(signature, trust(), at=now + timedelta(days=30)).reason is ReasonCode.EXPIRED


def test_revoked_certificate_is_refused(pki_dir: Path, person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    assert verify(signature, trust()).ok

    pki.revoke(pki_dir, signer.certificate.serial_number)

    result = verify(signature, trust())
    assert result.reason is ReasonCode.REVOKED
    assert "скасовано" in result.message_uk


def test_revocation_after_a_historical_moment_does_not_count_then(
    pki_dir: Path, person: PersonFactory, trust: TrustLoader
) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    signed_at = datetime.now(UTC)
    pki.revoke(pki_dir, signer.certificate.serial_number, at=signed_at + timedelta(hours=1))

    assert verify(signature, trust(), at=signed_at).ok
    assert verify(signature, trust(), at=signed_at + timedelta(hours=2)).reason is ReasonCode.REVOKED


def test_revoked_intermediate_ca_is_refused(pki_dir: Path, person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    qualified = pki.load_ca(pki_dir, pki.CaName.QUALIFIED)

    pki.revoke(pki_dir, qualified.certificate.serial_number, ca=pki.CaName.ROOT)

    result = verify(signature, trust())
    assert result.reason is ReasonCode.REVOKED
    assert "надавача" in result.message_uk


def test_certificate_of_another_pki_is_an_unknown_ca(tmp_path: Path, trust: TrustLoader) -> None:
    other = tmp_path / "other-pki"
    pki.init(other)
    stranger = pki.issue_person(other, name="Чужий Іван", edrpou="12345678", rnokpp="1234567899", title="Х")
    signature = pki.sign_detached(stranger.key, stranger.certificate, CONTENT)

    result = verify(signature, trust())

    assert result.reason is ReasonCode.UNKNOWN_CA


def test_missing_crl_fails_closed(pki_dir: Path, person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    (pki.trust_dir(pki_dir) / "qualified.crl").unlink()

    result = verify(signature, trust())
    assert result.reason is ReasonCode.CRL_MISSING
    assert "CRL" in result.message_uk


def test_missing_crl_of_the_root_fails_closed(
    pki_dir: Path, person: PersonFactory, trust: TrustLoader
) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    (pki.trust_dir(pki_dir) / "root.crl").unlink()

    assert verify(signature, trust()).reason is ReasonCode.CRL_MISSING


def test_stale_crl_fails_closed(pki_dir: Path, person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    pki.refresh_crls(pki_dir, now=datetime.now(UTC) - timedelta(days=10), crl_validity=timedelta(days=7))

    result = verify(signature, trust())
    assert result.reason is ReasonCode.CRL_STALE
    assert "застарів" in result.message_uk

    pki.refresh_crls(pki_dir)
    assert verify(signature, trust()).ok


def test_decision_needs_non_repudiation(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person(non_repudiation=False)
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    assert verify(signature, trust(), purpose=Purpose.SIGN_IN).ok
    result = verify(signature, trust(), purpose=Purpose.DECISION)
    assert result.reason is ReasonCode.KEY_USAGE
    assert "nonRepudiation" in result.message_uk


def test_dstu_certificate_is_read_and_refused(dstu_signature: bytes, trust: TrustLoader) -> None:
    result = verify(dstu_signature, trust())

    assert result.reason is ReasonCode.DSTU_UNSUPPORTED
    assert "ДСТУ 4145" in result.message_uk and "недоступна" in result.message_uk
    assert result.identity is not None
    assert result.identity.common_name == "Коваль Ольга Петрівна"
    assert result.identity.edrpou == "12345678"
    assert result.identity.key_algorithm == "dstu4145"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not a signature at all",
        b"\x30\x03\x02\x01\x05",
        b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n",
        b"\x30\x82\xff\xff" + b"\x00" * 64,
        base64.b64encode(b"\x30\x80" * 50),
    ],
)
def test_malformed_input_is_refused_without_raising(garbage: bytes, trust: TrustLoader) -> None:
    result = verify(garbage, trust())

    assert result.reason is ReasonCode.MALFORMED
    assert not result.ok and result.identity is None


def test_truncated_signature_is_malformed(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    assert verify(signature[: len(signature) // 2], trust()).reason is ReasonCode.MALFORMED


def test_oversized_input_is_refused(person: PersonFactory, trust: TrustLoader) -> None:
    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)

    assert verify(signature, trust(), max_bytes=len(signature) - 1).reason is ReasonCode.TOO_LARGE
    assert verify(b"0" * 1_000_001, trust()).reason is ReasonCode.TOO_LARGE


def test_verification_works_inside_a_running_event_loop(person: PersonFactory, trust: TrustLoader) -> None:
    import asyncio

    signer = person()
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    trusted = trust()

    async def handler() -> Verification:
        return verify(signature, trusted)

    assert asyncio.run(handler()).ok


@pytest.mark.parametrize("key_type", list(pki.KeyType))
def test_damaged_bytes_anywhere_are_classified_never_raised(
    person: PersonFactory, trust: TrustLoader, key_type: pki.KeyType
) -> None:
    import random

    signer = person(key_type=key_type)
    signature = pki.sign_detached(signer.key, signer.certificate, CONTENT)
    trusted = trust()
    rng = random.Random(20260101)

    for position in rng.sample(range(len(signature)), 60):
        damaged = bytearray(signature)
        damaged[position] ^= rng.choice([0x01, 0x80, 0xFF])

        result = verify(bytes(damaged), trusted)

        assert result.reason is not ReasonCode.VERIFICATION_ERROR, position
