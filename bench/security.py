"""Benchmark of the security core: sign-in verifications/s, decision verifications/s, API key checks/s.

Run: .venv/bin/python bench/security.py [--count 200]
It runs bench/security_kep.py (sign-in verifications by key type), then decision verifications (the
canonical decision document, nonRepudiation required), then bench/security_keys.py (API key checks and
the audit chain, on a throwaway database).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import security_kep
import security_keys

from aikom.core import pki
from aikom.core.decisions import DecisionDocument
from aikom.core.kep import Purpose, TrustList, verify_detached


def decision_verifications(count: int) -> None:
    """Print decision verifications/s (ECDSA, the demo PKI's default)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "pki"
        pki.init(directory)
        trust = TrustList.load(pki.trust_dir(directory))
        person = pki.issue_person(
            directory,
            name="Мельник Андрій",
            edrpou="38621185",
            rnokpp="1234567899",
            title="Технічний адміністратор",
        )
        document = DecisionDocument.create(
            task=1, process=1, decision="approve", comment="Погоджено", actor=1
        ).to_bytes()
        signature = pki.sign_detached(person.key, person.certificate, document)
        started = time.perf_counter()
        for _ in range(count):
            result = verify_detached(signature, document, trust=trust, purpose=Purpose.DECISION)
            assert result.ok, result.message_uk
        seconds = time.perf_counter() - started
        rate, each_ms = count / seconds, seconds / count * 1000
        print(f"   decision: {rate:7.0f} decision verifications/s ({each_ms:.2f} ms each)")


def main() -> None:
    """Run the three measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count
    print("== sign-in verifications")
    sys.argv = [sys.argv[0], "--count", str(count)]
    security_kep.main()
    print("== decision verifications")
    decision_verifications(count)
    print("== API key checks and audit")
    sys.argv = [sys.argv[0]]
    security_keys.main()


if __name__ == "__main__":
    main()
