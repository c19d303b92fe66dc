"""The incident records the metrics read (`core.metrics.records.IncidentRecord`), as of a moment.

Each incident is replayed from `incident_timeline` with the incident decider's own `evolve`, so
every account version, acknowledgement and status keeps its time and is the decider's. A window
needs only some incidents: those involving the scope's parties with a timeline row near or in the
window (`_chosen_incidents`); the indexes of migration 0004 find them without reading the whole
history. `metrics_source.load` calls `incident_records`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from adapters.sql import tables as t
from core.decider import Fact
from core.events import known_types
from core.incidents import decider as incident_decider
from core.incidents import events as ie
from core.incidents.state import Incident
from core.metrics.records import AccountVersion, IncidentRecord

_ACCOUNT_EVENTS = (ie.IncidentReported, ie.CounterAccountFiled, ie.AccountAmended)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: An account is filed at most a few minutes (the deciders' clock skew) after the incident ended.
INCIDENT_MARGIN = timedelta(days=1)

#: Incidents per statement when their rows are read by id (bound parameters stay few on SQLite).
_IDS_PER_QUERY = 500


def _chosen_incidents(*, as_of: datetime, since: datetime, parties: tuple[str, ...] | None) -> Any:
    """The ids of the incidents a window starting at `since` may count, or None for every one.

    Only incidents involving every one of `parties`; with a window, only those with a timeline
    row between `since` − `INCIDENT_MARGIN` and `as_of`: a report or account filed in the window,
    or an account whose start falls in it (an account starts at most the deciders' clock skew
    after it is filed). An incident whose rows up to `as_of` all came earlier was reported, and
    had every account in force at `as_of` filed, before that: no window from `since` counts it.
    """
    tl, ip = t.incident_timeline, t.incident_parties
    windowed = since > _EPOCH + INCIDENT_MARGIN
    if parties:
        query = sa.select(ip.c.incident_id).where(ip.c.party == parties[0])
        for other in parties[1:]:
            also = ip.alias()
            query = query.where(ip.c.incident_id.in_(sa.select(also.c.incident_id).where(also.c.party == other)))
        if windowed:
            inside = tl.alias()
            query = query.where(sa.exists().where(inside.c.incident_id == ip.c.incident_id,
                                                  inside.c.time >= since - INCIDENT_MARGIN, inside.c.time <= as_of))
        return query
    if windowed:
        return sa.select(tl.c.incident_id).where(tl.c.time >= since - INCIDENT_MARGIN, tl.c.time <= as_of).distinct()
    return None


async def _timeline_rows(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                         until_seq: int | None) -> list[Any]:
    """The timeline rows (up to `as_of` and `until_seq`) of the chosen incidents, in log order.

    The incidents are chosen first and their rows then read by id: one statement with the choice
    as a sub-select leaves the planner guessing how many incidents it returns (on PostgreSQL a
    guess of thousands turns a dyad's few dozen rows into a scan of the whole timeline). The
    payload comes as JSON text, for pydantic to parse and validate in one pass (`_replay`)."""
    tl = t.incident_timeline
    query = sa.select(tl.c.seq, tl.c.incident_id, tl.c.event_id, tl.c.type, tl.c.time, tl.c.party, tl.c.actor,
                      sa.cast(tl.c.data, sa.Text).label("data")).where(tl.c.time <= as_of)
    if until_seq is not None:
        query = query.where(tl.c.seq <= until_seq)
    chosen = _chosen_incidents(as_of=as_of, since=since, parties=parties)
    if chosen is None:
        return list(await conn.execute(query.order_by(tl.c.seq)))
    ids = sorted(set(await conn.scalars(chosen)))
    rows: list[Any] = []
    for start in range(0, len(ids), _IDS_PER_QUERY):
        rows += await conn.execute(query.where(tl.c.incident_id.in_(ids[start:start + _IDS_PER_QUERY])))
    rows.sort(key=lambda row: row.seq)
    return rows


async def incident_records(conn: Any, *, as_of: datetime, since: datetime, parties: tuple[str, ...] | None,
                           until_seq: int | None) -> list[IncidentRecord]:
    """Every incident a window starting at `since` may count (`_chosen_incidents`), replayed from
    its timeline up to `as_of` (and `until_seq`)."""
    timelines: dict[str, list[Any]] = defaultdict(list)
    for row in await _timeline_rows(conn, as_of=as_of, since=since, parties=parties, until_seq=until_seq):
        timelines[row.incident_id].append(row)
    types = known_types()
    return [record for incident_id, rows in timelines.items()
            if (record := _replay(incident_id, rows, types)) is not None]


def _replay(incident_id: str, rows: list[Any], types: dict[str, Any]) -> IncidentRecord | None:
    """One incident's record from its timeline rows (in log order), folded with the incident
    decider's own `evolve`, so statuses and account versions are the decider's. None when the
    report itself is not among the rows (not known at this cut)."""
    state: Incident | None = None
    versions: list[AccountVersion] = []
    acknowledged: list[tuple[str, datetime]] = []
    statuses: list[tuple[datetime, str]] = []
    for row in rows:
        event = types[row.type].model_validate_json(row.data)  # a third of json.loads + model_validate
        fact = Fact(event_id=row.event_id, aggregate_id=incident_id, party=row.party, actor=row.actor,
                    time=row.time, seq=row.seq)
        state = incident_decider.evolve(state, event, fact)
        statuses.append((row.time, state.status.value))
        if isinstance(event, ie.IncidentAcknowledged):
            acknowledged.append((row.party, row.time))
        if isinstance(event, _ACCOUNT_EVENTS):
            held = state.accounts[row.party]
            a = held.account
            versions.append(AccountVersion(
                party=row.party, version=held.version, recorded_at=row.time, kind=a.kind.value,
                started_at=a.started_at, ended_at=a.ended_at, time_precision=a.time_precision.value,
                lat=a.position.lat if a.position else None, lon=a.position.lon if a.position else None,
                initiator=a.initiator, severity=a.severity, casualties=a.casualties,
            ))
    if state is None or not versions:
        return None
    return IncidentRecord(id=incident_id, reporter=state.reporter, parties=state.parties,
                          reported_at=state.reported_at, accounts=tuple(versions),
                          acknowledged=tuple(acknowledged), statuses=tuple(statuses))
