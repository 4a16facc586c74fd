"""Personal data at rest: РНОКПП validation, AES-256-GCM sealing bound to its row, and a keyed blind index.

A sealed value is `version (1 byte) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ct+tag`.
The associated data is the header plus the place the value belongs to (`table|column|row id`), so a
ciphertext copied into another row, or relabelled with another key id, fails to decrypt.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.ua import rntrc

from aikom.core.errors import DomainError, ValidationFailed

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionFailed(DomainError):
    """A sealed value does not open: it was altered, moved from another row, or its key is gone."""

    code = "decryption_failed"

    def __init__(self, context: bytes) -> None:
        super().__init__(
            "Не вдалося розшифрувати захищені персональні дані: їх пошкоджено, перенесено з іншого "
            "запису або ключ шифрування недоступний.",
            context=context.decode("utf-8", "replace"),
        )


class EncryptionKeyMissing(DomainError):
    """The keyring lacks the key a value was (or is to be) sealed with, or the key is not 256-bit."""

    code = "encryption_key_missing"

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"У налаштуваннях немає дійсного ключа шифрування «{key_id}» (потрібно 32 байти у hex): "
            "зверніться до технічного адміністратора.",
            key_id=key_id,
        )
        self.key_id = key_id


@dataclass(frozen=True)
class Keyring:
    """AES-256 keys by id and the id new values are sealed with."""

    current_key_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @classmethod
    def from_hex(cls, current_key_id: str, hex_keys: Mapping[str, str]) -> Keyring:
        """Build from configuration (hex strings); every key must be 32 bytes."""
        keys: dict[str, bytes] = {}
        for key_id, hex_key in hex_keys.items():
            try:
                raw = bytes.fromhex(hex_key)
            except ValueError:
                raise EncryptionKeyMissing(key_id) from None
            if len(raw) != KEY_BYTES or not key_id.isascii() or not 0 < len(key_id) < 256:
                raise EncryptionKeyMissing(key_id)
            keys[key_id] = raw
        if current_key_id not in keys:
            raise EncryptionKeyMissing(current_key_id)
        return cls(current_key_id=current_key_id, keys=keys)

    def key(self, key_id: str) -> bytes:
        """The key `key_id`, or EncryptionKeyMissing."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise EncryptionKeyMissing(key_id) from None


def field_context(table: str, column: str, row_id: int | None) -> bytes:
    """Associated data naming where a sealed value lives, e.g. b'person|rnokpp|42'."""
    if row_id is None:
        raise ValueError("the row must have an id (flush it) before its data is sealed")
    return f"{table}|{column}|{row_id}".encode()


def _header(key_id: str) -> bytes:
    raw_id = key_id.encode("ascii")
    return bytes([FORMAT_VERSION, len(raw_id)]) + raw_id


def seal(plaintext: bytes, *, context: bytes, keyring: Keyring) -> bytes:
    """Encrypt with the current key and a fresh random nonce, bound to `context`."""
    header = _header(keyring.current_key_id)
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(keyring.key(keyring.current_key_id)).encrypt(nonce, plaintext, header + b"|" + context)
    return header + nonce + body


def sealed_key_id(blob: bytes) -> str:
    """The id of the key a sealed value was made with (raises DecryptionFailed on a foreign format)."""
    if len(blob) < 2 or blob[0] != FORMAT_VERSION or len(blob) < 2 + blob[1] + NONCE_BYTES + 16:
        raise DecryptionFailed(b"")
    return blob[2 : 2 + blob[1]].decode("ascii", "replace")


def open_sealed(blob: bytes, *, context: bytes, keyring: Keyring) -> bytes:
    """Decrypt a sealed value with whichever configured key made it; DecryptionFailed if it does not open."""
    try:
        key_id = sealed_key_id(blob)
    except DecryptionFailed:
        raise DecryptionFailed(context) from None
    header_len = 2 + blob[1]
    header = blob[:header_len]
    nonce = blob[header_len : header_len + NONCE_BYTES]
    body = blob[header_len + NONCE_BYTES :]
    key = keyring.keys.get(key_id)
    # An unknown key id is either a retired key or a tampered header: the holder cannot tell which.
    if key is None:
        raise DecryptionFailed(context)
    try:
        return AESGCM(key).decrypt(nonce, body, header + b"|" + context)
    except InvalidTag:
        raise DecryptionFailed(context) from None


def normalise_rnokpp(value: str) -> str:
    """The 10-digit РНОКПП, spaces removed; ValidationFailed('rnokpp', …) naming the broken rule."""
    text = (value or "").strip()
    try:
        return str(rntrc.validate(text))
    except InvalidLength:
        message = "РНОКПП має складатися рівно з 10 цифр."
    except InvalidFormat:
        message = "РНОКПП має містити лише цифри."
    except InvalidChecksum:
        message = "РНОКПП має неправильну контрольну цифру: перевірте номер."
    except ValidationError:
        message = "РНОКПП не відповідає правилам формування номера."
    raise ValidationFailed("rnokpp", message)


def blind_index(value: str, *, key: bytes, purpose: str = "rnokpp") -> bytes:
    """Keyed blind index HMAC-SHA256(key, purpose ':' value): equal values match, nothing else leaks."""
    return hmac.new(key, f"{purpose}:{value}".encode(), sha256).digest()
