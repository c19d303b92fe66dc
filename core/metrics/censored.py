"""Percentiles of durations some of which never ended (censored at +∞, never dropped).

Nearest-rank definition, exact: sort the n values ascending (+∞ last); the q-th percentile is the
value of rank ⌈q·n⌉ (1-based). With rational q the rank has no floating-point error (0.9·10 is
exactly 9), and no interpolation is ever needed between a finite value and +∞. So p50 is the lower
median, and p90 is +∞ as soon as more than 10 % of the items are still open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

INFINITY = math.inf


def percentile(values: Sequence[float], q: Fraction | int) -> float | None:
    """The nearest-rank `q`-quantile (q in (0, 1], or a percent 1–100 as an int); None if empty."""
    fraction = Fraction(q, 100) if isinstance(q, int) else Fraction(q)
    if not 0 < fraction <= 1:
        raise ValueError("a percentile is between 0 (exclusive) and 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[rank - 1]
