"""The hand-worked scenario of docs/metrics.md §3: the figures printed there are the figures computed.

The test reads the figure block from the document, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

from core.agreements.terms import Precedence, Terms
from core.metrics import hotline as h
from core.metrics import incidents as inc
from core.metrics.account_agreement import account_agreement
from core.metrics.consistency import consistency_index, dyad_consistency
from core.metrics.figures import Latency, Rate
from core.metrics.records import (
    AccountVersion,
    CallRequestRecord,
    CheckCallRecord,
    ExplanationRecord,
    IncidentRecord,
    MessageRecord,
)
from core.metrics.report import Histories, rates
from core.metrics.scope import Scope, month

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
TERMS = Terms().hotline


def at(day: int, hour: int, minute: int = 0, month_: int = 3) -> datetime:
    return datetime(2026, month_, day, hour, minute, tzinfo=UTC)


def message(id: str, precedence: str, sent: datetime, ack: datetime | None, answer: datetime | None, *,
            frm: str = "AAA", to: str = "BBB", required: bool = True) -> MessageRecord:
    p = Precedence(precedence)
    return MessageRecord(id=id, from_party=frm, to_party=to, precedence=precedence, sent_at=sent,
                         ack_due=sent + TERMS.acknowledge.of(p), answer_due=sent + TERMS.answer.of(p),
                         answer_required=required, acknowledged_at=ack, answered_at=answer)


MESSAGES = [
    message("M1", "FLASH", at(2, 8), at(2, 8, 4), at(2, 8, 40)),
    message("M2", "FLASH", at(5, 14), at(5, 14, 25), at(5, 15, 30)),
    message("M3", "PRIORITY", at(10, 9), at(10, 10), at(10, 22)),
    message("M4", "ROUTINE", at(20, 10), None, None),
    message("M5", "ROUTINE", at(31, 20), None, None),
    message("M6", "FLASH", at(12, 10), at(12, 10, 2), None, frm="BBB", to="AAA", required=False),
]

PATTERN = [(2, 9, True), (2, 17, True), (9, 9, False), (9, 17, False), (16, 9, False), (16, 17, True),
           (23, 9, True), (23, 17, True), (30, 9, False), (30, 17, False)]
SLOTS = [CheckCallRecord(slot_id=f"AB-{d:02d}{hh:02d}", party="BBB", caller="AAA", slot_start=at(d, hh),
                         window_end=at(d, hh, 5), answered_at=at(d, hh, 1) if ok else None)
         for d, hh, ok in PATTERN]

H48 = timedelta(hours=48)
CALLS = [
    CallRequestRecord(id="C1", from_party="AAA", to_party="BBB", requested_at=at(3, 10), respond_due=at(3, 10) + H48,
                      responded_at=at(3, 18), response="accepted"),
    CallRequestRecord(id="C2", from_party="AAA", to_party="BBB", requested_at=at(25, 10),
                      respond_due=at(25, 10) + H48, responded_at=at(28, 9), response="declined"),
    CallRequestRecord(id="C3", from_party="AAA", to_party="BBB", requested_at=at(30, 12),
                      respond_due=at(30, 12) + H48),
]
EXPLANATIONS = [ExplanationRecord(id="E1", from_party="AAA", to_party="BBB", requested_at=at(6, 12),
                                  reply_due=at(6, 12) + H48)]


def account(party: str, recorded: datetime, kind: str, start: datetime, end: datetime, *, initiator: str,
            severity: int, casualties: int | None, lat: float | None = None, lon: float | None = None) -> AccountVersion:
    return AccountVersion(party=party, version=1, recorded_at=recorded, kind=kind, started_at=start, ended_at=end,
                          lat=lat, lon=lon, initiator=initiator, severity=severity, casualties=casualties)


INCIDENTS = [
    IncidentRecord(id="I1", reporter="AAA", parties=("AAA", "BBB"), reported_at=at(4, 10), accounts=(
        account("AAA", at(4, 10), "unsafe_encounter_sea", at(4, 5, 30), at(4, 6), initiator="BBB", severity=3,
                casualties=0, lat=43.0, lon=35.0),
        account("BBB", at(8, 12), "unsafe_encounter_sea", at(4, 5, 40), at(4, 6, 10), initiator="AAA", severity=2,
                casualties=0, lat=43.05, lon=35.02),
    ), acknowledged=(("BBB", at(4, 20)),)),
    IncidentRecord(id="I2", reporter="BBB", parties=("BBB", "AAA"), reported_at=at(15, 9), accounts=(
        account("BBB", at(15, 9), "border_incident", at(13, 6), at(13, 7), initiator="AAA", severity=2,
                casualties=None),
        account("AAA", at(16, 9), "border_incident", at(13, 6, 10), at(13, 7, 10), initiator="AAA", severity=2,
                casualties=None),
    ), acknowledged=(("AAA", at(15, 10)),)),
    IncidentRecord(id="I3", reporter="BBB", parties=("BBB", "AAA"), reported_at=at(22, 18), accounts=(
        account("BBB", at(22, 18), "airspace_violation", at(22, 11), at(22, 12), initiator="AAA", severity=4,
                casualties=1, lat=44.0, lon=36.0),
    ), acknowledged=(("AAA", at(26, 9)),)),
    IncidentRecord(id="I4", reporter="AAA", parties=("AAA", "BBB"), reported_at=at(27, 8), accounts=(
        account("AAA", at(27, 8), "unsafe_encounter_air", at(26, 19), at(26, 20), initiator="BBB", severity=3,
                casualties=0, lat=43.5, lon=35.5),
    ), acknowledged=(("BBB", at(27, 9)),)),
]

HISTORIES = Histories(messages=MESSAGES, check_calls=SLOTS, call_requests=CALLS, explanations=EXPLANATIONS,
                      incidents=INCIDENTS)


def scope(party: str | None, counterpart: str | None, as_of: datetime = AS_OF) -> Scope:
    return Scope(as_of=as_of, window=month(2026, 3), party=party, counterpart=counterpart)


def r(found: Rate) -> str:
    return f"{found.numerator}/{found.denominator}"


def s(found: float | None) -> str:
    assert found is not None
    return "+inf" if found == math.inf else f"{found:g} s"


def f(found: Fraction | None) -> str:
    assert found is not None
    return str(found)


def computed() -> dict[str, str]:
    b, a = scope("BBB", "AAA"), scope("AAA", "BBB")
    ack = h.ack_rate(MESSAGES, b)
    ack_latency: Latency = h.ack_latency(MESSAGES, b).overall
    streak = h.missed_streaks(SLOTS, b)
    reporting = inc.reporting_timeliness(INCIDENTS, b)
    agreement = account_agreement(INCIDENTS, b)
    counts = inc.incident_counts(INCIDENTS, scope(None, None))
    c_b = consistency_index("BBB", rates(HISTORIES, b), counterpart="AAA")
    c_a = consistency_index("AAA", rates(HISTORIES, a), counterpart="BBB")
    assert ack.breaches == ("M2", "M4")
    assert {p: r(x) for p, x in ack.breakdown.items() if x.denominator} == {"FLASH": "1/2", "PRIORITY": "1/1",
                                                                           "ROUTINE": "0/1"}
    return {
        "BBB->AAA ack_rate": r(ack),
        "BBB->AAA ack_latency p50": s(ack_latency.p50),
        "BBB->AAA ack_latency p90": s(ack_latency.p90),
        "BBB->AAA answer_rate": r(h.answer_rate(MESSAGES, b)),
        "BBB->AAA answer_latency p50": s(h.answer_latency(MESSAGES, b).overall.p50),
        "BBB->AAA check_call_availability": r(h.check_call_availability(SLOTS, b)),
        "BBB->AAA longest missed streak": str(streak.longest),
        "BBB->AAA current missed streak": str(streak.current),
        "BBB->AAA call_responsiveness": r(h.call_responsiveness(CALLS, b)),
        "BBB->AAA explanation_responsiveness": r(h.explanation_responsiveness(EXPLANATIONS, b)),
        "BBB->AAA reporting_timeliness": r(reporting.share),
        "BBB->AAA reporting delay p50": s(reporting.delay.p50),
        "BBB->AAA counterparty_responsiveness": r(inc.counterparty_responsiveness(INCIDENTS, b)),
        "AAA->BBB ack_rate": r(h.ack_rate(MESSAGES, a)),
        "AAA->BBB reporting_timeliness": r(inc.reporting_timeliness(INCIDENTS, a).share),
        "AAA->BBB counterparty_responsiveness": r(inc.counterparty_responsiveness(INCIDENTS, a)),
        "BBB-AAA account agreement mean": f(agreement.mean_score),
        "BBB-AAA kappa kind": f(agreement.kappa["kind"].kappa),
        "BBB-AAA kappa initiator": f(agreement.kappa["initiator"].kappa),
        "BBB-AAA kappa severity": f(agreement.kappa["severity"].kappa),
        "incidents total": str(counts.total),
        "incidents AAA->BBB (ordered)": str(counts.by_ordered_pair["AAA->BBB"]),
        "incidents BBB->AAA (ordered)": str(counts.by_ordered_pair["BBB->AAA"]),
        "incidents casualties known/unknown/sum":
            f"{counts.casualties_known}/{counts.casualties_unknown}/{counts.casualties_total}",
        "C BBB->AAA": f(c_b.exact),
        "C AAA->BBB": f(c_a.exact),
        "asymmetry": f(dyad_consistency(c_b, c_a).asymmetry),
        "BBB->AAA ack_rate as of 2026-03-20T00:00Z": r(h.ack_rate(MESSAGES, scope("BBB", "AAA", at(20, 0)))),
    }


def printed() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- scenario-figures -->", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    figures = {}
    for line in block.strip().splitlines():
        label, value = line.split(" = ", 1)
        figures[label.strip()] = re.split(r"\s{2,}|\s\(", value.strip())[0].strip()
    return figures


def test_the_documented_scenario_gives_the_documented_figures() -> None:
    assert printed() == computed()


def test_the_documented_scenario_uses_the_documented_incident_deadlines() -> None:
    deadlines = inc.IncidentDeadlines.of()
    assert (deadlines.report_within, deadlines.acknowledge_within, deadlines.counter_account_within) == (
        timedelta(hours=24), timedelta(hours=48), timedelta(days=7))
