"""Per-caller token buckets (no library for this is pinned; this is the classic algorithm, lock-free
because the decision point's event loop is single-threaded)."""

from __future__ import annotations

import time
from collections.abc import Callable

# Beyond this many callers, buckets that are full again (idle callers) are forgotten.
MAX_CALLERS = 10_000


class TokenBuckets:
    """`rate` tokens per second per caller, at most `burst` saved up; a request takes one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # caller → [tokens, last refill]

    def take(self, caller: str) -> bool:
        """Whether `caller` may make one more request now."""
        now = self.clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= MAX_CALLERS:
                self._forget_idle(now)
            bucket = self._buckets[caller] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate if self.rate > 0 else float("inf")
        for caller, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[caller]
        if len(self._buckets) >= MAX_CALLERS:
            self._buckets.clear()
