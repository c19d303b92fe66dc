"""Incident commands: what an officer asks for. `by` and `at` come from the principal and clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.identity import Principal
from core.incidents.accounts import Account


@dataclass(frozen=True, kw_only=True)
class _IncidentCommand:
    incident_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ReportIncident(_IncidentCommand):
    parties: tuple[str, ...]
    account: Account


@dataclass(frozen=True, kw_only=True)
class AcknowledgeIncident(_IncidentCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class FileCounterAccount(_IncidentCommand):
    account: Account


@dataclass(frozen=True, kw_only=True)
class AmendAccount(_IncidentCommand):
    account: Account
    reason: str


@dataclass(frozen=True, kw_only=True)
class RetractIncident(_IncidentCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RequestClarification(_IncidentCommand):
    clarification_id: str
    to_party: str
    question: str


@dataclass(frozen=True, kw_only=True)
class ProvideClarification(_IncidentCommand):
    clarification_id: str
    answer: str


@dataclass(frozen=True, kw_only=True)
class AgreeReconciliation(_IncidentCommand):
    agreed_fields: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class DisputeIncident(_IncidentCommand):
    disputed_fields: tuple[str, ...]
    statement: str


@dataclass(frozen=True, kw_only=True)
class ReferToReview(_IncidentCommand):
    forum: str


@dataclass(frozen=True, kw_only=True)
class ResolveIncident(_IncidentCommand):
    finding: str


Command = (
    ReportIncident | AcknowledgeIncident | FileCounterAccount | AmendAccount | RetractIncident
    | RequestClarification | ProvideClarification | AgreeReconciliation | DisputeIncident
    | ReferToReview | ResolveIncident
)
