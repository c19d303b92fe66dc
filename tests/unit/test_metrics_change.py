"""Change detection and the consistency index on hand-computed series (docs/metrics.md §12–§13)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.metrics.change import cusum, detect_shifts, zscores
from core.metrics.consistency import WEIGHTS, consistency_index, dyad_consistency
from core.metrics.figures import rate


def series(*values: float | None) -> list[tuple[str, float | None]]:
    return [(f"2026-{i + 1:02d}", v) for i, v in enumerate(values)]


def test_zscore_against_the_previous_k_months() -> None:
    points = zscores(series(1, 2, 3, 10), k=3)
    assert [p.z for p in points[:3]] == [None, None, None]
    # mean 2, sample sd 1 → z = 8
    assert (points[3].mean, points[3].sd, points[3].z, points[3].level) == (2.0, 1.0, 8.0, 1.5)
    assert zscores(series(1, 2, 3, 2.6), k=3)[3].level == 0.5
    assert zscores(series(1, 2, 3, 3.2), k=3)[3].level == 1.0
    assert zscores(series(1, 2, 3, 2.4), k=3)[3].level is None
    assert zscores(series(1, None, 3, 10), k=3)[3].z is None  # a gap in the history: no score
    assert zscores(series(2, 2, 2, 10), k=3)[3].z is None  # sd 0: no score


def test_cusum_alarms_on_a_sustained_shift_and_restarts() -> None:
    values = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0] + [13.0, 13.0, 13.0, 13.0, 11.0]
    mu, sigma, points = cusum(series(*values), baseline=6, k=0.5, h=4.0)
    # μ₀ = 11, σ₀ = √(6/5); each 13 adds 2 − σ₀/2 ≈ 1.4523 to S⁺; h·σ₀ ≈ 4.3818
    assert mu == 11.0 and sigma == pytest.approx((6 / 5) ** 0.5)
    step = 2.0 - 0.5 * sigma
    assert [p.high for p in points[6:10]] == pytest.approx([step, 2 * step, 3 * step, 4 * step])
    assert [p.alarm for p in points] == [None] * 9 + ["up", None]  # 3 steps ≈ 4.357 stay below h·σ₀
    assert points[10].high == 0.0  # restarted after the alarm, and 11 = μ₀ adds nothing


def test_cusum_needs_a_baseline() -> None:
    mu, sigma, points = cusum(series(1, 2), baseline=6)
    assert (mu, sigma) == (None, None) and all(p.alarm is None for p in points)


def test_detect_shifts_lists_month_and_metric() -> None:
    found = detect_shifts("ack_rate", series(0.9, 0.92, 0.91, 0.9, 0.92, 0.91, 0.3), k=6)
    assert [(s.metric, s.month, s.method, s.direction) for s in found] == [
        ("ack_rate", "2026-07", "cusum", "down"), ("ack_rate", "2026-07", "zscore", "down")]


def test_consistency_index_weights_and_renormalisation() -> None:
    assert sum(WEIGHTS.values()) == 1
    rates = {
        "ack_rate": rate("ack_rate", [("m1", True), ("m2", False)]),  # 1/2, weight 15
        "check_call_availability": rate("check_call_availability", [("s1", True)]),  # 1, weight 15
        "answer_rate": rate("answer_rate", []),  # nothing due: left out
    }
    found = consistency_index("BBB", rates)
    assert found.exact == Fraction(75)  # 100 · (15·½ + 15·1) / 30
    used = {c.metric for c in found.components if c.used}
    assert used == {"ack_rate", "check_call_availability"}
    assert consistency_index("BBB", {}).exact is None
    other = consistency_index("AAA", {"ack_rate": rate("ack_rate", [("x", True)])})
    dyad = dyad_consistency(found, other)
    assert dyad.asymmetry == Fraction(25)
    assert dyad_consistency(found, consistency_index("AAA", {})).asymmetry is None
