"""Hotline metrics on small hand-computed histories (docs/metrics.md §1–§5)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from core.metrics import METRICS_VERSION
from core.metrics import hotline as h
from core.metrics.censored import percentile
from core.metrics.records import CallRequestRecord, CheckCallRecord, ExplanationRecord, MessageRecord
from core.metrics.scope import Scope, everything, month, rolling

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def msg(id: str, *, at: timedelta = timedelta(0), ack: timedelta | None = None, answer: timedelta | None = None,
        precedence: str = "FLASH", ack_in: timedelta = 10 * MIN, answer_in: timedelta = 60 * MIN,
        frm: str = "AAA", to: str = "BBB", required: bool = True) -> MessageRecord:
    sent = T0 + at
    return MessageRecord(id=id, from_party=frm, to_party=to, precedence=precedence, sent_at=sent,
                         ack_due=sent + ack_in, answer_due=sent + answer_in, answer_required=required,
                         acknowledged_at=None if ack is None else sent + ack,
                         answered_at=None if answer is None else sent + answer)


def scope(as_of: datetime, party: str | None = "BBB", counterpart: str | None = None) -> Scope:
    return Scope(as_of=as_of, window=everything(as_of), party=party, counterpart=counterpart)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None),
    ([5.0], 50, 5.0),
    ([1.0, 2.0], 50, 1.0),  # lower median: rank ⌈0.5·2⌉ = 1
    ([3.0, 1.0, 2.0], 50, 2.0),
    ([float(i) for i in range(1, 11)], 90, 9.0),  # rank ⌈0.9·10⌉ = 9 exactly, not 10
    ([float(i) for i in range(1, 12)], 90, 10.0),  # rank ⌈9.9⌉ = 10
    ([1.0, math.inf], 50, 1.0),
    ([1.0, math.inf, math.inf], 50, math.inf),
    ([1.0] * 9 + [math.inf], 90, 1.0),
    ([1.0] * 8 + [math.inf] * 2, 90, math.inf),
])
def test_nearest_rank_percentile_with_censored_values(values: list[float], q: int, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


HISTORY = [
    msg("m1", ack=5 * MIN, answer=30 * MIN),  # on time, on time
    msg("m2", ack=12 * MIN, answer=90 * MIN),  # late, late
    msg("m3"),  # never: breach, +∞
    msg("m4", precedence="ROUTINE", ack_in=6 * 60 * MIN, answer_in=24 * 60 * MIN, ack=60 * MIN),  # on time, no answer
    msg("m5", frm="BBB", to="AAA", ack=1 * MIN),  # owed by AAA, not BBB
    msg("m6", ack=2 * MIN, required=False),  # no answer needed
]


@pytest.mark.parametrize(("as_of", "numerator", "denominator", "breaches"), [
    (T0 + 9 * MIN, 0, 0, ()),  # no deadline has passed yet: nothing counted, not even m1 acked in time
    (T0 + 10 * MIN, 2, 4, ("m2", "m3")),  # FLASH deadlines pass at exactly +10 min; m2's ack (+12) not yet known
    (T0 + 11 * MIN, 2, 4, ("m2", "m3")),
    (T0 + 7 * 60 * MIN, 3, 5, ("m2", "m3")),  # ROUTINE m4 due at +6 h now counted; m2 stays late
])
def test_ack_rate_counts_only_passed_deadlines(as_of: datetime, numerator: int, denominator: int,
                                               breaches: tuple[str, ...]) -> None:
    found = h.ack_rate(HISTORY, scope(as_of))
    assert (found.numerator, found.denominator, found.breaches) == (numerator, denominator, breaches)
    assert found.version == METRICS_VERSION


def test_ack_rate_hand_computed_with_breakdown() -> None:
    found = h.ack_rate(HISTORY, scope(T0 + 7 * 60 * MIN))
    assert (found.numerator, found.denominator, found.value) == (3, 5, 0.6)
    assert found.counted == ("m1", "m2", "m3", "m4", "m6") and found.met == ("m1", "m4", "m6")
    assert found.breaches == ("m2", "m3")
    assert (found.breakdown["FLASH"].numerator, found.breakdown["FLASH"].denominator) == (2, 4)
    assert (found.breakdown["ROUTINE"].numerator, found.breakdown["ROUTINE"].denominator) == (1, 1)
    assert found.breakdown["PRIORITY"].value is None


def test_an_ack_after_as_of_is_not_yet_known() -> None:
    assert h.ack_rate([msg("m1", ack=5 * MIN)], scope(T0 + 10 * MIN)).met == ("m1",)
    # acknowledged at +5 min but the as-of is +4 min: its deadline has not passed either, so not counted
    assert h.ack_rate([msg("m1", ack=5 * MIN)], scope(T0 + 4 * MIN)).denominator == 0
    # the ack came (late) at +20 min, as of +15 min it is a breach and +∞
    assert h.ack_rate([msg("m1", ack=20 * MIN)], scope(T0 + 15 * MIN)).breaches == ("m1",)
    assert h.ack_latency([msg("m1", ack=20 * MIN)], scope(T0 + 15 * MIN)).overall.p50 == math.inf
    assert h.ack_latency([msg("m1", ack=20 * MIN)], scope(T0 + 25 * MIN)).overall.p50 == 20 * 60


def test_ack_latency_censors_unacknowledged() -> None:
    found = h.ack_latency(HISTORY, scope(T0 + 7 * 60 * MIN))
    # m1 300 s, m2 720 s, m3 +∞, m4 3600 s, m6 120 s → sorted 120, 300, 720, 3600, +∞
    assert found.overall.count == 5
    assert found.overall.p50 == 720.0  # rank ⌈2.5⌉ = 3
    assert found.overall.p90 == math.inf  # rank ⌈4.5⌉ = 5
    assert found.overall.censored == ("m3",)
    assert found.breakdown["ROUTINE"].p50 == 3600.0


def test_answer_rate_and_latency() -> None:
    as_of = T0 + 48 * 60 * MIN
    found = h.answer_rate(HISTORY, scope(as_of))
    # m1 on time; m2 late; m3 never; m4 never (ROUTINE due at +24 h); m6 needs no answer
    assert (found.numerator, found.denominator, found.met) == (1, 4, ("m1",))
    lat = h.answer_latency(HISTORY, scope(as_of)).overall
    assert (lat.p50, lat.p90, lat.censored) == (5400.0, math.inf, ("m3", "m4"))


def test_counterpart_narrows_to_the_ordered_pair() -> None:
    history = [*HISTORY, msg("c1", frm="CCC", ack=30 * MIN)]
    as_of = T0 + 7 * 60 * MIN
    assert h.ack_rate(history, scope(as_of)).denominator == 6
    assert h.ack_rate(history, scope(as_of, counterpart="CCC")).counted == ("c1",)
    assert h.ack_rate(history, scope(as_of, party="AAA")).counted == ("m5",)
    assert h.ack_rate(history, scope(as_of, party=None)).denominator == 7


def test_window_assigns_by_sending_time_and_counts_once_the_deadline_passed() -> None:
    late_in_month = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    record = MessageRecord(id="j", from_party="AAA", to_party="BBB", precedence="ROUTINE", sent_at=late_in_month,
                           ack_due=late_in_month + timedelta(hours=6), answer_due=late_in_month + timedelta(hours=24))
    january, february = month(2026, 1), month(2026, 2)
    assert h.ack_rate([record], Scope(as_of=datetime(2026, 2, 1, tzinfo=UTC), window=january)).denominator == 0
    after = datetime(2026, 2, 2, tzinfo=UTC)
    assert h.ack_rate([record], Scope(as_of=after, window=january)).breaches == ("j",)
    assert h.ack_rate([record], Scope(as_of=after, window=february)).denominator == 0
    assert h.ack_rate([record], Scope(as_of=after, window=rolling(after, 30))).denominator == 1


def slot(day: int, party: str = "BBB", answered: bool = True, hour: int = 9) -> CheckCallRecord:
    start = datetime(2026, 3, day, hour, tzinfo=UTC)
    return CheckCallRecord(slot_id=f"AB-{day:02d}{hour:02d}", party=party, caller="AAA", slot_start=start,
                           window_end=start + 5 * MIN, answered_at=start + MIN if answered else None)


def test_check_call_availability_and_streaks() -> None:
    pattern = [True, False, False, True, False, False, False, True, False, False]
    slots = [slot(d + 2, answered=a) for d, a in enumerate(pattern)]
    as_of = datetime(2026, 3, 31, tzinfo=UTC)
    found = h.check_call_availability(slots, scope(as_of))
    assert (found.numerator, found.denominator) == (3, 10)
    streak = h.missed_streaks(slots, scope(as_of))
    assert (streak.longest, streak.current, streak.counted) == (3, 2, 10)
    assert streak.longest_run == ("AB-0609/BBB", "AB-0709/BBB", "AB-0809/BBB")
    assert streak.current_run == ("AB-1009/BBB", "AB-1109/BBB")
    # as of the 9th at 09:03 the slot of the 9th is still open: not counted yet
    mid = datetime(2026, 3, 9, 9, 3, tzinfo=UTC)
    assert h.missed_streaks(slots, scope(mid)).counted == 7
    assert h.missed_streaks(slots, scope(mid)).current == 3
    # a slot counts from the moment its window closes (09:05), not before
    assert h.check_call_availability([slot(2)], scope(datetime(2026, 3, 2, 9, 4, tzinfo=UTC))).denominator == 0
    assert h.check_call_availability([slot(2)], scope(datetime(2026, 3, 2, 9, 5, tzinfo=UTC))).numerator == 1


def test_streaks_never_mix_parties() -> None:
    slots = [slot(2, "BBB", False), slot(2, "CCC", False), slot(3, "BBB", True), slot(3, "CCC", False),
             slot(4, "BBB", False), slot(4, "CCC", True)]
    as_of = datetime(2026, 3, 31, tzinfo=UTC)
    everyone = h.missed_streaks(slots, scope(as_of, party=None))
    assert (everyone.party, everyone.longest, everyone.current) == ("CCC", 2, 0)
    assert h.missed_streaks(slots, scope(as_of, party="BBB")).longest == 1
    assert h.missed_streaks([], scope(as_of)).longest == 0


def test_call_and_explanation_responsiveness() -> None:
    due = timedelta(hours=48)
    calls = [
        CallRequestRecord(id="c1", from_party="AAA", to_party="BBB", requested_at=T0, respond_due=T0 + due,
                          responded_at=T0 + timedelta(hours=3), response="declined"),
        CallRequestRecord(id="c2", from_party="AAA", to_party="BBB", requested_at=T0, respond_due=T0 + due,
                          responded_at=T0 + timedelta(hours=50), response="accepted"),
        CallRequestRecord(id="c3", from_party="AAA", to_party="BBB", requested_at=T0, respond_due=T0 + due),
        CallRequestRecord(id="c4", from_party="AAA", to_party="BBB", requested_at=T0 + timedelta(days=3),
                          respond_due=T0 + timedelta(days=5)),
    ]
    found = h.call_responsiveness(calls, scope(T0 + timedelta(days=4)))
    assert (found.numerator, found.denominator, found.breaches) == (1, 3, ("c2", "c3"))
    explanations = [
        ExplanationRecord(id="e1", from_party="AAA", to_party="BBB", requested_at=T0, reply_due=T0 + due,
                          replied_at=T0 + due),  # exactly at the deadline: on time
        ExplanationRecord(id="e2", from_party="AAA", to_party="BBB", requested_at=T0, reply_due=T0 + due),
    ]
    found = h.explanation_responsiveness(explanations, scope(T0 + due))
    assert (found.numerator, found.denominator, found.met) == (1, 2, ("e1",))
