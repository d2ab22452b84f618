"""Token buckets, per API key and per client address for failed authentication.

Buckets live in the API process: with several replicas each enforces its own share, which
bounds a key at (replicas × rate) — good enough to stop a runaway client without a shared
counter on the hot path. Failed authentication is limited per address *before* any key is
looked up, so a client rotating random keys cannot get a fresh bucket per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_TRACKED = 100_000  # buckets kept; the least recently used are dropped beyond this


class TokenBuckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, rate_per_minute: float, burst: float) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is free."""
        rate = rate_per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - stamp) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate if rate > 0 else math.inf
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > MAX_TRACKED:
                self._buckets.popitem(last=False)
        return wait

    def peek(self, key: str, rate_per_minute: float, burst: float) -> float:
        """Seconds until `key` has a token (0 when it has one now), taking nothing."""
        rate = rate_per_minute / 60.0
        with self._lock:
            tokens, stamp = self._buckets.get(key, (burst, self._clock()))
        tokens = min(burst, tokens + (self._clock() - stamp) * rate)
        if tokens >= 1.0:
            return 0.0
        return (1.0 - tokens) / rate if rate > 0 else math.inf


def retry_after_seconds(wait: float) -> int:
    """`Retry-After` is whole seconds: round up so a client that obeys it is let in."""
    return max(1, math.ceil(min(wait, 3600.0)))
