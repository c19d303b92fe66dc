"""Laws the metric definitions must obey for every history (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics import account_agreement as agr
from core.metrics import hotline as h
from core.metrics.censored import percentile
from core.metrics.consistency import consistency_index
from core.metrics.records import AccountVersion, CheckCallRecord, MessageRecord
from core.metrics.report import Histories, rates
from core.metrics.scope import Scope, everything, rolling

T0 = datetime(2026, 3, 2, tzinfo=UTC)
PARTIES = ("AAA", "BBB", "CCC")
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)
#: The machine is shared: fewer, deadline-free examples keep the laws fast and never flaky.
LAWS = settings(max_examples=40, deadline=None)


@st.composite
def messages(draw: st.DrawFn, prefix: str = "m") -> list[MessageRecord]:
    found = []
    for n in range(draw(st.integers(min_value=0, max_value=12))):
        sender, recipient = draw(st.permutations(PARTIES))[:2]
        sent = T0 + timedelta(minutes=draw(minutes))
        ack_in = timedelta(minutes=draw(st.integers(min_value=1, max_value=600)))
        answer_in = ack_in + timedelta(minutes=draw(st.integers(min_value=0, max_value=600)))
        ack = draw(st.none() | st.integers(min_value=0, max_value=1200))
        answer = draw(st.none() | st.integers(min_value=0, max_value=1800))
        found.append(MessageRecord(
            id=f"{prefix}{n}", from_party=sender, to_party=recipient,
            precedence=draw(st.sampled_from(h.PRECEDENCES)), sent_at=sent, ack_due=sent + ack_in,
            answer_due=sent + answer_in, answer_required=draw(st.booleans()),
            acknowledged_at=None if ack is None else sent + timedelta(minutes=ack),
            answered_at=None if answer is None else sent + timedelta(minutes=answer),
        ))
    return found


as_ofs = st.integers(min_value=0, max_value=5 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
party = st.none() | st.sampled_from(PARTIES)


def scope(as_of: datetime, who: str | None = None) -> Scope:
    return Scope(as_of=as_of, window=everything(as_of), party=who)


@LAWS
@given(messages(), as_ofs, party)
def test_rates_are_fractions_of_their_counted_records(history: list[MessageRecord], as_of: datetime,
                                                      who: str | None) -> None:
    for found in (h.ack_rate(history, scope(as_of, who)), h.answer_rate(history, scope(as_of, who))):
        assert 0 <= found.numerator <= found.denominator == len(found.counted)
        assert set(found.met) <= set(found.counted)
        assert found.value is None or 0.0 <= found.value <= 1.0
        assert sum(r.denominator for r in found.breakdown.values()) == found.denominator


@LAWS
@given(messages(), as_ofs)
def test_no_deadline_after_as_of_is_counted(history: list[MessageRecord], as_of: datetime) -> None:
    by_id = {m.id: m for m in history}
    assert all(by_id[i].ack_due <= as_of for i in h.ack_rate(history, scope(as_of)).counted)
    assert all(by_id[i].answer_due <= as_of for i in h.answer_rate(history, scope(as_of)).counted)


@LAWS
@given(messages(), as_ofs, as_ofs)
def test_an_earlier_as_of_is_a_prefix_whose_outcomes_never_change(history: list[MessageRecord], a: datetime,
                                                                  b: datetime) -> None:
    """What was served at an earlier moment is never contradicted later: the counted records only
    grow, and each one's outcome (met or breached) stays. That is what makes as-of reproducible."""
    early, late = min(a, b), max(a, b)
    window = rolling(T0 + timedelta(days=6), 30)
    for metric in (h.ack_rate, h.answer_rate):
        before = metric(history, Scope(as_of=early, window=window))
        after = metric(history, Scope(as_of=late, window=window))
        assert set(before.counted) <= set(after.counted)
        assert set(before.met) == set(after.met) & set(before.counted)


@LAWS
@given(messages(), as_ofs, st.sampled_from(PARTIES), st.sampled_from(PARTIES), st.integers(min_value=1, max_value=600))
def test_an_unacknowledged_message_never_raises_the_ack_rate(history: list[MessageRecord], as_of: datetime,
                                                             sender: str, recipient: str, ack_in: int) -> None:
    sent = as_of - timedelta(minutes=ack_in)
    extra = MessageRecord(id="zz", from_party=sender, to_party=recipient, precedence="FLASH", sent_at=sent,
                          ack_due=sent + timedelta(minutes=ack_in), answer_due=sent + timedelta(minutes=ack_in))
    before = h.ack_rate(history, scope(as_of))
    after = h.ack_rate([*history, extra], scope(as_of))
    assert after.denominator == before.denominator + 1
    assert before.exact is None or after.exact is not None and after.exact <= before.exact
    lat = h.ack_latency([*history, extra], scope(as_of)).overall
    assert "zz" in lat.censored


