"""Verify a detached КЕП signature: the CMS signature, the chain to a trusted CA, CRLs, key usage."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aikom.core.kep.cms import (
    PARSE_ERRORS,
    SignedMessage,
    check_signature,
    decode_signature_file,
    parse_signed_message,
    uses_dstu,
)
from aikom.core.kep.identity import Identity, read_identity
from aikom.core.kep.reasons import MESSAGES_UK, VALID_MESSAGE_UK, Purpose, ReasonCode, Refusal
from aikom.core.kep.trust import TrustList, validate_certificate

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1_000_000
# Allowed drift between a claimed signingTime and the certificate's validity bounds.
_CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Verification:
    """The outcome of a verification. `identity` is filled whenever the signer's certificate was read,
    also on refusal (to say whose signature was refused); only `ok` means the signature is valid."""

    ok: bool
    reason: ReasonCode | None
    message_uk: str
    identity: Identity | None = None
    signing_time: datetime | None = None
    certificate_der: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: ok, reason, message, identity, signing_time."""
        return {
            "ok": self.ok,
            "reason": self.reason.value if self.reason else None,
            "message": self.message_uk,
            "identity": self.identity.to_dict() if self.identity else None,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
        }


def verify_detached(
    signature: bytes,
    content: bytes,
    *,
    trust: TrustList,
    purpose: Purpose,
    at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Verification:
    """Verify a detached (or encapsulated) CMS signature over `content`; never raises on bad input."""
    call = averify_detached(signature, content, trust=trust, purpose=purpose, at=at, max_bytes=max_bytes)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call)
    # Called from inside an event loop (e.g. an async web handler): run on a fresh loop elsewhere.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call).result()


async def averify_detached(
    signature: bytes,
    content: bytes,
    *,
    trust: TrustList,
    purpose: Purpose,
    at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Verification:
    """The async form of `verify_detached`, for callers already inside an event loop."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    message: SignedMessage | None = None
    identity: Identity | None = None
    try:
        message = parse_signed_message(decode_signature_file(signature, max_bytes=max_bytes))
        identity = _identity_of(message)
        if uses_dstu(message):
            raise Refusal(ReasonCode.DSTU_UNSUPPORTED)
        check_signature(message, content)
        _check_signing_time(message, identity)
        await validate_certificate(
            message.signer_certificate,
            trust=trust,
            other_certificates=message.certificates,
            purpose=purpose,
            at=at,
        )
    except Refusal as refusal:
        return _refused(refusal.reason, refusal.message_uk, message, identity)
    except Exception:
        # The contract is "never raises": an unforeseen failure is logged and reported, not shown.
        logger.exception("KEP verification failed unexpectedly")
        reason = ReasonCode.VERIFICATION_ERROR
        return _refused(reason, MESSAGES_UK[reason], message, identity)
    return Verification(
        ok=True,
        reason=None,
        message_uk=VALID_MESSAGE_UK,
        identity=identity,
        signing_time=message.signing_time,
        certificate_der=message.signer_certificate.dump(),
    )


def _identity_of(message: SignedMessage) -> Identity:
    try:
        return read_identity(message.signer_certificate)
    except PARSE_ERRORS as error:
        raise Refusal(ReasonCode.MALFORMED) from error


def _check_signing_time(message: SignedMessage, identity: Identity) -> None:
    """A claimed signingTime outside the certificate's validity is refused (the chain check uses `at`)."""
    claimed = message.signing_time
    if claimed is None:
        return
    if claimed > identity.valid_until + _CLOCK_TOLERANCE:
        raise Refusal(ReasonCode.EXPIRED)
    if claimed < identity.valid_from - _CLOCK_TOLERANCE:
        raise Refusal(ReasonCode.NOT_YET_VALID)


def _refused(
    reason: ReasonCode, message_uk: str, message: SignedMessage | None, identity: Identity | None
) -> Verification:
    return Verification(
        ok=False,
        reason=reason,
        message_uk=message_uk,
        identity=identity,
        signing_time=message.signing_time if message else None,
        certificate_der=message.signer_certificate.dump() if message else None,
    )
