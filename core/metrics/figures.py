"""The shapes every metric returns: explainable (numerator, denominator) and traceable (record ids).

A `Rate` with denominator 0 has `value` None: "no obligation fell due", which is not 0 % and not
100 %. A `Latency` reports +∞ (`math.inf`) where the percentile falls on an item still open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from core.metrics import METRICS_VERSION
from core.metrics.censored import percentile


@dataclass(frozen=True, kw_only=True)
class Rate:
    metric: str
    numerator: int
    denominator: int
    counted: tuple[str, ...]  # ids in the denominator, sorted
    met: tuple[str, ...]  # ids in the numerator, sorted
    version: str = METRICS_VERSION
    breakdown: Mapping[str, "Rate"] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    @property
    def exact(self) -> Fraction | None:
        return None if self.denominator == 0 else Fraction(self.numerator, self.denominator)

    @property
    def breaches(self) -> tuple[str, ...]:
        """The counted records that missed: the drill-down ("which messages were late")."""
        met = set(self.met)
        return tuple(i for i in self.counted if i not in met)


def rate(metric: str, outcomes: Iterable[tuple[str, bool]], *, breakdown: Mapping[str, Rate] | None = None) -> Rate:
    """A rate from (record id, met?) pairs."""
    pairs = sorted(outcomes)
    return Rate(
        metric=metric, numerator=sum(1 for _, ok in pairs if ok), denominator=len(pairs),
        counted=tuple(i for i, _ in pairs), met=tuple(i for i, ok in pairs if ok),
        breakdown=dict(breakdown or {}),
    )


@dataclass(frozen=True, kw_only=True)
class Latency:
    """p50 and p90 of durations in seconds; `censored` are the ids counted at +∞."""

    metric: str
    count: int
    p50: float | None
    p90: float | None
    counted: tuple[str, ...]
    censored: tuple[str, ...]
    version: str = METRICS_VERSION


def latency(metric: str, durations: Iterable[tuple[str, float]]) -> Latency:
    """Percentiles from (record id, seconds or math.inf) pairs."""
    pairs = sorted(durations)
    values = [seconds for _, seconds in pairs]
    return Latency(
        metric=metric, count=len(pairs), p50=percentile(values, 50), p90=percentile(values, 90),
        counted=tuple(i for i, _ in pairs), censored=tuple(i for i, s in pairs if s == float("inf")),
    )
