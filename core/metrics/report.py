"""Every metric of one party (or one ordered pair) for one window, as of one moment, and the
monthly series a metric traces: what the API serves, computed from one bundle of records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.metrics import METRICS_VERSION
from core.metrics import hotline as h
from core.metrics import incidents as inc
from core.metrics import inspections as insp
from core.metrics.notifications import lead_time_compliance
from core.metrics.account_agreement import AgreementSummary, account_agreement
from core.metrics.change import Shift, detect_shifts
from core.metrics.consistency import ConsistencyIndex, consistency_index
from core.metrics.figures import Rate
from core.metrics.records import (
    CallRequestRecord,
    CheckCallRecord,
    ExplanationRecord,
    IncidentRecord,
    InspectionRecord,
    MessageRecord,
    NotificationRecord,
)
from core.metrics.scope import Scope, Window, months


@dataclass(frozen=True, kw_only=True)
class Histories:
    """All records a report may need; an adapter fills only what exists."""

    messages: Sequence[MessageRecord] = ()
    check_calls: Sequence[CheckCallRecord] = ()
    call_requests: Sequence[CallRequestRecord] = ()
    explanations: Sequence[ExplanationRecord] = ()
    incidents: Sequence[IncidentRecord] = ()
    inspections: Sequence[InspectionRecord] = ()
    notifications: Sequence[NotificationRecord] = ()
    deadlines: inc.IncidentDeadlines = field(default_factory=inc.IncidentDeadlines.of)


@dataclass(frozen=True, kw_only=True)
class Report:
    scope: Scope
    rates: dict[str, Rate]
    ack_latency: h.LatencyByPrecedence
    answer_latency: h.LatencyByPrecedence
    streaks: h.Streaks
    reporting: inc.Timeliness
    agreement: AgreementSummary
    counts: inc.IncidentCounts
    consistency: ConsistencyIndex | None  # None when the scope names no party
    reciprocity: insp.Reciprocity | None  # of the as-of year; None when the scope names no party
    version: str = METRICS_VERSION


def rates(histories: Histories, scope: Scope) -> dict[str, Rate]:
    """The rates of the scope's party, by metric name (the consistency index's components and more)."""
    return {
        "ack_rate": h.ack_rate(histories.messages, scope),
        "answer_rate": h.answer_rate(histories.messages, scope),
        "check_call_availability": h.check_call_availability(histories.check_calls, scope),
        "call_responsiveness": h.call_responsiveness(histories.call_requests, scope),
        "explanation_responsiveness": h.explanation_responsiveness(histories.explanations, scope),
        "reporting_timeliness": inc.reporting_timeliness(histories.incidents, scope,
                                                         deadlines=histories.deadlines).share,
        "counterparty_responsiveness": inc.counterparty_responsiveness(histories.incidents, scope,
                                                                       deadlines=histories.deadlines),
        "inspection_acceptance": insp.acceptance_rate(histories.inspections, scope),
        "inspection_unsubstantiated_refusal": insp.unsubstantiated_refusal_rate(histories.inspections, scope),
        "inspection_reply_punctuality": insp.reply_punctuality(histories.inspections, scope),
        "inspection_entry_punctuality": insp.entry_punctuality(histories.inspections, scope),
        "notification_lead_time": lead_time_compliance(histories.notifications, scope),
    }


def report(histories: Histories, scope: Scope) -> Report:
    found = rates(histories, scope)
    return Report(
        scope=scope, rates=found,
        ack_latency=h.ack_latency(histories.messages, scope),
        answer_latency=h.answer_latency(histories.messages, scope),
        streaks=h.missed_streaks(histories.check_calls, scope),
        reporting=inc.reporting_timeliness(histories.incidents, scope, deadlines=histories.deadlines),
        agreement=account_agreement(histories.incidents, scope),
        counts=inc.incident_counts(histories.incidents, scope),
        consistency=None if scope.party is None else consistency_index(scope.party, found,
                                                                       counterpart=scope.counterpart),
        reciprocity=None if scope.party is None else insp.quota_reciprocity(
            histories.inspections, party=scope.party, counterpart=scope.counterpart, year=scope.as_of.year,
            as_of=scope.as_of),
    )


def _value_of(metric: str) -> Callable[[Histories, Scope], float | None]:
    """How one named metric becomes one number per month."""
    if metric == "consistency_index":
        def index(hs: Histories, s: Scope) -> float | None:
            return None if s.party is None else consistency_index(s.party, rates(hs, s)).value
        return index
    if metric == "incident_count":
        return lambda hs, s: float(inc.incident_counts(hs.incidents, s).total)
    if metric == "account_agreement":
        def mean(hs: Histories, s: Scope) -> float | None:
            found = account_agreement(hs.incidents, s).mean_score
            return None if found is None else float(found)
        return mean
    if metric in ("ack_latency_p50", "answer_latency_p50"):
        build = h.ack_latency if metric == "ack_latency_p50" else h.answer_latency
        return lambda hs, s: build(hs.messages, s).overall.p50
    return lambda hs, s: rates(hs, s)[metric].value


SERIES_METRICS = (
    "ack_rate", "answer_rate", "check_call_availability", "call_responsiveness", "explanation_responsiveness",
    "reporting_timeliness", "counterparty_responsiveness", "inspection_acceptance",
    "inspection_unsubstantiated_refusal", "inspection_reply_punctuality", "inspection_entry_punctuality",
    "notification_lead_time", "ack_latency_p50", "answer_latency_p50", "incident_count", "account_agreement", "consistency_index",
)


@dataclass(frozen=True, kw_only=True)
class Series:
    metric: str
    points: tuple[tuple[str, float | None], ...]  # (YYYY-MM, value)
    shifts: tuple[Shift, ...]
    version: str = METRICS_VERSION


def monthly_series(histories: Histories, metric: str, *, as_of: datetime, first: datetime, party: str | None = None,
                   counterpart: str | None = None, k: int = 6) -> Series:
    """`metric` for each calendar month from the one holding `first` to the one holding `as_of`,
    each as of `as_of`, with the shifts change detection finds."""
    if metric not in SERIES_METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(SERIES_METRICS)}")
    value = _value_of(metric)
    points: list[tuple[str, float | None]] = []
    for window in months(first, as_of):
        scope = Scope(as_of=as_of, window=Window(start=window.start, end=window.end, label=window.label),
                      party=party, counterpart=counterpart)
        found = value(histories, scope)
        points.append((window.label, found if found is not None and math.isfinite(found) else None))
    return Series(metric=metric, points=tuple(points), shifts=tuple(detect_shifts(metric, points, k=k)))
