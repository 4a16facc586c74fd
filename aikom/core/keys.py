"""Access-key tokens: format, checksum, peppered hashing and the rules of a key's lifecycle (no database).

A token reads `<prefix>_<public id>_<secret>_<checksum>`, all lowercase RFC 4648 base32 without padding:

- prefix: `aikb` for a base access key, `aika` for an API key (secret scanners and people recognise them);
- public id: 80 random bits (16 chars), the only part the database is searched by;
- secret: 256 random bits (52 chars), stored only as HMAC-SHA256(pepper, secret);
- checksum: CRC32 of everything before it (7 chars), so a typo is caught without a database query.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import sha256

from aikom.core.errors import DomainError

PUBLIC_ID_BYTES = 10
SECRET_BYTES = 32
CHECKSUM_BYTES = 4

# Key kinds by their stored value (`aikom.models.KeyKind`): the token prefix and the default scopes.
PREFIX_BY_KIND: dict[str, str] = {"base": "aikb", "api": "aika"}
KIND_BY_PREFIX: dict[str, str] = {prefix: kind for kind, prefix in PREFIX_BY_KIND.items()}
DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {"base": ("account",), "api": ("data:read",)}

_B32_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def _b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def _b32_length(size: int) -> int:
    return (size * 8 + 4) // 5


def _b32decode(text: str, size: int) -> bytes | None:
    """Decode canonical unpadded base32 of exactly `size` bytes, else None."""
    if len(text) != _b32_length(size) or not set(text) <= _B32_ALPHABET:
        return None
    padded = text.upper() + "=" * (-len(text) % 8)
    raw = base64.b32decode(padded)
    # Refuse non-canonical spellings (unused trailing bits set): one secret, one token.
    if len(raw) != size or _b32encode(raw) != text:
        return None
    return raw


def _checksum(body: str) -> str:
    return _b32encode(zlib.crc32(body.encode("ascii")).to_bytes(CHECKSUM_BYTES, "big"))


class KeyCheckReason(StrEnum):
    """Why a presented key was accepted or refused."""

    OK = "ok"
    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"
    UNKNOWN = "unknown"
    DEACTIVATED = "deactivated"
    SUSPENDED = "suspended"
    WRONG_SECRET = "wrong_secret"
    ACCOUNT_INACTIVE = "account_inactive"


REASON_MESSAGES_UK: dict[KeyCheckReason, str] = {
    KeyCheckReason.OK: "Ключ дійсний.",
    KeyCheckReason.MALFORMED: "Це не ключ АІКОМ: перевірте, що ключ скопійовано повністю, "
    "без зайвих символів.",
    KeyCheckReason.BAD_CHECKSUM: "Ключ містить помилку (не збігається контрольна сума): "
    "скопіюйте його ще раз.",
    KeyCheckReason.UNKNOWN: "Такого ключа в системі немає.",
    KeyCheckReason.DEACTIVATED: "Ключ деактивовано; використовувати його більше не можна.",
    KeyCheckReason.SUSPENDED: "Дію ключа призупинено.",
    KeyCheckReason.WRONG_SECRET: "Ключ недійсний.",
    KeyCheckReason.ACCOUNT_INACTIVE: "Обліковий запис, якому належить ключ, не активний.",
}


class MalformedKey(DomainError):
    """The text is not an АІКОМ token at all."""

    code = KeyCheckReason.MALFORMED.value

    def __init__(self) -> None:
        super().__init__(REASON_MESSAGES_UK[KeyCheckReason.MALFORMED])


class KeyChecksumMismatch(DomainError):
    """The token has the right shape but a typo: its checksum does not match."""

    code = KeyCheckReason.BAD_CHECKSUM.value

    def __init__(self, kind: str) -> None:
        super().__init__(REASON_MESSAGES_UK[KeyCheckReason.BAD_CHECKSUM], kind=kind)
        self.kind = kind


class KeyPepperMissing(DomainError):
    """The configuration lacks the pepper a key needs (current one, or the one a key was hashed with)."""

    code = "key_pepper_missing"

    def __init__(self, pepper_id: str) -> None:
        super().__init__(
            f"У налаштуваннях немає секрету (pepper) «{pepper_id}» для ключів доступу: "
            "зверніться до технічного адміністратора.",
            pepper_id=pepper_id,
        )
        self.pepper_id = pepper_id


@dataclass(frozen=True)
class ParsedToken:
    """A token that passed the format and checksum checks."""

    kind: str
    public_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class GeneratedToken:
    """A new token; `token` is the only time the plaintext exists."""

    kind: str
    public_id: str
    secret: bytes = field(repr=False)
    token: str = field(repr=False)


def generate_token(kind: str) -> GeneratedToken:
    """Generate a fresh token of `kind` ('base' or 'api') from the OS random source."""
    public_id = _b32encode(secrets.token_bytes(PUBLIC_ID_BYTES))
    secret = secrets.token_bytes(SECRET_BYTES)
    return GeneratedToken(
        kind=kind, public_id=public_id, secret=secret, token=compose_token(kind, public_id, secret)
    )


def compose_token(kind: str, public_id: str, secret: bytes) -> str:
    """Spell a token from its parts, appending the checksum."""
    body = f"{PREFIX_BY_KIND[kind]}_{public_id}_{_b32encode(secret)}"
    return f"{body}_{_checksum(body)}"


def parse_token(token: str) -> ParsedToken:
    """Parse a presented token; raise MalformedKey or KeyChecksumMismatch (no database involved)."""
    text = token.strip().lower()
    parts = text.split("_")
    if len(parts) != 4 or parts[0] not in KIND_BY_PREFIX:
        raise MalformedKey()
    prefix, public_text, secret_text, checksum = parts
    kind = KIND_BY_PREFIX[prefix]
    shapes = ((public_text, PUBLIC_ID_BYTES), (secret_text, SECRET_BYTES), (checksum, CHECKSUM_BYTES))
    if any(len(part) != _b32_length(size) or not set(part) <= _B32_ALPHABET for part, size in shapes):
        raise MalformedKey()
    # The checksum goes first, so any typo in a well-shaped token is reported as a typo.
    body = f"{prefix}_{public_text}_{secret_text}"
    if not hmac.compare_digest(_checksum(body), checksum):
        raise KeyChecksumMismatch(kind)
    secret = _b32decode(secret_text, SECRET_BYTES)
    if secret is None or _b32decode(public_text, PUBLIC_ID_BYTES) is None:
        raise MalformedKey()
    return ParsedToken(kind=kind, public_id=public_text, secret=secret)


def hash_secret(secret: bytes, pepper: bytes) -> bytes:
    """HMAC-SHA256 of a key's secret under the server-side pepper: what the database stores."""
    return hmac.new(pepper, secret, sha256).digest()


def secret_matches(secret: bytes, stored_hash: bytes, pepper: bytes) -> bool:
    """Whether `secret` is the one behind `stored_hash` (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)


def pepper_bytes(peppers: dict[str, str], pepper_id: str) -> bytes:
    """The pepper `pepper_id` from the configured map, or KeyPepperMissing."""
    value = peppers.get(pepper_id)
    if not value:
        raise KeyPepperMissing(pepper_id)
    return value.encode("utf-8")
