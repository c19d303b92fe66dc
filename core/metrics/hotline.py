"""Hotline metrics (docs/metrics.md §1–§5): acknowledgement and answer within deadline and their
latencies, check-call availability and missed streaks, call-request and explanation responsiveness.

The party measured is always the one that owes the act (the recipient of a message, the expected
answerer of a check call, the party asked for a call or an explanation); the counterpart is the
other end. An obligation is counted once its deadline has passed at the as-of moment, and then
for good: an act that never came is a breach (rates) or +∞ (latencies), never left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.metrics import METRICS_VERSION
from core.metrics.figures import Latency, Rate, latency, rate
from core.metrics.records import CallRequestRecord, CheckCallRecord, ExplanationRecord, MessageRecord, known
from core.metrics.scope import Scope

PRECEDENCES = ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE")


def _due_messages(messages: Iterable[MessageRecord], scope: Scope, *, answer: bool) -> list[MessageRecord]:
    return [
        m for m in messages
        if scope.window.holds(m.sent_at) and scope.pair(m.to_party, m.from_party)
        and (m.answer_due if answer else m.ack_due) <= scope.as_of
        and (m.answer_required or not answer)
    ]


def _by_precedence(
    messages: Sequence[MessageRecord], build: Callable[[Sequence[MessageRecord]], Rate],
) -> dict[str, Rate]:
    return {p: build([m for m in messages if m.precedence == p]) for p in PRECEDENCES}


def _done(moment: datetime | None, due: datetime, as_of: datetime) -> bool:
    done = known(moment, as_of)
    return done is not None and done <= due


def _seconds(start: datetime, end: datetime | None) -> float:
    return math.inf if end is None else (end - start).total_seconds()


def ack_rate(messages: Iterable[MessageRecord], scope: Scope) -> Rate:
    """§1: acknowledged by `ack_due` / messages whose `ack_due` has passed; overall and per precedence."""
    due = _due_messages(messages, scope, answer=False)

    def build(items: Sequence[MessageRecord]) -> Rate:
        return rate("ack_rate", ((m.id, _done(m.acknowledged_at, m.ack_due, scope.as_of)) for m in items))

    return rate("ack_rate", ((m.id, _done(m.acknowledged_at, m.ack_due, scope.as_of)) for m in due),
                breakdown=_by_precedence(due, build))


def answer_rate(messages: Iterable[MessageRecord], scope: Scope) -> Rate:
    """§3: answered by `answer_due` / messages needing an answer whose `answer_due` has passed."""
    due = _due_messages(messages, scope, answer=True)

    def build(items: Sequence[MessageRecord]) -> Rate:
        return rate("answer_rate", ((m.id, _done(m.answered_at, m.answer_due, scope.as_of)) for m in items))

    return rate("answer_rate", ((m.id, _done(m.answered_at, m.answer_due, scope.as_of)) for m in due),
                breakdown=_by_precedence(due, build))


@dataclass(frozen=True, kw_only=True)
class LatencyByPrecedence:
    overall: Latency
    breakdown: dict[str, Latency]
    version: str = METRICS_VERSION


def _latencies(metric: str, due: Sequence[MessageRecord], at: Callable[[MessageRecord], datetime | None],
               as_of: datetime) -> LatencyByPrecedence:
    def build(items: Iterable[MessageRecord]) -> Latency:
        return latency(metric, ((m.id, _seconds(m.sent_at, known(at(m), as_of))) for m in items))

    return LatencyByPrecedence(
        overall=build(due), breakdown={p: build(m for m in due if m.precedence == p) for p in PRECEDENCES},
    )


def ack_latency(messages: Iterable[MessageRecord], scope: Scope) -> LatencyByPrecedence:
    """§2: p50/p90 of acknowledgement time − sending time; unacknowledged at as-of = +∞."""
    due = _due_messages(messages, scope, answer=False)
    return _latencies("ack_latency", due, lambda m: m.acknowledged_at, scope.as_of)


def answer_latency(messages: Iterable[MessageRecord], scope: Scope) -> LatencyByPrecedence:
    """§3: p50/p90 of answer time − sending time; unanswered at as-of = +∞."""
    due = _due_messages(messages, scope, answer=True)
    return _latencies("answer_latency", due, lambda m: m.answered_at, scope.as_of)


def _due_slots(slots: Iterable[CheckCallRecord], scope: Scope) -> list[CheckCallRecord]:
    return sorted(
        (s for s in slots if scope.window.holds(s.slot_start) and scope.pair(s.party, s.caller)
         and s.window_end <= scope.as_of),
        key=lambda s: (s.slot_start, s.party, s.slot_id),
    )


def _answered(slot: CheckCallRecord, as_of: datetime) -> bool:
    return _done(slot.answered_at, slot.window_end, as_of)


def check_call_availability(slots: Iterable[CheckCallRecord], scope: Scope) -> Rate:
    """§4: slots answered within their window / slots whose window has closed."""
    return rate("check_call_availability", ((s.id, _answered(s, scope.as_of)) for s in _due_slots(slots, scope)))


@dataclass(frozen=True, kw_only=True)
class Streaks:
    """Runs of consecutive missed slots of one party, in slot order. `current` is the run that
    ends at the latest closed slot (0 if that one was answered)."""

    metric: str
    party: str | None
    longest: int
    current: int
    longest_run: tuple[str, ...]
    current_run: tuple[str, ...]
    counted: int
    version: str = METRICS_VERSION


def _streaks_of(party: str | None, slots: Sequence[CheckCallRecord], as_of: datetime) -> Streaks:
    longest: list[str] = []
    run: list[str] = []
    for slot in slots:
        if _answered(slot, as_of):
            run = []
        else:
            run = [*run, slot.id]
            if len(run) > len(longest):
                longest = run
    return Streaks(metric="check_call_missed_streak", party=party, longest=len(longest), current=len(run),
                   longest_run=tuple(longest), current_run=tuple(run), counted=len(slots))


def missed_streaks(slots: Iterable[CheckCallRecord], scope: Scope) -> Streaks:
    """§4: the longest and the current run of consecutive missed slots.

    Runs are per answering party; with no party in scope, the party with the longest run is
    reported (ties: the alphabetically first), so a streak never mixes two parties' slots.
    """
    due = _due_slots(slots, scope)
    if scope.party is not None:
        return _streaks_of(scope.party, due, scope.as_of)
    per_party = [_streaks_of(p, [s for s in due if s.party == p], scope.as_of) for p in sorted({s.party for s in due})]
    if not per_party:
        return _streaks_of(None, [], scope.as_of)
    return min(per_party, key=lambda s: (-s.longest, -s.current, s.party or ""))


def call_responsiveness(requests: Iterable[CallRequestRecord], scope: Scope) -> Rate:
    """§5: requests accepted or declined by `respond_due` / requests whose `respond_due` has passed."""
    due = [r for r in requests if scope.window.holds(r.requested_at) and scope.pair(r.to_party, r.from_party)
           and r.respond_due <= scope.as_of]
    return rate("call_responsiveness", ((r.id, _done(r.responded_at, r.respond_due, scope.as_of)) for r in due))


def explanation_responsiveness(requests: Iterable[ExplanationRecord], scope: Scope) -> Rate:
    """§5: explanations replied by `reply_due` / requests whose `reply_due` has passed."""
    due = [r for r in requests if scope.window.holds(r.requested_at) and scope.pair(r.to_party, r.from_party)
           and r.reply_due <= scope.as_of]
    return rate("explanation_responsiveness", ((r.id, _done(r.replied_at, r.reply_due, scope.as_of)) for r in due))
