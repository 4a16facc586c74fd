"""Benchmark: КЕП sign-in verifications per second (ECDSA P-256 and RSA-2048) against the demo PKI.

Run: .venv/bin/python bench/security_kep.py [--count 200]
Each verification is the full path a sign-in takes: parse the CMS, check the signature, build and
validate the chain to the trust list with both CRLs, check key usage, read the identity.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

from aikom.core import pki
from aikom.core.kep import Purpose, TrustList, averify_detached, verify_detached


def bench_sync(trust: TrustList, signature: bytes, challenge: bytes, count: int) -> float:
    """Seconds for `count` calls of the synchronous API (one event loop per call)."""
    started = time.perf_counter()
    for _ in range(count):
        result = verify_detached(signature, challenge, trust=trust, purpose=Purpose.SIGN_IN)
        assert result.ok, result.message_uk
    return time.perf_counter() - started


def bench_async(trust: TrustList, signature: bytes, challenge: bytes, count: int) -> float:
    """Seconds for `count` awaited calls inside one running event loop."""

    async def run() -> None:
        for _ in range(count):
            result = await averify_detached(signature, challenge, trust=trust, purpose=Purpose.SIGN_IN)
            assert result.ok, result.message_uk

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def main() -> None:
    """Print verifications/s for each key type."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200, help="verifications per key type")
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "pki"
        pki.init(directory)
        started = time.perf_counter()
        trust = TrustList.load(pki.trust_dir(directory))
        print(f"trust list load: {(time.perf_counter() - started) * 1000:.1f} ms")
        for key_type in pki.KeyType:
            person = pki.issue_person(
                directory,
                name="Шевченко Тарас Григорович",
                edrpou="12345678",
                rnokpp="1234567899",
                title="Директор",
                key_type=key_type,
            )
            challenge = f"АІКОМ вхід {secrets.token_hex(16)}".encode()
            signature = pki.sign_detached(person.key, person.certificate, challenge)
            bench_sync(trust, signature, challenge, 5)  # warm-up
            sync_seconds = bench_sync(trust, signature, challenge, count)
            async_seconds = bench_async(trust, signature, challenge, count)
            print(
                f"{key_type.value:>11}: {count / sync_seconds:7.0f} sign-in verifications/s "
                f"({sync_seconds / count * 1000:.2f} ms each; awaited in one loop: "
                f"{count / async_seconds:.0f}/s) over {count}"
            )


if __name__ == "__main__":
    main()
