"""The per-token bucket: a burst, then the sustained rate, each token on its own."""

from __future__ import annotations

from adapters.http.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_per_key() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.5  # one token refills in 1/rate seconds
    assert buckets.take("b") == 0.0  # another token has its own bucket
    clock.now = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now = 100.0  # refills up to the burst, never beyond
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert buckets.take("a") > 0


def test_zero_rate_means_no_limit_and_old_keys_are_forgotten() -> None:
    assert all(TokenBuckets(rate=0, burst=1).take("a") == 0 for _ in range(1000))
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("a") == 0.0  # "a" was evicted, so it starts with a full bucket again
