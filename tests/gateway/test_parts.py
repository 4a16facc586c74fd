"""The decision point's parts that need no server: rate buckets, the denial log, the production guard,
the keys the rules remember as checked."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from aikom.core.keys import compose_token, generate_token, hash_secret
from aikom.core.ois_catalogue import DEFAULT_PATH, get_catalogue
from aikom.gateway import denials as denials_module
from aikom.gateway.app import GatewaySecretNotSet, create_app
from aikom.gateway.decision import Rules
from aikom.gateway.denials import DenialLog
from aikom.gateway.ratelimit import TokenBuckets
from aikom.gateway.snapshot import GrantEntry, KeyEntry, OisEntry, Snapshot
from aikom.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=8, burst=5, clock=clock)
    assert [buckets.take("a") for _ in range(6)] == [True] * 5 + [False]
    assert buckets.take("b")  # another caller has its own bucket
    clock.now += 0.125  # one token back
    assert buckets.take("a")
    assert not buckets.take("a")
    clock.now += 10  # never more than the burst saved up
    assert sum(buckets.take("a") for _ in range(20)) == 5


def test_many_callers_do_not_grow_the_buckets_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from aikom.gateway import ratelimit

    monkeypatch.setattr(ratelimit, "MAX_CALLERS", 100)
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=1, clock=clock)
    for n in range(1000):
        assert buckets.take(f"caller-{n}")
        clock.now += 0.01
    assert len(buckets._buckets) <= 100


def test_denials_are_written_by_the_log_thread_and_a_flood_is_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(denials_module, "MAX_PENDING", 10)
    dropped: list[int] = []
    log = DenialLog(on_dropped=dropped.append)
    with caplog.at_level(logging.INFO, logger="aikom.gateway"):
        for n in range(25):
            log.record("no_grant", f"ois-{n}", "classes", "read", f"pub{n}")
        log.stop()  # writes what is pending
    lines = [line for r in caplog.records for line in r.getMessage().splitlines() if "denied" in line]
    assert len(lines) == 10
    assert "key=pub24" in lines[-1] and "client_id='ois-24'" in lines[-1]
    assert dropped == [15]
    assert "not logged (too many at once): 15" in caplog.text


def test_outside_demo_mode_the_demo_gateway_secret_is_refused() -> None:
    with pytest.raises(GatewaySecretNotSet) as refused:
        create_app(Settings(demo_mode=False, database_url="postgresql+psycopg://x@127.0.0.1:1/x"))
    assert "AIKOM_OIS_GATEWAY_SECRET" in refused.value.message_uk
    create_app(Settings(demo_mode=False, database_url="postgresql+psycopg://x@127.0.0.1:1/x",
                        ois_gateway_secret="a-real-one"))  # fmt: skip


# --- keys remembered as checked ---------------------------------------------------------------------


def _rules_and_snapshot() -> tuple[Rules, Snapshot, str, KeyEntry]:
    pepper = b"test-pepper"
    rules = Rules(get_catalogue(str(DEFAULT_PATH)), {"p1": pepper})
    snapshot = Snapshot()
    generated = generate_token("api")
    key = KeyEntry(1, 10, "api", generated.public_id, hash_secret(generated.secret, pepper), "p1", "active")
    snapshot.put_key(key)
    snapshot.accounts[10] = "active"
    ois = OisEntry(5, "journal", "connected", "receive")
    snapshot.ois_by_client["journal"] = snapshot.ois_by_id[5] = ois
    snapshot.grants[(1, 5)] = GrantEntry(7, 1, 5, frozenset({"classes"}))
    return rules, snapshot, generated.token, key


def _reason(rules: Rules, snapshot: Snapshot, token: str, data_set: str = "classes") -> str:
    decision = rules.decide(
        snapshot, token=token, client_id="journal", data_set=data_set, operation="read", now=time.time()
    )
    return decision.reason.value


def test_a_remembered_key_is_checked_again_once_its_row_changes() -> None:
    rules, snapshot, token, key = _rules_and_snapshot()
    assert _reason(rules, snapshot, token) == "allowed"
    assert _reason(rules, snapshot, token) == "allowed"  # remembered
    assert _reason(rules, snapshot, token, "transfer") == "reserved_data_set"
    snapshot.put_key(replace(key, state="deactivated"))
    assert _reason(rules, snapshot, token) == "key_deactivated"
    # Should a key's row ever get another hash, the remembered check does not outlive it.
    snapshot.put_key(replace(key, secret_hash=bytes(32)))
    assert _reason(rules, snapshot, token) == "key_unknown"
    snapshot.drop_key(key.id)
    assert _reason(rules, snapshot, token) == "key_unknown"


def test_a_wrong_secret_for_a_remembered_key_is_never_let_through() -> None:
    rules, snapshot, token, key = _rules_and_snapshot()
    assert _reason(rules, snapshot, token) == "allowed"
    forged = compose_token("api", key.public_id, bytes(32))  # right public id and checksum, wrong secret
    assert _reason(rules, snapshot, forged) == "key_unknown"
    assert _reason(rules, snapshot, forged) == "key_unknown"
    assert _reason(rules, snapshot, token) == "allowed"


def test_no_plaintext_key_is_kept_in_memory_by_the_rules() -> None:
    rules, snapshot, token, _ = _rules_and_snapshot()
    assert _reason(rules, snapshot, token) == "allowed"
    secret_part = token.split("_")[2]
    kept = repr(vars(rules)).encode() + b"".join(vars(rules)["_verified"])
    assert secret_part.encode() not in kept and token.encode() not in kept
