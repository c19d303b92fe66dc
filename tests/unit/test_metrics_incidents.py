"""Incident metrics, account agreement and Cohen's κ on hand-computed cases (docs/metrics.md §0, §6–§8)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from core.metrics import account_agreement as agr
from core.metrics import incidents as inc
from core.metrics.records import AccountVersion, IncidentRecord
from core.metrics.scope import Scope, everything, month

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def account(party: str, *, at: datetime = T0, version: int = 1, kind: str = "unsafe_encounter_sea",
            start: datetime = T0 - 3 * H, end: datetime = T0 - 2 * H, lat: float | None = 35.0,
            lon: float | None = 20.0, initiator: str = "AAA", severity: int = 3, casualties: int | None = 0,
            precision: str = "minute") -> AccountVersion:
    return AccountVersion(party=party, version=version, recorded_at=at, kind=kind, started_at=start, ended_at=end,
                          time_precision=precision, lat=lat, lon=lon, initiator=initiator, severity=severity,
                          casualties=casualties)


def incident(id: str, *accounts: AccountVersion, reporter: str = "AAA", parties: tuple[str, ...] = ("AAA", "BBB"),
             reported_at: datetime = T0, acknowledged: tuple[tuple[str, datetime], ...] = (),
             statuses: tuple[tuple[datetime, str], ...] = ()) -> IncidentRecord:
    return IncidentRecord(id=id, reporter=reporter, parties=parties, reported_at=reported_at,
                          accounts=accounts or (account(reporter, at=reported_at),),
                          acknowledged=acknowledged, statuses=statuses)


def scope(as_of: datetime, party: str | None = None, counterpart: str | None = None) -> Scope:
    return Scope(as_of=as_of, window=everything(as_of), party=party, counterpart=counterpart)


LATER = T0 + timedelta(days=30)


def test_incident_counts_breakdowns_and_filters() -> None:
    history = [
        incident("i1", account("AAA", initiator="BBB", severity=4, casualties=2)),
        incident("i2", account("AAA", initiator="unknown", kind="border_incident", casualties=None)),
        incident("i3", account("BBB", initiator="BBB", severity=4, casualties=1), reporter="BBB",
                 parties=("BBB", "CCC", "AAA")),
        incident("i4", account("AAA"), statuses=((T0 + H, "retracted"),)),
        incident("i5", account("AAA", at=LATER + H), reported_at=LATER + H),  # reported after as-of
    ]
    found = inc.incident_counts(history, scope(LATER))
    assert (found.total, found.ids) == (3, ("i1", "i2", "i3"))
    assert found.by_party == {"AAA": 3, "BBB": 3, "CCC": 1}
    assert found.by_ordered_pair == {"BBB->AAA": 2, "BBB->CCC": 1, "unknown->AAA": 1, "unknown->BBB": 1}
    assert found.by_unordered_pair == {"AAA-BBB": 3, "AAA-CCC": 1, "BBB-CCC": 1}
    assert found.by_kind == {"border_incident": 1, "unsafe_encounter_sea": 2}
    assert found.by_severity == {"3": 1, "4": 2}
    assert (found.casualties_known, found.casualties_unknown, found.casualties_total) == (2, 1, 3)
    assert found.by_status == {"reported": 3}
    assert inc.incident_counts(history, scope(LATER), where=inc.IncidentFilter(include_retracted=True)).total == 4
    assert inc.incident_counts(history, scope(LATER, "CCC")).ids == ("i3",)
    assert inc.incident_counts(history, scope(LATER, "AAA", "CCC")).ids == ("i3",)
    assert inc.incident_counts(history, scope(LATER), where=inc.IncidentFilter(severities=(4,))).ids == ("i1", "i3")
    assert inc.incident_counts(history, scope(LATER), where=inc.IncidentFilter(kinds=("border_incident",))).ids == ("i2",)
    # as of before the retraction, i4 is counted
    assert "i4" in inc.incident_counts(history, scope(T0 + timedelta(minutes=30))).ids


def test_counts_read_the_reporters_account_as_of_the_moment() -> None:
    amended = account("AAA", at=T0 + 2 * H, version=2, kind="border_incident",
                      start=datetime(2026, 2, 27, tzinfo=UTC), end=datetime(2026, 2, 27, 1, tzinfo=UTC))
    history = [incident("i1", account("AAA"), amended)]
    assert inc.incident_counts(history, scope(T0 + H)).by_kind == {"unsafe_encounter_sea": 1}
    assert inc.incident_counts(history, scope(T0 + 3 * H)).by_kind == {"border_incident": 1}
    # the window is read on the start time of the account in force: March before the amendment, February after
    march = Scope(as_of=T0 + 3 * H, window=month(2026, 3))
    assert inc.incident_counts(history, march).total == 0
    assert inc.incident_counts(history, Scope(as_of=T0 + 3 * H, window=month(2026, 2))).total == 1


def test_reporting_timeliness_uses_the_first_filed_end_time() -> None:
    history = [
        incident("r1", account("AAA", end=T0 - 2 * H)),  # 2 h
        incident("r2", account("AAA", end=T0 - 30 * H)),  # 30 h: late
        incident("r3", account("AAA", end=T0 - 24 * H)),  # exactly 24 h: on time
        incident("r4", account("AAA", end=T0 - 30 * H), account("AAA", version=2, at=T0 + H, end=T0 - H)),
        incident("r5", account("BBB"), reporter="BBB"),
    ]
    found = inc.reporting_timeliness(history, scope(LATER, "AAA"))
    assert (found.share.numerator, found.share.denominator, found.share.breaches) == (2, 4, ("r2", "r4"))
    # delays 2 h, 30 h, 24 h, 30 h → sorted 2, 24, 30, 30: p50 rank 2 = 24 h, p90 rank 4 = 30 h
    assert (found.delay.p50, found.delay.p90) == (24 * 3600.0, 30 * 3600.0)
    assert inc.reporting_timeliness(history, scope(LATER, "AAA", "CCC")).share.denominator == 0


def test_counterparty_responsiveness() -> None:
    d = timedelta(days=1)
    history = [
        incident("k1", account("AAA"), account("BBB", at=T0 + 3 * d), acknowledged=(("BBB", T0 + d),)),  # both
        incident("k2", account("AAA"), account("BBB", at=T0 + 8 * d), acknowledged=(("BBB", T0 + d),)),  # ca late
        incident("k3", account("AAA"), acknowledged=(("BBB", T0 + 3 * d),)),  # ack late, no account
        incident("k4", account("AAA"), statuses=((T0 + d, "retracted"),)),  # withdrawn in time: not counted
        incident("k5", account("AAA"), reported_at=T0 + 5 * d),  # not due yet as of T0 + 10 d
        incident("k6", account("AAA"), account("CCC", at=T0 + d), parties=("AAA", "BBB", "CCC"),
                 acknowledged=(("CCC", T0 + H),)),
    ]
    found = inc.counterparty_responsiveness(history, scope(T0 + 10 * d, "BBB"))
    assert (found.numerator, found.denominator) == (1, 4)
    assert found.counted == ("k1/BBB", "k2/BBB", "k3/BBB", "k6/BBB") and found.met == ("k1/BBB",)
    assert found.breakdown["acknowledged"].met == ("k1/BBB", "k2/BBB")
    assert found.breakdown["counter_account"].met == ("k1/BBB",)
    everyone = inc.counterparty_responsiveness(history, scope(T0 + 10 * d))
    assert everyone.met == ("k1/BBB", "k6/CCC") and everyone.denominator == 5
    assert inc.counterparty_responsiveness(history, scope(T0 + 10 * d, "BBB", "CCC")).denominator == 0


def test_haversine_against_known_distances() -> None:
    # one minute of latitude is one nautical mile (to within 0.5 % on the sphere)
    assert agr.haversine_m(35.0, 20.0, 35.0 + 1 / 60, 20.0) == pytest.approx(1852.0, rel=0.005)
    assert agr.haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * agr.EARTH_RADIUS_M, rel=1e-12)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, Fraction(1)),
    ({"kind": "border_incident"}, Fraction(4, 5)),
    ({"severity": 5}, Fraction(17, 20)),
    ({"start": T0 - 3 * H + timedelta(minutes=30)}, Fraction(1)),  # 30 min exactly is a match
    ({"start": T0 - 3 * H + timedelta(minutes=31)}, Fraction(3, 4)),
    ({"start": T0 - 5 * H, "precision": "day"}, Fraction(1)),  # day precision widens the tolerance
    ({"lat": 35.0 + 4.9 / 60}, Fraction(1)),  # ~4.9 NM
    ({"lat": 35.0 + 5.1 / 60}, Fraction(3, 4)),  # ~5.1 NM
    ({"lat": None, "lon": None}, Fraction(1)),  # position not comparable: left out of both sums
    ({"lat": None, "lon": None, "initiator": "BBB"}, Fraction(4, 5)),  # (1/4 + 1/5 + 3/20) / (3/4)
    ({"initiator": "unknown", "kind": "other", "severity": 1, "start": T0, "lat": 40.0}, Fraction(0)),
])
def test_account_agreement_score(changes: dict[str, object], expected: Fraction) -> None:
    a = account("AAA")
    b = account("BBB", **changes)  # type: ignore[arg-type]
    assert agr.score(agr.field_matches(a, b)) == expected


@pytest.mark.parametrize(("ratings", "kappa"), [
    ([], None),
    ([("a", "a"), ("b", "b")], Fraction(1)),
    ([("a", "a"), ("a", "a")], Fraction(1)),  # p_e = 1: agreement on a single category counts as κ = 1
    ([("a", "b"), ("b", "a")], Fraction(-1)),
    # textbook 2×2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → p_o = .7, p_e = .5, κ = .4
    ([("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15, Fraction(2, 5)),
])
def test_cohen_kappa(ratings: list[tuple[str, str]], kappa: Fraction | None) -> None:
    assert agr.cohen_kappa(ratings)[2] == kappa


def test_account_agreement_across_a_window() -> None:
    history = [
        incident("a1", account("AAA"), account("BBB", at=T0 + H)),
        incident("a2", account("AAA", severity=2), account("BBB", at=T0 + H, severity=4, initiator="BBB")),
        incident("a3", account("AAA"), account("BBB", at=LATER + H)),  # second account after as-of
        incident("a4", account("AAA"), account("BBB", at=T0 + H), account("CCC", at=T0 + H, kind="other"),
                 parties=("AAA", "BBB", "CCC")),
    ]
    found = agr.account_agreement(history, scope(LATER, "BBB", "AAA"))
    assert found.counted == ("a1/BBB/AAA", "a2/BBB/AAA", "a4/BBB/AAA")
    # scores 1, 1 − 3/20 − 3/20 = 7/10, 1 → mean 9/10
    assert found.mean_score == Fraction(9, 10)
    assert found.kappa["kind"].kappa == Fraction(1)  # all one kind on both sides
    # severity: BBB rates 3,4,3; AAA rates 3,2,3 → p_o = 2/3, p_e = (2/3·2/3) = 4/9 → κ = (2/9)/(5/9) = 2/5
    assert found.kappa["severity"].kappa == Fraction(2, 5)
    everyone = agr.account_agreement(history, scope(LATER))
    assert everyone.count == 5  # a1, a2, a4 × 3 pairs
    assert agr.account_agreement(history, scope(LATER, "CCC")).counted == ("a4/CCC/AAA", "a4/CCC/BBB")
