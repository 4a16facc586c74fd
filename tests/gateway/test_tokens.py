"""The decision point's fast token parser says exactly what `aikom.core.keys.parse_token` says."""

from __future__ import annotations

import random

import pytest

from aikom.core.keys import KeyChecksumMismatch, MalformedKey, ParsedToken, generate_token, parse_token
from aikom.gateway.tokens import parse_presented

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def _core(token: str) -> ParsedToken | None:
    try:
        return parse_token(token)
    except (MalformedKey, KeyChecksumMismatch):
        return None


def _variants(rng: random.Random, token: str) -> list[str]:
    """The token and ways of spoiling it: each character replaced, dropped or doubled, case, spaces."""
    out = [token, token.upper(), f"  {token}\n", token + "a", token[:-1], token.replace("_", "-", 1), ""]
    for _ in range(40):
        i = rng.randrange(len(token))
        out.append(token[:i] + rng.choice(ALPHABET + "_0189AZ=") + token[i + 1 :])
        out.append(token[:i] + token[i + 1 :])
        out.append(token[:i] + token[i] + token[i:])
    return out


@pytest.mark.parametrize("kind", ["api", "base"])
def test_the_fast_parser_agrees_with_the_core_one(kind: str) -> None:
    rng = random.Random(kind)
    checked = accepted = 0
    for _ in range(200):
        for presented in _variants(rng, generate_token(kind).token):
            assert parse_presented(presented) == _core(presented), presented
            checked += 1
            accepted += _core(presented) is not None
    assert accepted >= 600  # the original, upper case and padded with spaces, 200 times
    assert checked > accepted * 10


def test_a_non_canonical_secret_is_refused_by_both() -> None:
    """The secret's last character carries 4 spare bits; set, they spell the same secret differently."""
    from aikom.core.keys import _checksum

    token = generate_token("api").token
    prefix, public_id, secret, _ = token.split("_")
    for last in ALPHABET:
        body = f"{prefix}_{public_id}_{secret[:-1]}{last}"
        presented = f"{body}_{_checksum(body)}"
        assert (parse_presented(presented) is None) == (_core(presented) is None) == (last not in "aq")


def test_the_checksum_is_spelled_as_the_core_spells_it() -> None:
    from aikom.core.keys import _checksum as core_checksum
    from aikom.gateway.tokens import _checksum

    for body in ("", "aika_x", *(generate_token("api").token[:-8] for _ in range(500))):
        assert _checksum(body) == core_checksum(body)
