"""Agreement between two parties' accounts of the same incident (docs/metrics.md §8).

Per pair of accounts: A = Σ w_f·match_f / Σ w_f over the fields both accounts let us compare.
Across a window: the mean of A, and Cohen's κ per categorical field (kind, initiator, severity)
with the scope's party as rater A. Accounts are read as they stood at the as-of moment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

from core.metrics import METRICS_VERSION
from core.metrics.records import AccountVersion, IncidentRecord
from core.metrics.scope import Scope

#: Field weights (sum 1): when and where are what both sides' instruments record, so they weigh
#: most; kind next; who initiated and how severe are judgements, so they weigh least.
WEIGHTS: dict[str, Fraction] = {
    "time": Fraction(1, 4), "position": Fraction(1, 4), "kind": Fraction(1, 5),
    "initiator": Fraction(3, 20), "severity": Fraction(3, 20),
}
TIME_TOLERANCE = timedelta(minutes=30)
#: A coarser stated precision widens the time tolerance to the precision's span.
PRECISION_SPAN = {"minute": timedelta(0), "hour": timedelta(hours=1), "day": timedelta(days=1),
                  "month": timedelta(days=31)}
POSITION_TOLERANCE_M = 5 * 1852.0  # 5 nautical miles
EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
CATEGORICAL = ("kind", "initiator", "severity")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def field_matches(a: AccountVersion, b: AccountVersion) -> dict[str, bool | None]:
    """Each field's match; None when it cannot be compared (a position missing on either side)."""
    tolerance = max(TIME_TOLERANCE, PRECISION_SPAN.get(a.time_precision, timedelta(0)),
                    PRECISION_SPAN.get(b.time_precision, timedelta(0)))
    time = abs(a.started_at - b.started_at) <= tolerance and abs(a.ended_at - b.ended_at) <= tolerance
    position: bool | None = None
    if None not in (a.lat, a.lon, b.lat, b.lon):
        position = haversine_m(a.lat, a.lon, b.lat, b.lon) <= POSITION_TOLERANCE_M  # type: ignore[arg-type]
    return {"time": time, "position": position, "kind": a.kind == b.kind,
            "initiator": a.initiator == b.initiator, "severity": a.severity == b.severity}


def score(matches: dict[str, bool | None]) -> Fraction:
    return _score(tuple(matches[f] for f in WEIGHTS))


@lru_cache(maxsize=None)
def _score(matched: tuple[bool | None, ...]) -> Fraction:
    """The score of one combination of field matches: there are at most 2⁴·3 of them, and the
    exact sums of `Fraction`s were a fifth of a dyad report's time (two reports a request)."""
    comparable = [(w, m) for w, m in zip(WEIGHTS.values(), matched) if m is not None]
    return sum((w for w, m in comparable if m), Fraction(0)) / sum(w for w, _ in comparable)


@dataclass(frozen=True, kw_only=True)
class PairAgreement:
    id: str  # incident/A/B, A the rater-A party
    incident_id: str
    rater_a: str
    rater_b: str
    score: Fraction
    matches: dict[str, bool | None]
    a: AccountVersion
    b: AccountVersion


@dataclass(frozen=True, kw_only=True)
class Kappa:
    field: str
    n: int
    observed: Fraction | None  # p_o
    expected: Fraction | None  # p_e
    kappa: Fraction | None  # (p_o − p_e)/(1 − p_e); 1 when p_e = 1 (then p_o = 1); None when n = 0


@dataclass(frozen=True, kw_only=True)
class AgreementSummary:
    metric: str
    count: int
    mean_score: Fraction | None
    pairs: tuple[PairAgreement, ...]
    kappa: dict[str, Kappa]
    version: str = METRICS_VERSION

    @property
    def counted(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.pairs)


def cohen_kappa(ratings: Sequence[tuple[object, object]]) -> tuple[Fraction | None, Fraction | None, Fraction | None]:
    """(p_o, p_e, κ) for two raters' labels of the same items, exactly."""
    n = len(ratings)
    if n == 0:
        return None, None, None
    observed = Fraction(sum(1 for x, y in ratings if x == y), n)
    left, right = Counter(str(x) for x, _ in ratings), Counter(str(y) for _, y in ratings)
    expected = sum((Fraction(left[c] * right[c], n * n) for c in left), Fraction(0))
    if expected == 1:
        return observed, expected, Fraction(1)
    return observed, expected, (observed - expected) / (1 - expected)


def _pairs(incident: IncidentRecord, scope: Scope) -> Iterable[tuple[str, str]]:
    holders = sorted({a.party for a in incident.accounts if a.recorded_at <= scope.as_of})
    for x, y in combinations(holders, 2):
        if scope.party is None:
            if scope.counterpart is None or scope.counterpart in (x, y):
                yield x, y
        elif scope.party in (x, y):
            other = y if x == scope.party else x
            if scope.counterpart is None or other == scope.counterpart:
                yield scope.party, other


def account_agreement(incidents: Iterable[IncidentRecord], scope: Scope) -> AgreementSummary:
    """§8 over incidents reported in the window with at least two accounts filed by as-of."""
    pairs: list[PairAgreement] = []
    for incident in incidents:
        if incident.reported_at > scope.as_of or not scope.window.holds(incident.reported_at):
            continue
        for x, y in _pairs(incident, scope):
            a, b = incident.account(x, scope.as_of), incident.account(y, scope.as_of)
            assert a is not None and b is not None
            matches = field_matches(a, b)
            pairs.append(PairAgreement(id=f"{incident.id}/{x}/{y}", incident_id=incident.id, rater_a=x, rater_b=y,
                                       score=score(matches), matches=matches, a=a, b=b))
    pairs.sort(key=lambda p: p.id)
    kappa = {}
    for name in CATEGORICAL:
        observed, expected, value = cohen_kappa([(getattr(p.a, name), getattr(p.b, name)) for p in pairs])
        kappa[name] = Kappa(field=name, n=len(pairs), observed=observed, expected=expected, kappa=value)
    mean = sum((p.score for p in pairs), Fraction(0)) / len(pairs) if pairs else None
    return AgreementSummary(metric="account_agreement", count=len(pairs), mean_score=mean, pairs=tuple(pairs),
                            kappa=kappa)