@LAWS
@given(messages(), as_ofs)
def test_latency_censors_exactly_the_unacknowledged(history: list[MessageRecord], as_of: datetime) -> None:
    found = h.ack_latency(history, scope(as_of)).overall
    by_id = {m.id: m for m in history}
    expected = {i for i in found.counted if by_id[i].acknowledged_at is None or by_id[i].acknowledged_at > as_of}
    assert set(found.censored) == expected
    if found.count:
        assert found.p50 is not None and found.p90 is not None and found.p50 <= found.p90
        assert (found.p90 == math.inf) == (len(expected) > found.count - math.ceil(0.9 * found.count))


@LAWS
@given(messages(), as_ofs)
def test_parties_partition_the_system_wide_figure(history: list[MessageRecord], as_of: datetime) -> None:
    total = h.ack_rate(history, scope(as_of))
    parts = [h.ack_rate(history, scope(as_of, p)) for p in PARTIES]
    assert sum(p.denominator for p in parts) == total.denominator
    assert sum(p.numerator for p in parts) == total.numerator


@LAWS
@given(st.lists(st.floats(min_value=0, max_value=1e6) | st.just(math.inf), min_size=1, max_size=30),
       st.integers(min_value=1, max_value=100))
def test_percentile_is_one_of_the_values_and_monotone(values: list[float], q: int) -> None:
    found = percentile(values, q)
    assert found in values
    assert percentile(values, max(1, q - 10)) <= found <= percentile(values, 100) == max(values)  # type: ignore[operator]


@LAWS
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=40))
def test_kappa_is_one_for_identical_ratings(labels: list[str]) -> None:
    assert agr.cohen_kappa([(x, x) for x in labels])[2] == 1


@LAWS
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=40))
def test_kappa_is_at_most_one_and_symmetric_in_the_raters(pairs: list[tuple[str, str]]) -> None:
    kappa = agr.cohen_kappa(pairs)[2]
    assert kappa is not None and kappa <= 1
    assert agr.cohen_kappa([(y, x) for x, y in pairs])[2] == kappa


accounts = st.builds(
    AccountVersion, party=st.just("AAA"), version=st.just(1), recorded_at=st.just(T0),
    kind=st.sampled_from(["unsafe_encounter_sea", "border_incident"]),
    started_at=st.integers(0, 120).map(lambda m: T0 - timedelta(minutes=m)),
    ended_at=st.integers(0, 120).map(lambda m: T0 + timedelta(minutes=m)),
    time_precision=st.sampled_from(["minute", "hour", "day"]),
    lat=st.none() | st.floats(min_value=-89, max_value=89), lon=st.floats(min_value=-179, max_value=179),
    initiator=st.sampled_from(["AAA", "BBB", "unknown"]), severity=st.integers(1, 5),
)


@LAWS
@given(accounts, accounts)
def test_agreement_score_is_symmetric_and_bounded(a: AccountVersion, b: AccountVersion) -> None:
    score = agr.score(agr.field_matches(a, b))
    assert 0 <= score <= 1
    assert score == agr.score(agr.field_matches(b, a))
    assert agr.score(agr.field_matches(a, a)) == 1


@st.composite
def slots(draw: st.DrawFn) -> list[CheckCallRecord]:
    found = []
    for n in range(draw(st.integers(min_value=0, max_value=20))):
        start = T0 + timedelta(hours=12 * n)
        found.append(CheckCallRecord(slot_id=f"s{n:02d}", party="BBB", caller="AAA", slot_start=start,
                                     window_end=start + timedelta(minutes=5),
                                     answered_at=start + timedelta(minutes=1) if draw(st.booleans()) else None))
    return found


@LAWS
@given(slots(), as_ofs)
def test_streaks_are_bounded_by_the_misses(history: list[CheckCallRecord], as_of: datetime) -> None:
    availability = h.check_call_availability(history, scope(as_of, "BBB"))
    streak = h.missed_streaks(history, scope(as_of, "BBB"))
    misses = availability.denominator - availability.numerator
    assert streak.current <= streak.longest <= misses
    assert (streak.longest == 0) == (misses == 0)
    assert streak.counted == availability.denominator


@LAWS
@given(messages(), slots(), as_ofs, st.sampled_from(PARTIES))
def test_consistency_index_is_within_0_and_100(history: list[MessageRecord], checks: list[CheckCallRecord],
                                               as_of: datetime, who: str) -> None:
    found = consistency_index(who, rates(Histories(messages=history, check_calls=checks), scope(as_of, who)))
    assert found.exact is None or 0 <= found.exact <= 100
    assert (found.exact is None) == (not any(c.used for c in found.components))
