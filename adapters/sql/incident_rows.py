"""How an incident becomes rows: the incident, its parties, accounts, clarifications, timeline.

Pure functions from `core.incidents.state.Incident` (and the event that changed it) to the
column dicts of `adapters/sql/tables.py`. `changes_for` compares the state before a batch with
the state after it, so an incident touched by many events of one batch is written once.
"""

from __future__ import annotations

from typing import Any

from core.decider import Fact
from core.events import DomainEvent
from core.incidents import events as e
from core.incidents.accounts import Account
from core.incidents.state import AccountRecord, Clarification, Incident
from adapters.sql.columns import as_utc
from adapters.sql.state_codec import incident_state_to_json

Row = dict[str, Any]

SUMMARY_LIMIT = 200


def incident_row(state: Incident, *, last_seq: int, version: int) -> Row:
    """The `incidents` row; kind, severity and times come from the reporter's current account."""
    headline = state.accounts[state.reporter].account
    return {
        "id": state.id,
        "reporter": state.reporter,
        "status": state.status.value,
        "kind": headline.kind.value,
        "severity": headline.severity,
        "started_at": as_utc(headline.started_at),
        "ended_at": as_utc(headline.ended_at),
        "reported_at": as_utc(state.reported_at),
        "updated_at": as_utc(state.updated_at or state.reported_at),
        "parties": "," + ",".join(state.parties) + ",",
        "last_seq": last_seq,
        "version": version,
        "state": incident_state_to_json(state),
    }


def account_row(incident_id: str, record: AccountRecord) -> Row:
    account: Account = record.account
    position = account.position
    return {
        "incident_id": incident_id,
        "party": record.party,
        "version": record.version,
        "filed_at": as_utc(record.filed_at),
        "amended_at": as_utc(record.amended_at),
        "amendment_reason": record.amendment_reason,
        "kind": account.kind.value,
        "started_at": as_utc(account.started_at),
        "ended_at": as_utc(account.ended_at),
        "time_precision": account.time_precision.value,
        "lat": None if position is None else position.lat,
        "lon": None if position is None else position.lon,
        "uncertainty_m": None if position is None else position.uncertainty_m,
        "place": account.place,
        "initiator": account.initiator,
        "units": list(account.units),
        "cpa_m": account.cpa_m,
        "severity": account.severity,
        "casualties": account.casualties,
        "narrative": account.narrative,
        "sources": list(account.sources),
        "attachments": [a.model_dump(mode="json") for a in account.attachments],
    }


def clarification_row(incident_id: str, item: Clarification) -> Row:
    return {
        "incident_id": incident_id,
        "clarification_id": item.id,
        "from_party": item.from_party,
        "to_party": item.to_party,
        "question": item.question,
        "asked_at": as_utc(item.asked_at),
        "answer": item.answer,
        "answered_at": as_utc(item.answered_at),
    }


def timeline_row(event: DomainEvent, fact: Fact, *, type_: str, after: Incident, data: dict[str, Any]) -> Row:
    return {
        "seq": fact.seq,
        "incident_id": fact.aggregate_id,
        "event_id": fact.event_id,
        "type": type_,
        "time": as_utc(fact.time),
        "party": fact.party,
        "actor": fact.actor,
        "summary": summary(event, fact, after=after),
        "data": data,
    }


def summary(event: DomainEvent, fact: Fact, *, after: Incident) -> str:
    """One line a liaison officer can read in a timeline, at most `SUMMARY_LIMIT` characters."""
    who = fact.party
    match event:
        case e.IncidentReported():
            text = (f"{who} reported an incident ({_words(event.account.kind)}, severity {event.account.severity})"
                    f" involving {', '.join(event.parties)}")
        case e.IncidentAcknowledged():
            text = f"{who} acknowledged the report"
        case e.CounterAccountFiled():
            text = f"{who} filed its own account ({_words(event.account.kind)}, severity {event.account.severity})"
        case e.AccountAmended():
            version = after.accounts[who].version if who in after.accounts else "?"
            text = f"{who} amended its account (version {version}): {event.reason}"
        case e.IncidentRetracted():
            text = f"{who} retracted the incident: {event.reason}"
        case e.ClarificationRequested():
            text = f"{who} asked {event.to_party} for clarification {event.clarification_id}: {event.question}"
        case e.ClarificationProvided():
            text = f"{who} answered clarification {event.clarification_id}: {event.answer}"
        case e.ReconciliationAgreed():
            fields = f" on {', '.join(event.agreed_fields)}" if event.agreed_fields else ""
            text = f"{who} agreed the accounts are reconciled{fields}"
        case e.IncidentDisputed():
            text = f"{who} disputed {', '.join(event.disputed_fields)}: {event.statement}"
        case e.IncidentReferredToReview():
            text = f"{who} referred the incident to review by {event.forum}"
        case e.IncidentResolved():
            text = f"{who} recorded the finding: {event.finding}"
        case _:
            text = f"{who}: {type(event).__name__}"
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _words(kind: Any) -> str:
    return str(getattr(kind, "value", kind)).replace("_", " ")


#: One row operation: ("insert" | "update", table name, full row).
RowOp = tuple[str, str, Row]


def changes_for(before: Incident | None, after: Incident, *, last_seq: int, version: int) -> list[RowOp]:
    """What turns the rows of `before` (None: no rows yet) into the rows of `after`."""
    incident_id = after.id
    ops: list[RowOp] = []
    row = incident_row(after, last_seq=last_seq, version=version)
    if before is None:
        ops.append(("insert", "incidents", row))
        ops.extend(("insert", "incident_parties", {"incident_id": incident_id, "party": p}) for p in after.parties)
    else:
        ops.append(("update", "incidents", row))
    old_accounts = before.accounts if before is not None else {}
    for party, record in after.accounts.items():
        if party not in old_accounts:
            ops.append(("insert", "incident_accounts", account_row(incident_id, record)))
        elif old_accounts[party] != record:
            ops.append(("update", "incident_accounts", account_row(incident_id, record)))
    old_items = before.clarifications if before is not None else {}
    for item_id, item in after.clarifications.items():
        if item_id not in old_items:
            ops.append(("insert", "incident_clarifications", clarification_row(incident_id, item)))
        elif old_items[item_id] != item:
            ops.append(("update", "incident_clarifications", clarification_row(incident_id, item)))
    return ops
