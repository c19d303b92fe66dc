"""Inspection events: what was requested, answered and done on a visit, with the clocks that
applied. Each event that meets a clock records its due time and whether it was late, so metrics
never need to recompute deadlines from terms."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from core.events import DomainEvent, register
from core.inspections.quota import Ground, QuotaState
from core.inspections.terms import Kind, VisitTerms

#: The clocks a visit can miss; each is recorded at most once (`InspectionDeadlineMissed`).
Deadline = Literal["notice", "reply", "entry", "flight_plan", "duration", "reasons"]


@register
class InspectionRequested(DomainEvent):
    TYPE = "parley.inspection.requested.v1"
    agreement_id: str
    kind: Kind
    requesting_party: str
    receiving_party: str
    reasons: str
    area: dict[str, Any]
    point_of_entry: str
    expected_arrival: datetime
    team_size: int
    quota_year: int
    terms_version: int
    terms: VisitTerms  # the section of this kind, as in force at the request
    reply_due: datetime
    entry_due: datetime | None
    notice_due: datetime | None = None
    notice_late: bool = False


class _Reply(DomainEvent):
    due: datetime
    late: bool
    quota: QuotaState


@register
class InspectionAccepted(_Reply):
    """`beyond_obligation`: the receiving party could have refused on a quota ground and did not."""

    TYPE = "parley.inspection.accepted.v1"
    beyond_obligation: bool = False


@register
class InspectionRefused(_Reply):
    """`ground_held` is what the quota state says of the stated ground (None: it cannot tell);
    a refusal whose ground did not hold is `unsubstantiated`, for both parties and metrics."""

    TYPE = "parley.inspection.refused.v1"
    ground: Ground
    text: str = ""
    ground_held: bool | None
    unsubstantiated: bool


@register
class InspectionTeamEntered(DomainEvent):
    """`arrival_overdue`: an overflight team came later than its expected arrival plus the
    tolerance, which makes the flight prohibitable."""

    TYPE = "parley.inspection.team-entered.v1"
    due: datetime | None
    late: bool
    arrival_overdue: bool = False
    plan_due: datetime | None = None
    completion_due: datetime


@register
class FlightPlanAgreed(DomainEvent):
    TYPE = "parley.inspection.flight-plan-agreed.v1"
    due: datetime | None
    late: bool
    plan: str = ""


@register
class InspectionStarted(DomainEvent):
    TYPE = "parley.inspection.started.v1"


@register
class InspectionCompleted(DomainEvent):
    TYPE = "parley.inspection.completed.v1"
    due: datetime
    late: bool


@register
class InspectionReportSubmitted(DomainEvent):
    TYPE = "parley.inspection.report-submitted.v1"
    findings: str


@register
class InspectionCommentsSubmitted(DomainEvent):
    TYPE = "parley.inspection.comments-submitted.v1"
    comments: str


@register
class InspectionProhibited(DomainEvent):
    """The receiving party stops the visit. Written reasons are due by `reasons_due` unless given
    here. A prohibited visit does not count against the quota."""

    TYPE = "parley.inspection.prohibited.v1"
    reasons: str | None = None
    reasons_due: datetime | None
    arrival_overdue: bool


@register
class ProhibitionReasonsGiven(DomainEvent):
    TYPE = "parley.inspection.prohibition-reasons-given.v1"
    reasons: str
    due: datetime
    late: bool


@register
class InspectionPrevented(DomainEvent):
    """An accepted visit that could not take place by force majeure; it does not count."""

    TYPE = "parley.inspection.prevented.v1"
    text: str


@register
class InspectionDeadlineMissed(DomainEvent):
    TYPE = "parley.inspection.deadline-missed.v1"
    deadline: Deadline
    due: datetime


__all__ = [
    "Deadline", "FlightPlanAgreed", "Ground", "InspectionAccepted", "InspectionCommentsSubmitted",
    "InspectionCompleted", "InspectionDeadlineMissed", "InspectionPrevented", "InspectionProhibited",
    "InspectionRefused", "InspectionReportSubmitted", "InspectionRequested", "InspectionStarted",
    "InspectionTeamEntered", "ProhibitionReasonsGiven",
]
