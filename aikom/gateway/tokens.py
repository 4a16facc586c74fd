"""Parsing presented tokens on the decision point's hot path.

The same rules as `aikom.core.keys.parse_token` (shape, CRC32 checksum, canonical base32), spelled
for speed: one compiled pattern instead of per-part character sets, the secret's canonical spelling
checked on its last character instead of by re-encoding, and base32 done with `int(…, 32)` (the
standard library's base32 is pure Python). A test holds the two equal on valid, mistyped and malformed
tokens.
"""

from __future__ import annotations

import hmac
import re
import zlib

from aikom.core.keys import KIND_BY_PREFIX, PUBLIC_ID_BYTES, SECRET_BYTES, ParsedToken

# 80-bit public id: 16 characters, no spare bits. 256-bit secret: 52 characters whose last 4 bits are
# spare and must be zero, so the last character is `a` (0) or `q` (16). CRC32: 7 characters, compared
# as text with the checksum computed, so only its canonical spelling ever matches.
_TOKEN = re.compile(r"(aika|aikb)_([a-z2-7]{16})_([a-z2-7]{51}[aq])_([a-z2-7]{7})")
_CHECKSUM_LENGTH = 7
assert PUBLIC_ID_BYTES == 10 and SECRET_BYTES == 32  # the pattern above is spelled for these sizes
_RFC4648 = "abcdefghijklmnopqrstuvwxyz234567"
# RFC 4648 base32 letters → the digits `int(…, 32)` reads (0-9, a-v), value for value (a C-speed table).
_TO_INT_DIGITS = bytes.maketrans(_RFC4648.encode("ascii"), b"0123456789abcdefghijklmnopqrstuv")
# Every 10-bit value as its two base32 characters: a checksum is spelled with four look-ups.
_PAIRS = tuple(_RFC4648[n >> 5] + _RFC4648[n & 31] for n in range(1024))


def _checksum(body: str) -> str:
    """The token's checksum: CRC32 as 7 base32 characters (32 bits and 3 zero bits)."""
    value = zlib.crc32(body.encode("ascii")) << 3
    return (
        _PAIRS[value >> 25]
        + _PAIRS[(value >> 15) & 1023]
        + _PAIRS[(value >> 5) & 1023]
        + _RFC4648[value & 31]
    )


def parse_presented(token: str) -> ParsedToken | None:
    """The parsed token, or None when it is malformed or mistyped (what `parse_token` raises for)."""
    text = token.strip().lower()
    match = _TOKEN.fullmatch(text)
    if match is None:
        return None
    prefix, public_id, secret_text, checksum = match.groups()
    if not hmac.compare_digest(_checksum(text[: -_CHECKSUM_LENGTH - 1]), checksum):
        return None
    # 52 characters carry 260 bits: the secret's 256 and 4 zero bits (the pattern allows only those).
    secret = (int(secret_text.encode("ascii").translate(_TO_INT_DIGITS), 32) >> 4).to_bytes(
        SECRET_BYTES, "big"
    )
    return ParsedToken(kind=KIND_BY_PREFIX[prefix], public_id=public_id, secret=secret)
