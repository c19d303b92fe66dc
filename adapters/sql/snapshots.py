"""Where the projector gets the current state of the aggregates a batch touches.

From its own memory first (`StateCache`: the states its previous batches produced), else from
the read models with one `SELECT … IN (…)` per table. The cache is only trusted for the
checkpoint it was built at: `StateCache.position` must equal the sequence the next batch
starts after, which the checkpoint compare-and-set in the batch transaction then guarantees
nobody else has moved. Anything unexpected clears it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import tables as t
from adapters.sql.projections import IncidentSnapshot, PartySnapshot, RecordKey, RecordSnapshot, Snapshot, Touched
from adapters.sql.record_rows import VIEWS
from adapters.sql.state_codec import incident_state_from_json
from core import parties as p

#: Largest `IN (…)` list per SELECT (well under SQLite's and PostgreSQL's parameter limits).
IN_CHUNK = 500


class StateCache:
    """States after the last batch this projector projected, most recently touched last."""

    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self.position = -1  # the sequence these states include; -1: nothing trusted
        self._incidents: OrderedDict[str, IncidentSnapshot] = OrderedDict()
        self._parties: OrderedDict[str, PartySnapshot] = OrderedDict()
        self._records: OrderedDict[RecordKey, RecordSnapshot] = OrderedDict()

    def clear(self) -> None:
        self.position = -1
        self._incidents.clear()
        self._parties.clear()
        self._records.clear()

    def take(self, wanted: Touched, *, after: int) -> tuple[Snapshot, Touched]:
        """The cached part of `wanted` and what is left to load (all of it if stale)."""
        if after != self.position:
            self.clear()
            return Snapshot(), wanted
        found = Snapshot(
            incidents={i: self._incidents[i] for i in wanted.incident_ids if i in self._incidents},
            parties={c: self._parties[c] for c in wanted.party_codes if c in self._parties},
            records={k: self._records[k] for k in wanted.records if k in self._records},
        )
        missing = Touched(
            incident_ids=frozenset(i for i in wanted.incident_ids if i not in found.incidents),
            party_codes=frozenset(c for c in wanted.party_codes if c not in found.parties),
            records=frozenset(k for k in wanted.records if k not in found.records),
        )
        return found, missing

    def remember(self, after: Snapshot, *, position: int) -> None:
        """Keep the states a batch produced (the caller clears the cache if that batch then
        fails to commit); the least recently touched are forgotten beyond `capacity`."""
        for key, incident in after.incidents.items():
            self._incidents[key] = incident
            self._incidents.move_to_end(key)
        for key, party in after.parties.items():
            self._parties[key] = party
            self._parties.move_to_end(key)
        for record_key, record in after.records.items():
            self._records[record_key] = record
            self._records.move_to_end(record_key)
        for store in (self._incidents, self._parties, self._records):
            while len(store) > self.capacity:
                store.popitem(last=False)
        self.position = position


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


async def load_snapshot(conn: AsyncConnection, wanted: Touched) -> Snapshot:
    """The read models' current rows of `wanted`, as decider states (absent: not projected yet)."""
    snapshot = Snapshot()
    i = t.incidents
    for chunk in _chunks(wanted.incident_ids):
        result = await conn.execute(sa.select(i.c.id, i.c.state, i.c.last_seq, i.c.version).where(i.c.id.in_(chunk)))
        for row in result:
            snapshot.incidents[row.id] = IncidentSnapshot(
                state=incident_state_from_json(row.state), last_seq=row.last_seq, version=row.version
            )
    o, pt = t.officers, t.parties
    for chunk in _chunks(wanted.party_codes):
        officers: dict[str, dict[str, str]] = {}
        rows = await conn.execute(
            sa.select(o.c.party_code, o.c.id, o.c.name).where(o.c.party_code.in_(chunk)).order_by(o.c.registered_seq)
        )
        for row in rows:
            officers.setdefault(row.party_code, {})[row.id] = row.name
        for row in await conn.execute(sa.select(pt).where(pt.c.code.in_(chunk))):
            snapshot.parties[row.code] = PartySnapshot(
                state=p.Party(
                    code=row.code, name=row.name, registered_at=row.registered_at,
                    officers=officers.get(row.code, {}),
                ),
                registered_seq=row.registered_seq,
                last_seq=row.last_seq,
                version=row.version,
            )
    await _load_records(conn, wanted, snapshot)
    return snapshot


async def _load_records(conn: AsyncConnection, wanted: Touched, snapshot: Snapshot) -> None:
    a = t.aggregate_states
    by_type: dict[str, list[str]] = {}
    for aggtype, aggregate_id in wanted.records:
        by_type.setdefault(aggtype, []).append(aggregate_id)
    for aggtype, ids in sorted(by_type.items()):
        codec = VIEWS[aggtype].codec
        for chunk in _chunks(ids):
            result = await conn.execute(
                sa.select(a.c.id, a.c.state, a.c.last_seq, a.c.version).where(a.c.aggtype == aggtype, a.c.id.in_(chunk))
            )
            for row in result:
                snapshot.records[(aggtype, row.id)] = RecordSnapshot(
                    state=codec.validate_python(row.state), last_seq=row.last_seq, version=row.version
                )
