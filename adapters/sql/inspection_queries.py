"""Read-side queries over visits, notifications and quotas, and the scheduler's inspection clocks.

Visibility is the caller's to pass (`party=`): a visit is returned only to its two parties, a
notification to its notifier and addressees, a quota only under agreements that bind the caller;
`party=None` is an auditor's unrestricted view. Quota status **as of** a moment is computed from
the step times of each visit (accepted, prevented, prohibited, completed at or before it), the
units reported by then and the terms version in force then — through the same pure
`core.inspections.quota.state` the deciders record, so the API and the reply events agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.inspection_tables import inspections, notification_recipients, notifications
from adapters.sql.queries import MAX_LIMIT, Source, _connection
from core.agreements.terms import Terms
from core.inspections.quota import QuotaUse, state as quota_state
from core.inspections.terms import Kind

Row = dict[str, Any]


def _dicts(result: Any) -> list[Row]:
    return [dict(row._mapping) for row in result]


def _visible(party: str | None) -> Any:
    if party is None:
        return sa.true()
    return sa.or_(inspections.c.requesting_party == party, inspections.c.receiving_party == party)


# --- visits ------------------------------------------------------------------------------------

async def list_inspections(
    source: Source, *, party: str | None, kind: str | None = None, status: str | None = None,
    agreement_id: str | None = None, year: int | None = None, role: str | None = None,
    unsubstantiated: bool | None = None, before_seq: int | None = None, limit: int = 100,
    until_seq: int | None = None,
) -> list[Row]:
    """Newest first (by the sequence of the visit's latest event); `before_seq` pages.
    `role`: "requesting" | "receiving" narrows to visits where `party` plays that role.
    `until_seq`: only visits whose last event is at or before it (as-of reads)."""
    i = inspections
    query = sa.select(i).where(_visible(party)).order_by(i.c.last_seq.desc()).limit(min(limit, MAX_LIMIT))
    for column, value in ((i.c.kind, kind), (i.c.status, status), (i.c.agreement_id, agreement_id),
                          (i.c.quota_year, year), (i.c.unsubstantiated, unsubstantiated)):
        if value is not None:
            query = query.where(column == value)
    if role == "requesting" and party is not None:
        query = query.where(i.c.requesting_party == party)
    elif role == "receiving" and party is not None:
        query = query.where(i.c.receiving_party == party)
    if before_seq is not None:
        query = query.where(i.c.last_seq < before_seq)
    if until_seq is not None:
        query = query.where(i.c.last_seq <= until_seq)
    async with _connection(source) as conn:
        return _dicts(await conn.execute(query))


async def get_inspection(source: Source, inspection_id: str, *, party: str | None) -> Row | None:
    e = t.events
    async with _connection(source) as conn:
        found = (await conn.execute(sa.select(inspections).where(inspections.c.id == inspection_id,
                                                                 _visible(party)))).first()
        if found is None:
            return None
        out = dict(found._mapping)
        out["timeline"] = _dicts(await conn.execute(
            sa.select(e.c.seq, e.c.event_id, e.c.type, e.c.time, e.c.party, e.c.actor)
            .where(e.c.aggtype == "inspection", e.c.aggregate_id == inspection_id).order_by(e.c.seq)
        ))
    return out


# --- notifications -----------------------------------------------------------------------------

def _addressed(party: str | None) -> Any:
    if party is None:
        return sa.true()
    r = notification_recipients
    return sa.or_(notifications.c.party == party,
                  notifications.c.id.in_(sa.select(r.c.notification_id).where(r.c.party == party)))


async def list_notifications(
    source: Source, *, party: str | None, kind: str | None = None, from_party: str | None = None,
    agreement_id: str | None = None, late: bool | None = None, before_seq: int | None = None, limit: int = 100,
    until_seq: int | None = None,
) -> list[Row]:
    """Newest first (by the sequence of the latest event); `until_seq` as in `list_inspections`."""
    n = notifications
    query = sa.select(n).where(_addressed(party)).order_by(n.c.last_seq.desc()).limit(min(limit, MAX_LIMIT))
    for column, value in ((n.c.kind, kind), (n.c.party, from_party), (n.c.agreement_id, agreement_id), (n.c.late, late)):
        if value is not None:
            query = query.where(column == value)
    if before_seq is not None:
        query = query.where(n.c.last_seq < before_seq)
    if until_seq is not None:
        query = query.where(n.c.last_seq <= until_seq)
    async with _connection(source) as conn:
        rows = _dicts(await conn.execute(query))
        return await _with_recipients(conn, rows)


async def get_notification(source: Source, notification_id: str, *, party: str | None) -> Row | None:
    async with _connection(source) as conn:
        found = (await conn.execute(sa.select(notifications).where(
            notifications.c.id == notification_id, _addressed(party)))).first()
        if found is None:
            return None
        return (await _with_recipients(conn, [dict(found._mapping)]))[0]


async def _with_recipients(conn: Any, rows: list[Row]) -> list[Row]:
    if not rows:
        return rows
    r = notification_recipients
    found = await conn.execute(sa.select(r).where(r.c.notification_id.in_([row["id"] for row in rows]))
                               .order_by(r.c.notification_id, r.c.party))
    to: dict[str, list[str]] = {}
    for item in found:
        to.setdefault(item.notification_id, []).append(item.party)
    for row in rows:
        row["to_parties"] = to.get(row["id"], [])
    return rows


# --- quota status as of a moment ---------------------------------------------------------------

def _by(moment: datetime | None, as_of: datetime) -> bool:
    return moment is not None and moment <= as_of


async def quota_status(source: Source, receiving_party: str, year: int, *, as_of: datetime,
                       viewer: str | None) -> list[Row]:
    """One row per agreement binding `receiving_party` (and `viewer`, unless an auditor) and per
    kind of visit: the limits of the terms version in force at `as_of`, and the use, pending
    requests and refusals as they stood then."""
    ap, at, i, n = t.agreement_parties, t.agreement_terms, inspections, notifications
    async with _connection(source) as conn:
        agreements = {row.agreement_id for row in await conn.execute(
            sa.select(ap.c.agreement_id).where(ap.c.party == receiving_party))}
        if viewer is not None:
            agreements &= {row.agreement_id for row in await conn.execute(
                sa.select(ap.c.agreement_id).where(ap.c.party == viewer))}
        if not agreements:
            return []
        versions = _dicts(await conn.execute(sa.select(at).where(at.c.agreement_id.in_(agreements))
                                             .order_by(at.c.agreement_id, at.c.version)))
        visits = _dicts(await conn.execute(sa.select(i).where(
            i.c.receiving_party == receiving_party, i.c.agreement_id.in_(agreements), i.c.requested_at <= as_of)))
        reports = _dicts(await conn.execute(sa.select(n).where(
            n.c.party == receiving_party, n.c.kind == "units", n.c.year == year, n.c.agreement_id.in_(agreements),
            n.c.notified_at <= as_of).order_by(n.c.notified_at, n.c.last_seq)))
    out: list[Row] = []
    for agreement_id in sorted(agreements):
        mine = [v for v in versions if v["agreement_id"] == agreement_id]
        if not mine:
            continue
        in_force = mine[0]
        for version in mine:
            if version["effective_from"] <= as_of:
                in_force = version
        regime = Terms.model_validate(in_force["terms"]).inspection_terms()
        units = [r["units"] for r in reports if r["agreement_id"] == agreement_id]
        for kind in Kind:
            out.append(_kind_status(
                [v for v in visits if v["agreement_id"] == agreement_id and v["kind"] == kind.value],
                agreement_id=agreement_id, kind=kind, year=year, as_of=as_of, receiving_party=receiving_party,
                terms_version=in_force["version"], terms=regime.of(kind), units=units[-1] if units else None,
            ))
    return out


def _kind_status(visits: list[Row], *, agreement_id: str, kind: Kind, year: int, as_of: datetime,
                 receiving_party: str, terms_version: int, terms: Any, units: int | None) -> Row:
    counted, running, by_requester = [], [], {}
    pending = refused = unsubstantiated = 0
    for v in visits:
        stopped = _by(v["prevented_at"], as_of) or _by(v["prohibited_at"], as_of)
        accepted = _by(v["accepted_at"], as_of) and not stopped
        if accepted and not _by(v["completed_at"], as_of):
            running.append(v["id"])
        if v["quota_year"] != year:
            continue
        if accepted:
            counted.append(v["id"])
            by_requester[v["requesting_party"]] = by_requester.get(v["requesting_party"], 0) + 1
        elif not _by(v["replied_at"], as_of):
            pending += 1
        elif v["refusal_ground"] is not None:
            refused += 1
            unsubstantiated += bool(v["unsubstantiated"])
    use = QuotaUse(as_of=as_of, counted=tuple(sorted(counted)), in_progress=tuple(sorted(running)), reported_units=units)
    recorded = quota_state(terms, use, year=year, terms_version=terms_version, receiving_party=receiving_party)
    return {
        "agreement_id": agreement_id, "kind": kind.value, "party": receiving_party, "year": year, "as_of": as_of,
        "terms_version": terms_version, "quota": recorded.quota, "used": recorded.used,
        "remaining": recorded.remaining, "per_requester_cap": recorded.per_requester_cap,
        "concurrent_limit": recorded.concurrent_limit, "reported_units": units,
        "by_requester": dict(sorted(by_requester.items())), "in_progress": recorded.in_progress,
        "counted": recorded.counted, "pending": pending, "refused": refused, "unsubstantiated_refusals": unsubstantiated,
        "quota_exhausted": "quota_exhausted" in recorded.grounds_holding,
    }


async def quota_use(source: Source, *, agreement_id: str, kind: str, receiving_party: str, requesting_party: str,
                    year: int, as_of: datetime, excluding: str | None = None) -> QuotaUse:
    """`core.ports.QuotaLedger.quota_use` over the rows (same answer as `core.inspections.ledger.Ledger.use`
    once the read models include every event up to `as_of`)."""
    i, n = inspections, notifications
    async with _connection(source) as conn:
        visits = _dicts(await conn.execute(sa.select(
            i.c.id, i.c.requesting_party, i.c.quota_year, i.c.accepted_at, i.c.completed_at, i.c.prevented_at,
            i.c.prohibited_at,
        ).where(i.c.agreement_id == agreement_id, i.c.kind == kind, i.c.receiving_party == receiving_party,
                i.c.accepted_at <= as_of)))
        units = (await conn.execute(sa.select(n.c.units).where(
            n.c.agreement_id == agreement_id, n.c.party == receiving_party, n.c.kind == "units", n.c.year == year,
            n.c.notified_at <= as_of).order_by(n.c.notified_at.desc(), n.c.last_seq.desc()).limit(1))).first()
    counted, mine, running = [], [], []
    for v in visits:
        if v["id"] == excluding or _by(v["prevented_at"], as_of) or _by(v["prohibited_at"], as_of):
            continue
        if not _by(v["completed_at"], as_of):
            running.append(v["id"])
        if v["quota_year"] == year:
            counted.append(v["id"])
            if v["requesting_party"] == requesting_party:
                mine.append(v["id"])
    return QuotaUse(as_of=as_of, counted=tuple(sorted(counted)), from_requester=tuple(sorted(mine)),
                    in_progress=tuple(sorted(running)), reported_units=None if units is None else units.units)


# --- what the scheduler asks -------------------------------------------------------------------

async def overdue_inspections(engine: AsyncEngine, *, now: datetime) -> list[tuple[str, str]]:
    """`core.ports.DueWork.overdue_inspections` over the `inspections` rows (mirrors
    `core.inspections.state.Visit.overdue`)."""
    i = inspections
    open_: dict[str, Any] = {
        "notice": sa.and_(i.c.notice_late.is_(True), i.c.requested_at <= now),
        "reply": sa.and_(i.c.status == "requested", i.c.reply_due <= now),
        "entry": sa.and_(i.c.status == "accepted", i.c.entry_due <= now),
        "flight_plan": sa.and_(i.c.status == "entered", i.c.plan_agreed_at.is_(None), i.c.plan_due <= now),
        "duration": sa.and_(i.c.status.in_(("entered", "started")), i.c.completion_due <= now),
        "reasons": sa.and_(i.c.status == "prohibited", i.c.reasons_given_at.is_(None), i.c.reasons_due <= now),
    }
    out: list[tuple[str, str]] = []
    async with engine.connect() as conn:
        for deadline, condition in open_.items():
            rows = await conn.execute(sa.select(i.c.id).where(condition, i.c[f"{deadline}_missed_at"].is_(None))
                                      .order_by(i.c.id))
            out.extend((row.id, deadline) for row in rows)
    return out
