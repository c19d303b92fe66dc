"""The read models of a few aggregates as they stood at a stream sequence: an in-memory overlay.

An as-of read (adapters/sql/as_of.py) needs, for each aggregate that changed after the cut `S`,
the rows the projector *would have written* had it stopped at `S`. We get them the only way that
cannot diverge from the live read models: read the aggregate's events from the event store, keep
those with `seq <= S`, and run them through the projector's own pure `projections.project` — the
same decoding, upcasting, deciders' `evolve` and row code (`incident_rows`, `record_rows` views,
parties) — then write the rows, with the projector's own `bulk.insert_rows`, into a private
in-memory SQLite database with the read-model schema. The live query functions
(`queries`, `hotline_queries`, `inspection_queries`) then run against that database unchanged, so
filters, visibility, ordering and JSON shapes are the live code's, not a re-implementation.

Why a database and not Python filters: a second copy of every filter would drift from the SQL.
Why in memory: the rows live for one request; the read models are never written by anyone but
the projector.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from adapters.sql import tables as t
from adapters.sql.bulk import insert_rows
from adapters.sql.projections import Snapshot, project
from core.errors import IntegrityError
from core.ports import AggregateRef, EventStore, StoredEvent

#: How many aggregates are read from the event store at once while building an overlay.
PARALLEL_LOADS = 16


async def events_until(store: EventStore, refs: Sequence[AggregateRef], *, at: int) -> list[StoredEvent]:
    """The events of `refs` with a stream sequence `<= at`, in stream order.

    Each aggregate is read with the store's per-aggregate `load` (a batched direct get on
    JetStream) and cut at `at`: what was appended later is dropped before anything is folded."""
    gate = asyncio.Semaphore(PARALLEL_LOADS)

    async def one(ref: AggregateRef) -> list[StoredEvent]:
        async with gate:
            return [stored for stored in await store.load(ref) if stored.seq <= at]

    found = await asyncio.gather(*(one(ref) for ref in refs))
    return sorted((stored for events in found for stored in events), key=lambda stored: stored.seq)


@dataclass(kw_only=True)
class Overlay:
    """Read-model rows of some aggregates as of sequence `at`, queryable like the live database.

    Use as `async with await Overlay.build(...) as overlay:`; `overlay.engine` goes wherever the
    live query functions take a `Source`. `states` holds the folded record states (agreements,
    hotline, inspections…) by `(aggtype, id)`, for what a route computes from a state rather
    than from rows (an agreement's upcoming check-call slots)."""

    at: int
    engine: AsyncEngine
    states: dict[tuple[str, str], Any] = field(default_factory=dict)

    @classmethod
    async def build(cls, store: EventStore, refs: Sequence[AggregateRef], *, at: int) -> "Overlay":
        events = await events_until(store, refs, at=at)
        changes = project(Snapshot(), events)  # nothing known before: every row is an insert
        if changes.updates:
            raise IntegrityError(f"projecting {len(refs)} aggregates from nothing produced updates of "
                                 f"{sorted(changes.updates)}; the projection is not a function of the history")
        engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(t.metadata.create_all, tables=list(t.PROJECTION_TABLES))
                for table in t.PROJECTION_TABLES:
                    await insert_rows(conn, table, changes.inserts.get(table.name, []))
        except BaseException:
            await engine.dispose()
            raise
        states = {key: snap.state for key, snap in changes.after.records.items()}
        return cls(at=at, engine=engine, states=states)

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> "Overlay":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
