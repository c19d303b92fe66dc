"""Read-side queries for the HTTP API: parties, officers, incidents, timelines, the events index.

Each function takes an `AsyncEngine` (it opens and closes a connection) or an open
`AsyncConnection` (to read several things in one snapshot) and returns frozen dataclasses of
plain values (times are aware UTC datetimes) that `fastapi.encoders.jsonable_encoder` turns
into JSON as they are.

`list_incidents` pages **newest first** by `(reported_at, id)`: the cursor is an opaque string
holding the last row's key, so pages stay stable while new incidents arrive at the top.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import tables as t
from adapters.sql.incident_views import (
    AccountView,
    ClarificationView,
    IncidentDetail,
    TimelineEntry,
    account_view,
    clarification_view,
    incident_detail,
    timeline_entry,
)
from core.envelope import format_time, parse_time
from core.errors import Invalid

Source = AsyncEngine | AsyncConnection

MAX_LIMIT = 1000

__all__ = [
    "AccountView", "ClarificationView", "EventEntry", "IncidentDetail", "IncidentPage", "IncidentSummary", "OfficerView", "PartyView",
    "TimelineEntry", "get_checkpoint", "get_incident", "get_party", "incident_timeline", "list_events",
    "list_incidents", "list_officers", "list_parties",
]


@contextlib.asynccontextmanager
async def _connection(source: Source) -> AsyncIterator[AsyncConnection]:
    if isinstance(source, AsyncConnection):
        yield source
    else:
        async with source.connect() as conn:
            yield conn


# --- parties and officers ------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class PartyView:
    code: str
    name: str
    registered_at: datetime
    officers: int  # how many officers are registered
    last_seq: int  # the party aggregate's last stream sequence (ETag)
    version: int


@dataclass(frozen=True, kw_only=True)
class OfficerView:
    party: str
    id: str
    name: str
    registered_at: datetime


def _party_select() -> sa.Select[Any]:
    pt, o = t.parties, t.officers
    officer_count = (
        sa.select(sa.func.count()).where(o.c.party_code == pt.c.code).correlate(pt).scalar_subquery()
    )
    return sa.select(pt, officer_count.label("officer_count"))


def _party(row: Any) -> PartyView:
    return PartyView(
        code=row.code, name=row.name, registered_at=row.registered_at, officers=int(row.officer_count),
        last_seq=row.last_seq, version=row.version,
    )


async def list_parties(source: Source, *, until_seq: int | None = None) -> list[PartyView]:
    """Every registered party, by code. `until_seq`: only parties whose last event is at or
    before it (the unchanged part of an as-of read, adapters/sql/as_of.py)."""
    query = _party_select().order_by(t.parties.c.code)
    if until_seq is not None:
        query = query.where(t.parties.c.last_seq <= until_seq)
    async with _connection(source) as conn:
        rows = await conn.execute(query)
        return [_party(row) for row in rows]


async def get_party(source: Source, code: str) -> PartyView | None:
    async with _connection(source) as conn:
        row = (await conn.execute(_party_select().where(t.parties.c.code == code))).first()
        return None if row is None else _party(row)


async def list_officers(source: Source, party: str) -> list[OfficerView]:
    """The party's officers in registration order (empty for an unknown party)."""
    o = t.officers
    async with _connection(source) as conn:
        rows = await conn.execute(sa.select(o).where(o.c.party_code == party).order_by(o.c.registered_seq))
        return [
            OfficerView(party=row.party_code, id=row.id, name=row.name, registered_at=row.registered_at)
            for row in rows
        ]


# --- incidents -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class IncidentSummary:
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
    last_seq: int
    version: int


@dataclass(frozen=True, kw_only=True)
class IncidentPage:
    items: list[IncidentSummary]
    next_cursor: str | None  # pass back as `cursor` for the next (older) page; None: last page


def _summary(row: Any) -> IncidentSummary:
    return IncidentSummary(
        id=row.id, reporter=row.reporter, parties=[p for p in row.parties.split(",") if p],
        status=row.status, kind=row.kind, severity=row.severity, started_at=row.started_at,
        ended_at=row.ended_at, reported_at=row.reported_at, updated_at=row.updated_at,
        last_seq=row.last_seq, version=row.version,
    )


