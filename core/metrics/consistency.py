"""The consistency index C_p in [0, 100] (docs/metrics.md §13): a weighted mean of the party's own
rates, shown with its components. A dyad gets C_p, C_q and |C_p − C_q|, never one merged score.

Only rates of what the party itself owed enter C_p. Account agreement is joint (it belongs to both
parties at once), so it is reported beside the index, not inside it. A component with no obligation
due in the window (denominator 0) is left out and the remaining weights are renormalised; the
components list says which were used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from core.metrics import METRICS_VERSION
from core.metrics.figures import Rate

#: Weights (sum 1). Hotline acknowledgement, check-call availability and counterparty
#: responsiveness are the core of "does this party pick up and respond", so they weigh most.
WEIGHTS: dict[str, Fraction] = {
    "ack_rate": Fraction(15, 100),
    "answer_rate": Fraction(10, 100),
    "check_call_availability": Fraction(15, 100),
    "call_responsiveness": Fraction(10, 100),
    "explanation_responsiveness": Fraction(10, 100),
    "reporting_timeliness": Fraction(10, 100),
    "counterparty_responsiveness": Fraction(15, 100),
    "inspection_acceptance": Fraction(5, 100),
    "inspection_reply_punctuality": Fraction(5, 100),
    "notification_lead_time": Fraction(5, 100),
}


@dataclass(frozen=True, kw_only=True)
class Component:
    metric: str
    weight: Fraction  # as documented, before renormalisation
    numerator: int
    denominator: int
    used: bool


@dataclass(frozen=True, kw_only=True)
class ConsistencyIndex:
    party: str
    counterpart: str | None
    exact: Fraction | None  # in [0, 100]; None when no component had anything due
    components: tuple[Component, ...]
    version: str = METRICS_VERSION

    @property
    def value(self) -> float | None:
        return None if self.exact is None else float(self.exact)


def consistency_index(party: str, rates: Mapping[str, Rate], *, counterpart: str | None = None) -> ConsistencyIndex:
    """C_p = 100 · Σ w_i r_i / Σ w_i over the components with a denominator > 0."""
    components: list[Component] = []
    total = weight = Fraction(0)
    for metric, w in WEIGHTS.items():
        found = rates.get(metric)
        used = found is not None and found.denominator > 0
        components.append(Component(metric=metric, weight=w, numerator=found.numerator if found else 0,
                                    denominator=found.denominator if found else 0, used=used))
        if used and found is not None:
            total += w * Fraction(found.numerator, found.denominator)
            weight += w
    return ConsistencyIndex(party=party, counterpart=counterpart,
                            exact=None if weight == 0 else 100 * total / weight, components=tuple(components))


@dataclass(frozen=True, kw_only=True)
class DyadConsistency:
    p: ConsistencyIndex  # p's behaviour toward q
    q: ConsistencyIndex  # q's behaviour toward p
    asymmetry: Fraction | None  # |C_p − C_q|; None unless both are defined
    version: str = METRICS_VERSION


def dyad_consistency(p: ConsistencyIndex, q: ConsistencyIndex) -> DyadConsistency:
    asymmetry = None if p.exact is None or q.exact is None else abs(p.exact - q.exact)
    return DyadConsistency(p=p, q=q, asymmetry=asymmetry)
