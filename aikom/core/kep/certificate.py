"""Check a КЕП certificate on its own (no signature): the chain to a trusted CA, CRLs, validity, key usage.

The same path validation as `verify_detached` runs, so a certificate this accepts for a `Purpose` is one
a signature would be accepted with (provided the signature itself is sound).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from asn1crypto import x509

from aikom.core.kep.cms import PARSE_ERRORS
from aikom.core.kep.identity import Identity, KeyAlgorithm, read_identity
from aikom.core.kep.reasons import MESSAGES_UK, Purpose, ReasonCode, Refusal
from aikom.core.kep.trust import TrustList, validate_certificate
from aikom.core.kep.verify import Verification

logger = logging.getLogger(__name__)

# A person's certificate is a few kilobytes; anything much larger is not one.
MAX_CERTIFICATE_BYTES = 64_000
CERTIFICATE_VALID_MESSAGE_UK = "Сертифікат чинний."
NOT_A_CERTIFICATE_UK = (
    "Файл не є сертифікатом X.509 або пошкоджений. Потрібен сертифікат КЕП у форматі DER (.cer, .crt, "
    ".der) або PEM."
)
CERTIFICATE_TOO_LARGE_UK = "Файл сертифіката завеликий."
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN (?:X509 )?CERTIFICATE-----(.*?)-----END (?:X509 )?CERTIFICATE-----", re.DOTALL
)


def decode_certificate_file(data: bytes, *, max_bytes: int = MAX_CERTIFICATE_BYTES) -> x509.Certificate:
    """The certificate in a DER, PEM or bare base64 file; Refusal when it is none or too large."""
    if len(data) > max_bytes:
        raise Refusal(ReasonCode.TOO_LARGE, CERTIFICATE_TOO_LARGE_UK)
    der = data
    if data[:1] != b"\x30":
        block = _PEM_CERTIFICATE.search(data)
        body = block.group(1) if block else data.strip()
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise Refusal(ReasonCode.MALFORMED, NOT_A_CERTIFICATE_UK) from error
    try:
        certificate = x509.Certificate.load(der, strict=True)
        certificate.native  # noqa: B018 - force the lazy parser so damage is found here
    except PARSE_ERRORS as error:
        raise Refusal(ReasonCode.MALFORMED, NOT_A_CERTIFICATE_UK) from error
    return certificate


def verify_certificate(
    data: bytes,
    *,
    trust: TrustList,
    purpose: Purpose,
    at: datetime | None = None,
    max_bytes: int = MAX_CERTIFICATE_BYTES,
) -> Verification:
    """Validate a certificate file for `purpose` at `at` (else now); never raises on bad input."""
    call = averify_certificate(data, trust=trust, purpose=purpose, at=at, max_bytes=max_bytes)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call).result()


async def averify_certificate(
    data: bytes,
    *,
    trust: TrustList,
    purpose: Purpose,
    at: datetime | None = None,
    max_bytes: int = MAX_CERTIFICATE_BYTES,
) -> Verification:
    """The async form of `verify_certificate`."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    certificate: x509.Certificate | None = None
    identity: Identity | None = None
    try:
        certificate = decode_certificate_file(data, max_bytes=max_bytes)
        try:
            identity = read_identity(certificate)
        except PARSE_ERRORS as error:
            raise Refusal(ReasonCode.MALFORMED, NOT_A_CERTIFICATE_UK) from error
        if identity.key_algorithm is KeyAlgorithm.DSTU_4145:
            raise Refusal(ReasonCode.DSTU_UNSUPPORTED)
        await validate_certificate(certificate, trust=trust, other_certificates=(), purpose=purpose, at=at)
    except Refusal as refusal:
        return _refused(refusal.reason, refusal.message_uk, certificate, identity)
    except Exception:
        logger.exception("KEP certificate check failed unexpectedly")
        reason = ReasonCode.VERIFICATION_ERROR
        return _refused(reason, MESSAGES_UK[reason], certificate, identity)
    return Verification(
        ok=True,
        reason=None,
        message_uk=CERTIFICATE_VALID_MESSAGE_UK,
        identity=identity,
        certificate_der=certificate.dump(),
    )


def _refused(
    reason: ReasonCode, message_uk: str, certificate: x509.Certificate | None, identity: Identity | None
) -> Verification:
    return Verification(
        ok=False,
        reason=reason,
        message_uk=message_uk,
        identity=identity,
        certificate_der=certificate.dump() if certificate is not None else None,
    )