def encode_cursor(reported_at: datetime, incident_id: str) -> str:
    raw = json.dumps([format_time(reported_at), incident_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, incident_id = json.loads(raw)
        return parse_time(moment), str(incident_id)
    except (binascii.Error, ValueError, TypeError) as error:
        raise Invalid("the cursor is not one this API returned; start again without it") from error


async def list_incidents(
    source: Source,
    *,
    party: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    visible_to: str | None = None,
    until_seq: int | None = None,
) -> IncidentPage:
    """Incidents newest-reported first. `party`: involving it; `since <= started_at < until`
    (the reporter's account); `cursor`: continue after the page that returned it;
    `visible_to`: only incidents involving this party (the caller's own, for party roles);
    `until_seq`: only incidents whose last event is at or before it (as-of reads)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Invalid(f"{name} must include a time zone")
    i = t.incidents
    query = sa.select(i.c.id, i.c.reporter, i.c.parties, i.c.status, i.c.kind, i.c.severity, i.c.started_at,
                      i.c.ended_at, i.c.reported_at, i.c.updated_at, i.c.last_seq, i.c.version)
    for involved in (party, visible_to):
        if involved is not None:
            ip = t.incident_parties
            query = query.where(i.c.id.in_(sa.select(ip.c.incident_id).where(ip.c.party == involved)))
    if kind is not None:
        query = query.where(i.c.kind == kind)
    if status is not None:
        query = query.where(i.c.status == status)
    if since is not None:
        query = query.where(i.c.started_at >= since)
    if until is not None:
        query = query.where(i.c.started_at < until)
    if until_seq is not None:
        query = query.where(i.c.last_seq <= until_seq)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(i.c.reported_at < after_time, sa.and_(i.c.reported_at == after_time, i.c.id < after_id))
        )
    query = query.order_by(i.c.reported_at.desc(), i.c.id.desc()).limit(limit + 1)
    async with _connection(source) as conn:
        rows = (await conn.execute(query)).all()
    items = [_summary(row) for row in rows[:limit]]
    more = len(rows) > limit
    return IncidentPage(
        items=items, next_cursor=encode_cursor(items[-1].reported_at, items[-1].id) if more else None
    )


async def get_incident(source: Source, incident_id: str) -> IncidentDetail | None:
    """The incident with every party's current account, its clarifications and its outcome."""
    i, a, c = t.incidents, t.incident_accounts, t.incident_clarifications
    async with _connection(source) as conn:
        row = (await conn.execute(sa.select(i).where(i.c.id == incident_id))).first()
        if row is None:
            return None
        accounts = (await conn.execute(
            sa.select(a).where(a.c.incident_id == incident_id).order_by(a.c.filed_at, a.c.party)
        )).all()
        clarifications = (await conn.execute(
            sa.select(c).where(c.c.incident_id == incident_id).order_by(c.c.asked_at, c.c.clarification_id)
        )).all()
    return incident_detail(
        row, accounts=[account_view(r) for r in accounts], clarifications=[clarification_view(r) for r in clarifications]
    )


async def incident_timeline(source: Source, incident_id: str) -> list[TimelineEntry]:
    """Every event of the incident in stream order (empty when it does not exist)."""
    tl = t.incident_timeline
    async with _connection(source) as conn:
        rows = await conn.execute(sa.select(tl).where(tl.c.incident_id == incident_id).order_by(tl.c.seq))
        return [timeline_entry(row) for row in rows]


# --- the events index and the checkpoint ---------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class EventEntry:
    """One event of the index: the envelope's attributes, not its `data` (read the stream for it)."""

    seq: int
    event_id: str
    type: str
    aggtype: str
    aggregate_id: str
    aggversion: int
    source: str
    time: datetime  # business time of the fact
    recorded: datetime  # when the stream stored it
    party: str
    actor: str
    schemaversion: int
    correlationid: str | None
    causationid: str | None
    backfilled: bool
    hash: str | None
    prevhash: str | None


async def list_events(
    source: Source,
    *,
    after: int = 0,
    limit: int = 100,
    aggregate_id: str | None = None,
    aggtype: str | None = None,
) -> list[EventEntry]:
    """Projected events with `seq > after`, in stream order, optionally of one aggregate."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    e = t.events
    query = sa.select(e).where(e.c.seq > after)
    if aggregate_id is not None:
        query = query.where(e.c.aggregate_id == aggregate_id)
    if aggtype is not None:
        query = query.where(e.c.aggtype == aggtype)
    async with _connection(source) as conn:
        rows = await conn.execute(query.order_by(e.c.seq).limit(limit))
        return [EventEntry(**{**row._mapping, "backfilled": bool(row.backfilled)}) for row in rows]


async def get_checkpoint(source: Source, name: str = "main") -> int:
    """How far the projector called `name` has got (0: nothing projected)."""
    cp = t.projection_checkpoints
    async with _connection(source) as conn:
        return int(await conn.scalar(sa.select(cp.c.last_seq).where(cp.c.name == name)) or 0)
