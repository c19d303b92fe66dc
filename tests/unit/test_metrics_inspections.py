"""Inspection, quota-reciprocity and notification lead-time metrics (docs/metrics.md §9–§11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from core.metrics import inspections as insp
from core.metrics.notifications import lead_time_compliance
from core.metrics.records import InspectionRecord, NotificationRecord
from core.metrics.scope import Scope, everything

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def visit(id: str, *, requester: str = "AAA", host: str = "BBB", reply: str | None = None,
          replied: timedelta | None = None, entered: timedelta | None = None, refusable: bool = False,
          valid: bool | None = None, kind: str = "inspection", quota: int | None = 3,
          prevented: timedelta | None = None, at: datetime = T0) -> InspectionRecord:
    return InspectionRecord(
        id=id, requester=requester, host=host, requested_at=at, reply_due=at + 24 * H, entry_due=at + 36 * H,
        kind=kind, quota_year=at.year, quota=quota if reply else None, quota_refusable=refusable,
        replied_at=None if replied is None else at + replied, reply=reply,
        refusal_ground="quota_exhausted" if reply == "refused" else None,
        refusal_ground_valid=valid if reply == "refused" else None,
        entered_at=None if entered is None else at + entered,
        prevented_at=None if prevented is None else at + prevented,
    )


HISTORY = [
    visit("v1", reply="accepted", replied=2 * H, entered=30 * H),  # punctual reply and entry
    visit("v2", reply="accepted", replied=30 * H, entered=40 * H),  # late reply, late entry
    visit("v3", reply="refused", replied=3 * H, refusable=True, valid=True),  # quota really exhausted
    visit("v4", reply="refused", replied=3 * H, valid=False),  # "quota exhausted" while it was not
    visit("v5"),  # never replied
    visit("v6", requester="BBB", host="AAA", reply="accepted", replied=H),
]


def scope(as_of: datetime, party: str | None = "BBB", counterpart: str | None = None) -> Scope:
    return Scope(as_of=as_of, window=everything(as_of), party=party, counterpart=counterpart)


def test_inspection_rates_hand_computed() -> None:
    late = T0 + 48 * H
    acceptance = insp.acceptance_rate(HISTORY, scope(late))
    assert (acceptance.counted, acceptance.met) == (("v1", "v2", "v4", "v5"), ("v1", "v2"))  # v3 was refusable
    unsubstantiated = insp.unsubstantiated_refusal_rate(HISTORY, scope(late))
    assert (unsubstantiated.counted, unsubstantiated.met) == (("v3", "v4"), ("v4",))
    reply = insp.reply_punctuality(HISTORY, scope(late))
    assert (reply.numerator, reply.denominator, reply.breaches) == (3, 5, ("v2", "v5"))
    entry = insp.entry_punctuality(HISTORY, scope(late))
    assert (entry.counted, entry.met) == (("v1", "v2"), ("v1",))
    # before the reply deadline nothing is counted; v2's late acceptance is not known at +24 h
    assert insp.reply_punctuality(HISTORY, scope(T0 + 23 * H)).denominator == 0
    assert insp.acceptance_rate(HISTORY, scope(T0 + 24 * H)).met == ("v1",)
    # refusability is only known from the reply: before it, the request counts (as not accepted)
    late_refusal = [visit("v10", reply="refused", replied=30 * H, refusable=True, valid=True)]
    assert insp.acceptance_rate(late_refusal, scope(T0 + 25 * H)).breaches == ("v10",)
    assert insp.acceptance_rate(late_refusal, scope(T0 + 31 * H)).denominator == 0


def test_quota_reciprocity_and_passive_use() -> None:
    history = [*HISTORY, visit("v7", reply="accepted", replied=H, prevented=5 * H),
               visit("v8", requester="CCC", reply="accepted", replied=H, quota=4, at=T0 + 40 * H),  # the latest reply
               visit("v9", kind="overflight", requester="BBB", host="AAA", reply="accepted", replied=H, quota=42)]
    found = insp.quota_reciprocity(history, party="BBB", counterpart="AAA", year=2026, as_of=T0 + 48 * H)
    by_kind = {k.kind: k for k in found.kinds}
    inspection = by_kind["inspection"]
    assert inspection.p_to_q == ("v6",) and inspection.q_to_p == ("v1", "v2")  # v7 prevented: not counted
    assert inspection.ratio == Fraction(1, 2)
    assert inspection.passive_used == ("v1", "v2", "v8") and inspection.passive_quota == 4
    assert inspection.passive_share == Fraction(3, 4)
    assert by_kind["overflight"].p_to_q == ("v9",) and by_kind["overflight"].ratio is None
    # as of before the prevention, v7 still counted
    early = insp.quota_reciprocity(history, party="BBB", counterpart="AAA", year=2026, as_of=T0 + 4 * H)
    assert {k.kind: k for k in early.kinds}["inspection"].q_to_p == ("v1", "v7")
    everyone = insp.quota_reciprocity(history, party="BBB", counterpart=None, year=2026, as_of=T0 + 48 * H)
    assert {k.kind: k for k in everyone.kinds}["inspection"].q_to_p == ("v1", "v2", "v8")
    assert insp.quota_reciprocity(history, party="BBB", counterpart="AAA", year=2025, as_of=T0).kinds == ()


def test_notification_lead_time() -> None:
    day = 24 * 3600
    notices = [
        NotificationRecord(id="n1", party="AAA", to_parties=("BBB", "CCC"), notified_at=T0, lead_seconds=50 * day,
                           required_lead_seconds=42 * day),
        NotificationRecord(id="n2", party="AAA", to_parties=("BBB",), notified_at=T0, lead_seconds=42 * day,
                           required_lead_seconds=42 * day),  # exactly the lead: compliant
        NotificationRecord(id="n3", party="AAA", to_parties=("CCC",), notified_at=T0, lead_seconds=10 * day,
                           required_lead_seconds=42 * day),
        NotificationRecord(id="n4", party="AAA", to_parties=("BBB",), notified_at=T0, lead_seconds=1,
                           required_lead_seconds=42 * day, notifiable=False),  # below the threshold
        NotificationRecord(id="n5", party="AAA", to_parties=("BBB",), notified_at=T0 + H, lead_seconds=1,
                           required_lead_seconds=42 * day),  # after as-of
    ]
    as_of = T0 + H / 2
    found = lead_time_compliance(notices, scope(as_of, "AAA"))
    assert (found.counted, found.met) == (("n1", "n2", "n3"), ("n1", "n2"))
    assert lead_time_compliance(notices, scope(as_of, "AAA", "BBB")).counted == ("n1", "n2")
    assert lead_time_compliance(notices, scope(as_of, "BBB")).denominator == 0
