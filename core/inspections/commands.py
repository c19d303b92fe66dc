"""Inspection commands. `by` and `at` come from the principal and the clock; `binding` (the
agreement and its terms at the request) and `quota` (the ledger's snapshot at a reply) are filled
by the application, because the decider cannot look them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.hotline.channel import Binding
from core.identity import Principal
from core.inspections.events import Deadline
from core.inspections.quota import Ground, QuotaUse
from core.inspections.terms import Kind


@dataclass(frozen=True, kw_only=True)
class _InspectionCommand:
    inspection_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RequestInspection(_InspectionCommand):
    agreement_id: str
    kind: Kind
    to_party: str
    reasons: str
    area: dict[str, Any] = field(default_factory=dict)
    point_of_entry: str
    expected_arrival: datetime
    team_size: int
    binding: Binding | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptInspection(_InspectionCommand):
    quota: QuotaUse | None = None


@dataclass(frozen=True, kw_only=True)
class RefuseInspection(_InspectionCommand):
    ground: Ground
    text: str = ""
    quota: QuotaUse | None = None


@dataclass(frozen=True, kw_only=True)
class RecordTeamEntered(_InspectionCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class AgreeFlightPlan(_InspectionCommand):
    plan: str = ""


@dataclass(frozen=True, kw_only=True)
class StartInspection(_InspectionCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class CompleteInspection(_InspectionCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class SubmitReport(_InspectionCommand):
    findings: str


@dataclass(frozen=True, kw_only=True)
class SubmitComments(_InspectionCommand):
    comments: str


@dataclass(frozen=True, kw_only=True)
class ProhibitInspection(_InspectionCommand):
    reasons: str | None = None


@dataclass(frozen=True, kw_only=True)
class GiveProhibitionReasons(_InspectionCommand):
    reasons: str


@dataclass(frozen=True, kw_only=True)
class DeclarePrevented(_InspectionCommand):
    """Force majeure prevented an accepted visit (either party may declare it)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class RecordInspectionDeadlineMissed(_InspectionCommand):
    deadline: Deadline


Command = (RequestInspection | AcceptInspection | RefuseInspection | RecordTeamEntered | AgreeFlightPlan
           | StartInspection | CompleteInspection | SubmitReport | SubmitComments | ProhibitInspection
           | GiveProhibitionReasons | DeclarePrevented | RecordInspectionDeadlineMissed)
