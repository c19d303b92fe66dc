"""How agreement and hotline aggregates become rows: a `RecordView` per aggregate type.

Each view says how to store the folded state (`codec`, JSON in `aggregate_states`), which rows
of which tables a state shows as (`rows`: full rows, keyed by each table's primary key), and
which events go to the live `hotline_feed`. The projector diffs `rows(before)` with
`rows(after)`: new keys are inserted, changed rows updated — so a view only ever describes a
state, never an edit. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pydantic import TypeAdapter

from core.agreements import agreement as ag
from core.decider import Decider, Fact
from core.events import DomainEvent
from core.hotline import calls, check_calls, explanations, messages
from adapters.sql.columns import as_utc

Row = dict[str, Any]
Rows = dict[str, list[Row]]


@dataclass(frozen=True, kw_only=True)
class RecordView:
    decider: Decider[Any, Any]
    codec: TypeAdapter[Any]
    rows: Callable[[Any, int, int], Rows]  # (state, last_seq, version) -> rows by table
    feed: Callable[[DomainEvent, Any, Fact], Row | None] | None = None


def _agreement_rows(state: ag.Agreement, last_seq: int, version: int) -> Rows:
    return {
        "agreements": [{
            "id": state.id, "name": state.name, "parties": list(state.parties),
            "concluded_at": as_utc(state.concluded_at), "terms_version": state.latest.version,
            "last_seq": last_seq, "version": version,
        }],
        "agreement_parties": [{
            "agreement_id": state.id, "party": party,
            "primary_contact": state.contacts[party].primary if party in state.contacts else None,
            "alternate_contact": state.contacts[party].alternate if party in state.contacts else None,
        } for party in state.parties],
        "agreement_terms": [{
            "agreement_id": state.id, "version": v.version, "effective_from": as_utc(v.effective_from),
            "terms": v.terms.model_dump(mode="json"),
        } for v in state.versions],
    }


def _message_rows(state: messages.Message, last_seq: int, version: int) -> Rows:
    row = state.model_dump(exclude={"ack_late", "answer_late"})
    row.update({key: as_utc(value) for key, value in row.items() if isinstance(value, datetime)})
    row.update(precedence=state.precedence.value, status=state.status.value, ack_late=state.ack_late,
               answer_late=state.answer_late, last_seq=last_seq, version=version)
    return {"hotline_messages": [row]}


def _message_feed(event: DomainEvent, state: messages.Message, fact: Fact) -> Row:
    notify = event.contact if isinstance(event, messages.MessageEscalated) else None
    return _feed_row(event, fact, agreement_id=state.agreement_id, from_party=state.from_party,
                     to_party=state.to_party, notify=notify)


def _feed_row(event: DomainEvent, fact: Fact, *, agreement_id: str, from_party: str | None,
              to_party: str | None, notify: str | None = None) -> Row:
    return {
        "seq": fact.seq, "event_id": fact.event_id, "type": event.TYPE, "aggtype": "",
        "aggregate_id": fact.aggregate_id, "agreement_id": agreement_id, "from_party": from_party,
        "to_party": to_party, "notify": notify, "time": as_utc(fact.time), "party": fact.party,
        "data": event.payload(),
    }


def _slot_rows(state: check_calls.SlotState, last_seq: int, version: int) -> Rows:
    base = {"slot_id": state.id, "agreement_id": state.agreement_id, "slot_start": as_utc(state.slot_start),
            "window_end": as_utc(state.window_end), "caller": state.caller, "terms_version": state.terms_version}
    rows = [{**base, "party": p, "outcome": "answered", "recorded_at": as_utc(t)} for p, t in state.answered.items()]
    rows += [{**base, "party": p, "outcome": "missed", "recorded_at": as_utc(t)} for p, t in state.missed.items()]
    return {"check_calls": sorted(rows, key=lambda r: r["party"])}


def _slot_feed(event: DomainEvent, state: check_calls.SlotState, fact: Fact) -> Row:
    party = getattr(event, "party", None)
    return _feed_row(event, fact, agreement_id=state.agreement_id, from_party=state.caller, to_party=party)


_REQUEST_BLANK: Row = {key: None for key in (
    "responded_at", "response_late", "no_response_at", "meeting_requested_at", "meeting_due", "meeting_held_at",
    "meeting_late", "meeting_missed_at", "held_at", "incident_id")}


def _call_rows(state: calls.CallRequest, last_seq: int, version: int) -> Rows:
    return {"hotline_requests": [{
        **_REQUEST_BLANK, "kind": "call", "id": state.id, "agreement_id": state.agreement_id,
        "from_party": state.from_party, "to_party": state.to_party, "subject": "", "status": state.status.value,
        "terms_version": state.terms_version, "requested_at": as_utc(state.requested_at), "due": as_utc(state.respond_due),
        "responded_at": as_utc(state.responded_at), "response_late": state.response_late,
        "no_response_at": as_utc(state.no_response_at), "held_at": as_utc(state.held_at),
        "last_seq": last_seq, "version": version,
    }]}


def _explanation_rows(state: explanations.Explanation, last_seq: int, version: int) -> Rows:
    return {"hotline_requests": [{
        **_REQUEST_BLANK, "kind": "explanation", "id": state.id, "agreement_id": state.agreement_id,
        "from_party": state.from_party, "to_party": state.to_party, "subject": state.subject,
        "status": state.status.value, "terms_version": state.terms_version,
        "requested_at": as_utc(state.requested_at), "due": as_utc(state.reply_due),
        "responded_at": as_utc(state.replied_at), "response_late": state.reply_late,
        "no_response_at": as_utc(state.no_reply_at), "meeting_requested_at": as_utc(state.meeting_requested_at),
        "meeting_due": as_utc(state.meeting_due), "meeting_held_at": as_utc(state.meeting_held_at),
        "meeting_late": state.meeting_late, "meeting_missed_at": as_utc(state.meeting_missed_at),
        "incident_id": state.incident_id, "last_seq": last_seq, "version": version,
    }]}


def _pair_feed(event: DomainEvent, state: Any, fact: Fact) -> Row:
    return _feed_row(event, fact, agreement_id=state.agreement_id, from_party=state.from_party,
                     to_party=state.to_party)


VIEWS: dict[str, RecordView] = {
    ag.AGGREGATE: RecordView(decider=ag.DECIDER, codec=TypeAdapter(ag.Agreement), rows=_agreement_rows),
    messages.AGGREGATE: RecordView(decider=messages.DECIDER, codec=TypeAdapter(messages.Message),
                                   rows=_message_rows, feed=_message_feed),
    check_calls.AGGREGATE: RecordView(decider=check_calls.DECIDER, codec=TypeAdapter(check_calls.SlotState),
                                      rows=_slot_rows, feed=_slot_feed),
    calls.AGGREGATE: RecordView(decider=calls.DECIDER, codec=TypeAdapter(calls.CallRequest),
                                rows=_call_rows, feed=_pair_feed),
    explanations.AGGREGATE: RecordView(decider=explanations.DECIDER, codec=TypeAdapter(explanations.Explanation),
                                       rows=_explanation_rows, feed=_pair_feed),
}


def register_view(aggtype: str, view: RecordView) -> None:
    """Teach the projector another record aggregate (e.g. inspections) without editing it."""
    VIEWS[aggtype] = view
