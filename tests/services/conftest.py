"""Service tests that sign: the session's test PKI and its trust list as it is now."""

from __future__ import annotations

from pathlib import Path

import pytest

from aikom.core.kep import TrustList
from tests.signing import SigningPki


@pytest.fixture
def pki_dir(signing_pki: SigningPki) -> Path:
    """The folder of the session's test PKI."""
    return signing_pki.directory


@pytest.fixture
def trust(signing_pki: SigningPki) -> TrustList:
    """The trust list loaded now (after any revocation a test made)."""
    return TrustList.load(signing_pki.trust_dir)
