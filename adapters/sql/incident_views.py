"""What the API shows of one incident: rows of the incident tables, as plain frozen dataclasses.

The outcome fields (acknowledgements, reconciliation, dispute, review, finding, retraction) are
read from the incident's stored state (`incidents.state`), the same fold the projector wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.sql.state_codec import incident_state_from_json


@dataclass(frozen=True, kw_only=True)
class PositionView:
    lat: float
    lon: float
    uncertainty_m: float


@dataclass(frozen=True, kw_only=True)
class AccountView:
    """One party's current account (`version` 1 is the filing; each amendment adds one)."""

    party: str
    version: int
    filed_at: datetime
    amended_at: datetime | None
    amendment_reason: str | None
    kind: str
    started_at: datetime
    ended_at: datetime
    time_precision: str
    position: PositionView | None
    place: str | None
    initiator: str
    units: list[str]
    cpa_m: float | None
    severity: int
    casualties: int | None  # None: unknown
    narrative: str
    sources: list[str]
    attachments: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class ClarificationView:
    id: str
    from_party: str
    to_party: str
    question: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class IncidentDetail:
    id: str
    reporter: str
    parties: list[str]
    status: str
    kind: str  # kind, severity and times: from the reporter's current account
    severity: int
    started_at: datetime
    ended_at: datetime
    reported_at: datetime
    updated_at: datetime
    last_seq: int  # the aggregate's last stream sequence: the ETag, and `If-Match` for writes
    version: int
    accounts: list[AccountView]
    clarifications: list[ClarificationView]
    acknowledged: dict[str, datetime]  # party -> when it acknowledged
    reconciliation: dict[str, list[str]]  # party -> fields it agreed on
    disputed_by: str | None
    disputed_fields: list[str]
    dispute_statement: str | None
    review_forum: str | None
    finding: str | None
    retraction_reason: str | None


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    seq: int
    event_id: str
    type: str
    time: datetime
    party: str
    actor: str
    summary: str
    data: dict[str, Any]


def account_view(row: Any) -> AccountView:
    position = None
    if row.lat is not None and row.lon is not None:
        position = PositionView(lat=row.lat, lon=row.lon, uncertainty_m=row.uncertainty_m or 0.0)
    return AccountView(
        party=row.party, version=row.version, filed_at=row.filed_at, amended_at=row.amended_at,
        amendment_reason=row.amendment_reason, kind=row.kind, started_at=row.started_at,
        ended_at=row.ended_at, time_precision=row.time_precision, position=position, place=row.place,
        initiator=row.initiator, units=list(row.units), cpa_m=row.cpa_m, severity=row.severity,
        casualties=row.casualties, narrative=row.narrative, sources=list(row.sources),
        attachments=list(row.attachments),
    )


def clarification_view(row: Any) -> ClarificationView:
    return ClarificationView(
        id=row.clarification_id, from_party=row.from_party, to_party=row.to_party, question=row.question,
        asked_at=row.asked_at, answer=row.answer, answered_at=row.answered_at,
    )


def incident_detail(
    row: Any, *, accounts: list[AccountView], clarifications: list[ClarificationView]
) -> IncidentDetail:
    state = incident_state_from_json(row.state)
    return IncidentDetail(
        id=row.id, reporter=row.reporter, parties=list(state.parties), status=row.status, kind=row.kind,
        severity=row.severity, started_at=row.started_at, ended_at=row.ended_at,
        reported_at=row.reported_at, updated_at=row.updated_at, last_seq=row.last_seq, version=row.version,
        accounts=accounts, clarifications=clarifications,
        acknowledged=dict(state.acknowledged),
        reconciliation={party: list(fields) for party, fields in state.reconciliation.items()},
        disputed_by=state.disputed_by, disputed_fields=list(state.disputed_fields),
        dispute_statement=state.dispute_statement, review_forum=state.review_forum,
        finding=state.finding, retraction_reason=state.retraction_reason,
    )


def timeline_entry(row: Any) -> TimelineEntry:
    return TimelineEntry(
        seq=row.seq, event_id=row.event_id, type=row.type, time=row.time, party=row.party,
        actor=row.actor, summary=row.summary, data=dict(row.data),
    )
