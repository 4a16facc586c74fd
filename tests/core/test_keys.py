"""Key tokens: shape, checksum (typos caught with no database), peppered hash, constant-time compare."""

from __future__ import annotations

import pytest

from aikom.core.keys import (
    KeyChecksumMismatch,
    MalformedKey,
    generate_token,
    hash_secret,
    parse_token,
    secret_matches,
)

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


@pytest.mark.parametrize(("kind", "prefix"), [("base", "aikb_"), ("api", "aika_")])
def test_token_is_recognisable_by_its_prefix_and_parses_back(kind: str, prefix: str) -> None:
    generated = generate_token(kind)
    assert generated.token.startswith(prefix)
    parsed = parse_token(generated.token)
    assert (parsed.kind, parsed.public_id, parsed.secret) == (kind, generated.public_id, generated.secret)
    assert len(generated.secret) == 32


def test_tokens_are_unique_and_never_printed_by_repr() -> None:
    a, b = generate_token("api"), generate_token("api")
    assert a.token != b.token and a.public_id != b.public_id
    assert a.token not in repr(a) and a.secret.hex() not in repr(parse_token(a.token))


def test_surrounding_whitespace_and_upper_case_are_tolerated() -> None:
    token = generate_token("base").token
    assert parse_token(f"  {token.upper()}\n").public_id == parse_token(token).public_id


def _change_char(token: str, position: int) -> str:
    old = token[position]
    new = ALPHABET[(ALPHABET.index(old) + 1) % len(ALPHABET)]
    return token[:position] + new + token[position + 1 :]


@pytest.mark.parametrize("position", [6, 20, 30, 60, 73, 78])
def test_a_single_typo_is_caught_by_the_checksum(position: int) -> None:
    token = generate_token("api").token
    assert token[position] != "_"
    with pytest.raises(KeyChecksumMismatch) as caught:
        parse_token(_change_char(token, position))
    assert caught.value.code == "bad_checksum"
    assert "контрольна сума" in caught.value.message_uk


def test_swapped_neighbours_are_caught_by_the_checksum() -> None:
    token = generate_token("api").token
    i = next(i for i in range(22, 70) if token[i] != token[i + 1])
    swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
    with pytest.raises(KeyChecksumMismatch):
        parse_token(swapped)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "ghp_abcdefabcdefabcdefabcdefabcdef",
        "aikx_" + "a" * 16 + "_" + "a" * 52 + "_" + "a" * 7,  # unknown prefix
        "aika_" + "a" * 15 + "_" + "a" * 52 + "_" + "a" * 7,  # short public id
        "aika_" + "a" * 16 + "_" + "a" * 52 + "_" + "a" * 8,  # long checksum
        "aika_" + "a" * 16 + "_" + "1" * 52 + "_" + "a" * 7,  # not base32
    ],
)
def test_text_that_is_not_a_token_is_malformed(text: str) -> None:
    with pytest.raises(MalformedKey):
        parse_token(text)


def test_truncated_token_is_malformed() -> None:
    token = generate_token("base").token
    with pytest.raises(MalformedKey):
        parse_token(token[:-3])


def test_stored_hash_depends_on_the_pepper_and_matches_only_its_secret() -> None:
    secret = generate_token("api").secret
    stored = hash_secret(secret, b"pepper-1")
    assert stored != hash_secret(secret, b"pepper-2")
    assert secret not in stored
    assert secret_matches(secret, stored, b"pepper-1")
    assert not secret_matches(secret, stored, b"pepper-2")
    assert not secret_matches(generate_token("api").secret, stored, b"pepper-1")
