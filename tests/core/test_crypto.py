"""РНОКПП: validation, AES-GCM sealing bound to its row, key rotation and the blind index."""

from __future__ import annotations

import pytest

from aikom.core.crypto import (
    DecryptionFailed,
    EncryptionKeyMissing,
    Keyring,
    blind_index,
    field_context,
    normalise_rnokpp,
    open_sealed,
    seal,
    sealed_key_id,
)
from aikom.core.errors import ValidationFailed

VALID = "1759013776"
K1 = {"k1": "11" * 32}
K2 = {"k1": "11" * 32, "k2": "22" * 32}


def test_round_trip_with_a_random_nonce() -> None:
    ring = Keyring.from_hex("k1", K1)
    ctx = field_context("person", "rnokpp", 42)
    a = seal(VALID.encode(), context=ctx, keyring=ring)
    b = seal(VALID.encode(), context=ctx, keyring=ring)
    assert a != b and VALID.encode() not in a
    assert sealed_key_id(a) == "k1"
    assert open_sealed(a, context=ctx, keyring=ring) == VALID.encode()


def test_a_ciphertext_moved_to_another_row_does_not_open() -> None:
    ring = Keyring.from_hex("k1", K1)
    blob = seal(VALID.encode(), context=field_context("person", "rnokpp", 1), keyring=ring)
    with pytest.raises(DecryptionFailed):
        open_sealed(blob, context=field_context("person", "rnokpp", 2), keyring=ring)
    with pytest.raises(DecryptionFailed):
        open_sealed(blob, context=field_context("person", "email", 1), keyring=ring)


@pytest.mark.parametrize("position", [0, 1, 4, 10, -1])
def test_a_tampered_ciphertext_does_not_open(position: int) -> None:
    ring = Keyring.from_hex("k2", K2)
    ctx = field_context("person", "rnokpp", 1)
    blob = bytearray(seal(VALID.encode(), context=ctx, keyring=ring))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        open_sealed(bytes(blob), context=ctx, keyring=ring)


def test_after_rotation_old_values_still_open_and_new_ones_use_the_new_key() -> None:
    ctx = field_context("person", "rnokpp", 7)
    old = seal(VALID.encode(), context=ctx, keyring=Keyring.from_hex("k1", K1))
    rotated = Keyring.from_hex("k2", K2)
    assert open_sealed(old, context=ctx, keyring=rotated) == VALID.encode()
    assert sealed_key_id(seal(VALID.encode(), context=ctx, keyring=rotated)) == "k2"
    with pytest.raises(DecryptionFailed):
        open_sealed(old, context=ctx, keyring=Keyring.from_hex("k2", {"k2": "22" * 32}))


def test_keys_must_be_256_bit_and_the_current_one_present() -> None:
    with pytest.raises(EncryptionKeyMissing):
        Keyring.from_hex("k1", {"k1": "11" * 16})
    with pytest.raises(EncryptionKeyMissing):
        Keyring.from_hex("k3", K2)
    with pytest.raises(EncryptionKeyMissing):
        Keyring.from_hex("k1", {"k1": "not hex"})


def test_row_must_exist_before_sealing() -> None:
    with pytest.raises(ValueError):
        field_context("person", "rnokpp", None)


def test_valid_rnokpp_is_normalised() -> None:
    assert normalise_rnokpp(" 17590 13776 ") == VALID


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("1759013770", "контрольну цифру"), ("12345", "10 цифр"), ("17590137AB", "лише цифри"), ("", "10 цифр")],
)
def test_bad_rnokpp_is_refused_naming_the_field_and_rule(value: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_rnokpp(value)
    assert caught.value.field == "rnokpp"
    assert fragment in caught.value.message_uk


def test_blind_index_is_keyed_and_deterministic() -> None:
    key = bytes.fromhex("33" * 32)
    assert blind_index(VALID, key=key) == blind_index(VALID, key=key)
    assert blind_index(VALID, key=key) != blind_index("2530414071", key=key)
    assert blind_index(VALID, key=key) != blind_index(VALID, key=bytes.fromhex("44" * 32))
