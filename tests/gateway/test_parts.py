"""The decision point's parts that need no server: rate buckets, the denial log, the production guard."""

from __future__ import annotations

import logging

import pytest

from aikom.gateway import denials as denials_module
from aikom.gateway.app import GatewaySecretNotSet, create_app
from aikom.gateway.denials import DenialLog
from aikom.gateway.ratelimit import TokenBuckets
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
