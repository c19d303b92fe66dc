"""Read-side queries over agreements and the hotline, and the scheduler's `DueWork`.

Visibility is the caller's job to pass in (`party=`): hotline records are returned only when the
party is one end of the channel (check calls: a party of the agreement); `party=None` means an
auditor's unrestricted view. Rows come back as plain dicts of JSON-friendly values.

Lists take `until_seq`: only records whose last event is at or before it — the part of an as-of
read the live rows answer unchanged (adapters/sql/as_of.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.queries import MAX_LIMIT, Source, _connection
from core.hotline import check_calls

Row = dict[str, Any]


def _dicts(result: Any) -> list[Row]:
    return [dict(row._mapping) for row in result]


def _until(table: sa.Table, until_seq: int | None) -> Any:
    return sa.true() if until_seq is None else table.c.last_seq <= until_seq


def _channel(table: sa.Table, party: str | None) -> Any:
    if party is None:
        return sa.true()
    return sa.or_(table.c.from_party == party, table.c.to_party == party)


# --- agreements --------------------------------------------------------------------------------

async def list_agreements(source: Source, *, party: str | None, until_seq: int | None = None) -> list[Row]:
    a, ap = t.agreements, t.agreement_parties
    query = sa.select(a).where(_until(a, until_seq)).order_by(a.c.id)
    if party is not None:
        query = query.where(a.c.id.in_(sa.select(ap.c.agreement_id).where(ap.c.party == party)))
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


async def get_agreement(source: Source, agreement_id: str) -> Row | None:
    a, ap, at = t.agreements, t.agreement_parties, t.agreement_terms
    async with _connection(source) as conn:
        found = (await conn.execute(sa.select(a).where(a.c.id == agreement_id))).first()
        if found is None:
            return None
        out = dict(found._mapping)
        contacts = await conn.execute(sa.select(ap).where(ap.c.agreement_id == agreement_id).order_by(ap.c.party))
        out["contacts"] = {r.party: {"primary": r.primary_contact, "alternate": r.alternate_contact} for r in contacts}
        versions = await conn.execute(sa.select(at).where(at.c.agreement_id == agreement_id).order_by(at.c.version))
        out["terms"] = [{"version": r.version, "effective_from": r.effective_from, "terms": r.terms} for r in versions]
        return out


# --- messages ----------------------------------------------------------------------------------

async def list_messages(
    source: Source, *, party: str | None, agreement_id: str | None = None, box: str | None = None,
    status: str | None = None, overdue_at: datetime | None = None, before_seq: int | None = None,
    limit: int = 100, until_seq: int | None = None,
) -> list[Row]:
    """Newest first; `before_seq` pages (the last row's `sent_seq`). `box`: inbox | outbox."""
    m = t.hotline_messages
    query = sa.select(m).where(_channel(m, party), _until(m, until_seq)).order_by(m.c.sent_seq.desc()).limit(min(limit, MAX_LIMIT))
    if box == "inbox" and party is not None:
        query = query.where(m.c.to_party == party)
    elif box == "outbox" and party is not None:
        query = query.where(m.c.from_party == party)
    if agreement_id is not None:
        query = query.where(m.c.agreement_id == agreement_id)
    if status is not None:
        query = query.where(m.c.status == status)
    if overdue_at is not None:
        query = query.where(m.c.acknowledged_at.is_(None), m.c.ack_due <= overdue_at)
    if before_seq is not None:
        query = query.where(m.c.sent_seq < before_seq)
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


async def get_message(source: Source, message_id: str, *, party: str | None) -> Row | None:
    """The message with its body, its answer and its timeline; None when missing or not visible."""
    m, f = t.hotline_messages, t.hotline_feed
    async with _connection(source) as conn:
        found = (await conn.execute(sa.select(m).where(m.c.id == message_id, _channel(m, party)))).first()
        if found is None:
            return None
        out = dict(found._mapping)
        timeline = _dicts(await conn.execute(
            sa.select(f.c.seq, f.c.event_id, f.c.type, f.c.time, f.c.party, f.c.data)
            .where(f.c.aggtype == "message", f.c.aggregate_id == message_id).order_by(f.c.seq)
        ))
    out["body"] = next((e["data"]["body"] for e in timeline if e["type"].endswith("message-sent.v1")), None)
    out["answer"] = next((e["data"]["body"] for e in timeline if e["type"].endswith("message-answered.v1")), None)
    out["timeline"] = timeline
    return out


# --- check calls -------------------------------------------------------------------------------

def _slots_until(until_seq: int | None) -> Any:
    """Check-call rows of slots whose last event is at or before `until_seq` (the rows have no
    sequence of their own: the slot aggregate's is in `aggregate_states`)."""
    if until_seq is None:
        return sa.true()
    s = t.aggregate_states
    return t.check_calls.c.slot_id.in_(
        sa.select(s.c.id).where(s.c.aggtype == check_calls.AGGREGATE, s.c.last_seq <= until_seq))


async def list_check_calls(source: Source, agreement_id: str, *, party: str | None = None, limit: int = 500,
                           until_seq: int | None = None) -> list[Row]:
    c = t.check_calls
    query = sa.select(c).where(c.c.agreement_id == agreement_id, _slots_until(until_seq)).order_by(c.c.slot_start.desc(), c.c.party).limit(min(limit, MAX_LIMIT))
    if party is not None:
        query = query.where(c.c.party == party)
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


async def check_call_outcomes(source: Source, agreement_id: str, *, until_seq: int | None = None) -> list[Row]:
    """Every recorded check call of the agreement as `{party, slot_start, outcome}`, by party
    then slot: what `streaks` counts."""
    c = t.check_calls
    async with _connection(source) as conn:
        return _dicts(await conn.execute(
            sa.select(c.c.party, c.c.slot_start, c.c.outcome)
            .where(c.c.agreement_id == agreement_id, _slots_until(until_seq)).order_by(c.c.party, c.c.slot_start)
        ))


async def check_call_streaks(source: Source, agreement_id: str) -> dict[str, Row]:
    """Per answering party: slots answered and missed, the current run of misses (ending at the
    latest recorded slot) and the longest run, over every recorded slot in order."""
    return streaks(await check_call_outcomes(source, agreement_id))


def streaks(outcomes: list[Row]) -> dict[str, Row]:
    """`check_call_streaks` of outcome rows ordered by party, then slot start."""
    out: dict[str, Row] = {}
    for row in outcomes:
        s = out.setdefault(row["party"], {"answered": 0, "missed": 0, "current_missed_streak": 0, "longest_missed_streak": 0})
        if row["outcome"] == "missed":
            s["missed"] += 1
            s["current_missed_streak"] += 1
            s["longest_missed_streak"] = max(s["longest_missed_streak"], s["current_missed_streak"])
        else:
            s["answered"] += 1
            s["current_missed_streak"] = 0
    for s in out.values():
        total = s["answered"] + s["missed"]
        s["availability"] = s["answered"] / total if total else None
    return out


# --- call and explanation requests -------------------------------------------------------------

async def list_requests(source: Source, kind: str, *, party: str | None, agreement_id: str | None = None,
                        status: str | None = None, limit: int = 100, until_seq: int | None = None) -> list[Row]:
    r = t.hotline_requests
    query = (sa.select(r).where(r.c.kind == kind, _channel(r, party), _until(r, until_seq))
             .order_by(r.c.requested_at.desc(), r.c.id).limit(min(limit, MAX_LIMIT)))
    if agreement_id is not None:
        query = query.where(r.c.agreement_id == agreement_id)
    if status is not None:
        query = query.where(r.c.status == status)
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


async def get_request(source: Source, kind: str, request_id: str, *, party: str | None) -> Row | None:
    r, f = t.hotline_requests, t.hotline_feed
    aggtype = "callrequest" if kind == "call" else "explanation"
    async with _connection(source) as conn:
        found = (await conn.execute(sa.select(r).where(r.c.kind == kind, r.c.id == request_id, _channel(r, party)))).first()
        if found is None:
            return None
        out = dict(found._mapping)
        out["timeline"] = _dicts(await conn.execute(
            sa.select(f.c.seq, f.c.event_id, f.c.type, f.c.time, f.c.party, f.c.data)
            .where(f.c.aggtype == aggtype, f.c.aggregate_id == request_id).order_by(f.c.seq)
        ))
    return out


# --- the live feed -----------------------------------------------------------------------------

async def feed(source: Source, *, party: str | None, after: int, limit: int = 500) -> list[Row]:
    """Hotline events after stream sequence `after` that `party` may see, in stream order: its
    channels' traffic, and check calls of its agreements (`to_party` NULL = all of them)."""
    f, ap = t.hotline_feed, t.agreement_parties
    query = sa.select(f).where(f.c.seq > after).order_by(f.c.seq).limit(min(limit, MAX_LIMIT))
    if party is not None:
        mine = sa.select(ap.c.agreement_id).where(ap.c.party == party)
        query = query.where(sa.or_(
            f.c.from_party == party, f.c.to_party == party,
            sa.and_(f.c.to_party.is_(None), f.c.agreement_id.in_(mine)),
        ))
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


# --- what the scheduler asks -------------------------------------------------------------------

class SqlDueWork:
    """`core.ports.DueWork` over the read models."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def overdue_messages(self, *, now: datetime) -> list[tuple[str, str]]:
        m = t.hotline_messages
        async with self._engine.connect() as conn:
            acks = await conn.execute(sa.select(m.c.id).where(
                m.c.acknowledged_at.is_(None), m.c.ack_missed_at.is_(None), m.c.ack_due <= now).order_by(m.c.ack_due))
            out = [(row.id, "acknowledgement") for row in acks]
            answers = await conn.execute(sa.select(m.c.id).where(
                m.c.answer_required.is_(True), m.c.answered_at.is_(None), m.c.answer_missed_at.is_(None),
                m.c.answer_due <= now).order_by(m.c.answer_due))
            return out + [(row.id, "answer") for row in answers]

    async def overdue_call_requests(self, *, now: datetime) -> list[str]:
        r = t.hotline_requests
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(r.c.id).where(
                r.c.kind == "call", r.c.status == "requested", r.c.due <= now).order_by(r.c.due))
            return [row.id for row in rows]

    async def overdue_explanations(self, *, now: datetime) -> list[tuple[str, str]]:
        r = t.hotline_requests
        async with self._engine.connect() as conn:
            replies = await conn.execute(sa.select(r.c.id).where(
                r.c.kind == "explanation", r.c.status == "requested", r.c.due <= now).order_by(r.c.due))
            out = [(row.id, "reply") for row in replies]
            meetings = await conn.execute(sa.select(r.c.id).where(
                r.c.kind == "explanation", r.c.status == "meeting_requested", r.c.meeting_missed_at.is_(None),
                r.c.meeting_due <= now).order_by(r.c.meeting_due))
            return out + [(row.id, "meeting") for row in meetings]

    async def agreement_ids(self) -> list[str]:
        async with self._engine.connect() as conn:
            return [row.id for row in await conn.execute(sa.select(t.agreements.c.id).order_by(t.agreements.c.id))]

    async def recorded_check_calls(self, agreement_id: str, *, since: datetime) -> set[tuple[str, str]]:
        c = t.check_calls
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(c.c.slot_id, c.c.party).where(
                c.c.agreement_id == agreement_id, c.c.slot_start >= since))
            return {(row.slot_id, row.party) for row in rows}

    async def overdue_inspections(self, *, now: datetime) -> list[tuple[str, str]]:
        from adapters.sql.inspection_queries import overdue_inspections

        return await overdue_inspections(self._engine, now=now)
