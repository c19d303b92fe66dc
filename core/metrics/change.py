"""Change detection on monthly series (docs/metrics.md §12): z-score against the previous k months
(VRA-style flags at |z| ≥ 0.5, 1.0, 1.5) and a two-sided tabular CUSUM.

A month with no value (None: nothing fell due) is skipped by CUSUM and breaks the z-score's
k-month history, so a score is only ever computed from k observed consecutive months.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from core.metrics import METRICS_VERSION

Z_LEVELS = (0.5, 1.0, 1.5)


@dataclass(frozen=True, kw_only=True)
class ZPoint:
    label: str
    value: float | None
    mean: float | None
    sd: float | None
    z: float | None
    level: float | None  # the highest of Z_LEVELS that |z| reaches


def zscores(series: Sequence[tuple[str, float | None]], *, k: int = 6) -> list[ZPoint]:
    """z_t = (x_t − mean(x_{t−k..t−1})) / sd(x_{t−k..t−1}), sample sd (k − 1); None when any of the
    k previous months is missing, when sd = 0, or when x_t is missing."""
    if k < 2:
        raise ValueError("the z-score needs at least 2 previous months")
    points: list[ZPoint] = []
    for t, (label, value) in enumerate(series):
        history = [v for _, v in series[max(0, t - k):t]]
        if value is None or len(history) < k or any(v is None for v in history):
            points.append(ZPoint(label=label, value=value, mean=None, sd=None, z=None, level=None))
            continue
        observed = [float(v) for v in history if v is not None]
        mean, sd = statistics.fmean(observed), statistics.stdev(observed)
        z = None if sd == 0 else (value - mean) / sd
        level = None if z is None else max((lv for lv in Z_LEVELS if abs(z) >= lv), default=None)
        points.append(ZPoint(label=label, value=value, mean=mean, sd=sd, z=z, level=level))
    return points


@dataclass(frozen=True, kw_only=True)
class CusumPoint:
    label: str
    value: float | None
    high: float  # S⁺ at this month (before the restart, if it alarmed)
    low: float  # S⁻
    alarm: str | None  # "up" | "down" | None


def cusum(series: Sequence[tuple[str, float | None]], *, baseline: int = 6, k: float = 0.5,
          h: float = 4.0) -> tuple[float | None, float | None, list[CusumPoint]]:
    """Two-sided CUSUM: S⁺_t = max(0, S⁺_{t−1} + x_t − μ₀ − kσ₀), S⁻_t = max(0, S⁻_{t−1} + μ₀ − x_t − kσ₀);
    alarm when S > hσ₀, then both sums restart at 0. μ₀, σ₀ (sample sd) come from the first
    `baseline` observed months, which are not themselves tested. Returns (μ₀, σ₀, points)."""
    observed = [v for _, v in series if v is not None]
    if len(observed) < max(2, baseline):
        return None, None, [CusumPoint(label=label, value=v, high=0.0, low=0.0, alarm=None) for label, v in series]
    reference = [float(v) for v in observed[:baseline]]
    mu, sigma = statistics.fmean(reference), statistics.stdev(reference)
    high = low = 0.0
    seen = 0
    points: list[CusumPoint] = []
    for label, value in series:
        if value is None or seen < baseline:
            seen += value is not None
            points.append(CusumPoint(label=label, value=value, high=high, low=low, alarm=None))
            continue
        high = max(0.0, high + value - mu - k * sigma)
        low = max(0.0, low + mu - value - k * sigma)
        alarm = "up" if high > h * sigma else "down" if low > h * sigma else None
        points.append(CusumPoint(label=label, value=value, high=high, low=low, alarm=alarm))
        if alarm:
            high = low = 0.0
    return mu, sigma, points


@dataclass(frozen=True, kw_only=True)
class Shift:
    metric: str
    month: str
    method: str  # "zscore" | "cusum"
    direction: str  # "up" | "down"
    statistic: float  # z, or the CUSUM sum that crossed h·σ₀
    version: str = METRICS_VERSION


def detect_shifts(metric: str, series: Sequence[tuple[str, float | None]], *, k: int = 6,
                  z_threshold: float = 1.5, baseline: int = 6, cusum_k: float = 0.5,
                  cusum_h: float = 4.0) -> list[Shift]:
    """Every month where |z| ≥ `z_threshold` or CUSUM alarms, in month order."""
    found: list[Shift] = []
    for point in zscores(series, k=k):
        if point.z is not None and abs(point.z) >= z_threshold:
            found.append(Shift(metric=metric, month=point.label, method="zscore",
                               direction="up" if point.z > 0 else "down", statistic=point.z))
    for point in cusum(series, baseline=baseline, k=cusum_k, h=cusum_h)[2]:
        if point.alarm:
            found.append(Shift(metric=metric, month=point.label, method="cusum", direction=point.alarm,
                               statistic=point.high if point.alarm == "up" else point.low))
    return sorted(found, key=lambda s: (s.month, s.method))
