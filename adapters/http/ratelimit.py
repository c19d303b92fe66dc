"""Per-token rate limit: a token bucket per API token, in this process's memory.

Each token may make `burst` requests at once and `rate` per second sustained. The buckets are
per process: N API processes behind a load balancer allow up to N × the rate in total (see
docs/security.md); that bounds a runaway client, which is what this is for. A shared limit
would need a shared store (NATS KV, Redis) and is not worth a network round trip per request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable


@dataclass(kw_only=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """`take(key)` → 0 when the request may go ahead, else the seconds to wait."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
            if len(self._buckets) > self._max_keys:  # forget the least recently used token
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
