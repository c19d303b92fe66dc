"""Read models as they stood at a past stream sequence `S` (as-of reads), without a replay.

The read models hold the *current* rows; what a route returned when the projection stood at `S`
is rebuilt from two parts:

- **unchanged records** — those whose last event is at or before `S`. Their live row *is* their
  row at `S` (the projection is a function of each aggregate's history). The live query answers
  them with one more condition, `until_seq=S` (`last_seq <= S`).
- **records changed after `S`** that already existed at `S` — found in the `events` index (an
  event after `S` and one at or before it). Their events up to `S` are read from the event store
  and projected, by the projector's own code, into an in-memory overlay (adapters/sql/overlay.py);
  the same live query runs there.

Records created after `S` are in neither part. The two answers are merged in the route's order
and cut to its limit, so filters, visibility (the `party=` a route passes), pagination cursors
and the JSON shape are the live code's own. Strings are ordered by the live database's collation
(PostgreSQL may not sort like Python).

The caller must make sure the read models include `S` (checkpoint >= S) before reading: rows of a
record the projector has not reached would be missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.overlay import Overlay
from adapters.sql.queries import IncidentPage, Source, encode_cursor
from core.errors import Invalid
from core.incidents.events import AGGREGATE as INCIDENT
from core.ports import AggregateRef, EventStore

T = TypeVar("T")
#: A live query with everything but the source and the cut bound: `(source, until_seq) -> rows`.
Query = Callable[[Source, int | None], Awaitable[T]]
#: More records than this changed since the cut: rebuild with `parley replay --until` instead.
MAX_FOLDED = 5000


@dataclass(frozen=True)
class Order:
    """A list's ORDER BY as `(field, descending)` pairs; `ident` names a row uniquely."""

    keys: tuple[tuple[str, bool], ...]
    ident: tuple[str, ...] = ("id",)


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


async def recorded_at(source: AsyncEngine, seq: int) -> datetime | None:
    """When the stream recorded the event at `seq` (from the events index)."""
    e = t.events
    async with source.connect() as conn:
        return await conn.scalar(sa.select(e.c.recorded).where(e.c.seq == seq))


class AsOf:
    """As-of reads at sequence `seq`: `async with AsOf(...) as reader:` (overlays built on the
    way are dropped at the end)."""

    def __init__(self, *, engine: AsyncEngine, store: EventStore, seq: int) -> None:
        self.engine = engine
        self.store = store
        self.seq = seq
        self._overlays: dict[tuple[str, tuple[str, ...] | None], Overlay | None] = {}

    async def __aenter__(self) -> "AsOf":
        return self

    async def __aexit__(self, *_: object) -> None:
        for overlay in self._overlays.values():
            if overlay is not None:
                await overlay.close()
        self._overlays.clear()

    # --- which records changed ----------------------------------------------------------------

    async def changed(self, aggtype: str, ids: Sequence[str] | None = None) -> list[str]:
        """Aggregates of `aggtype` (among `ids`) that existed at `seq` and changed after it.
        Scans the events after the cut only, so a recent cut is cheap."""
        e, earlier = t.events, t.events.alias("earlier")
        query = (
            sa.select(e.c.aggregate_id).distinct()
            .where(e.c.aggtype == aggtype, e.c.seq > self.seq)
            .where(sa.exists().where(earlier.c.aggregate_id == e.c.aggregate_id, earlier.c.aggtype == aggtype,
                                     earlier.c.seq <= self.seq))
        )
        if ids is not None:
            query = query.where(e.c.aggregate_id.in_(list(ids)))
        async with self.engine.connect() as conn:
            found = sorted(row.aggregate_id for row in await conn.execute(query))
        if len(found) > MAX_FOLDED:
            raise Invalid(f"{len(found)} {aggtype} records changed since sequence {self.seq}, more than an as-of "
                          f"read rebuilds per request ({MAX_FOLDED}); use `parley replay --until-seq {self.seq}`")
        return found

    async def overlay(self, aggtype: str, ids: Sequence[str] | None = None) -> Overlay | None:
        """The overlay of the `aggtype` records (among `ids`) changed after the cut; None when
        there are none. Built once per reader and argument."""
        key = (aggtype, None if ids is None else tuple(sorted(ids)))
        if key not in self._overlays:
            changed = await self.changed(aggtype, ids)
            refs = [AggregateRef(type=aggtype, id=i) for i in changed]
            self._overlays[key] = await Overlay.build(self.store, refs, at=self.seq) if refs else None
        return self._overlays[key]

    # --- reads --------------------------------------------------------------------------------

    async def record(self, aggtype: str, aggregate_id: str, get: Callable[[Source], Awaitable[T | None]]) -> T | None:
        """One record (`get` is the live query, visibility included): the live row when the
        record has not changed since the cut, else its row rebuilt at the cut; None when it did
        not exist then (or is not the caller's to see)."""
        live = await get(self.engine)
        source = await self.source_for(aggtype, aggregate_id, None if live is None else _get(live, "last_seq"))
        if source is self.engine:
            return live
        return None if source is None else await get(source)

    async def source_for(self, aggtype: str, aggregate_id: str, live_last_seq: int | None) -> Source | None:
        """Where one record's rows stand as they did at the cut: the live database when its last
        event (`live_last_seq`; None: no live row) is at or before the cut, the overlay when it
        changed since, None when it was created after the cut."""
        if live_last_seq is None or live_last_seq <= self.seq:
            return self.engine
        overlay = await self.overlay(aggtype, [aggregate_id])
        return None if overlay is None else overlay.engine

    async def state(self, aggtype: str, aggregate_id: str) -> Any | None:
        """A record aggregate's folded state at the cut (None: it did not exist then)."""
        refs = [AggregateRef(type=aggtype, id=aggregate_id)]
        async with await Overlay.build(self.store, refs, at=self.seq) as overlay:
            return overlay.states.get((aggtype, aggregate_id))

    async def listing(self, aggtype: str, query: Query[list[T]], order: Order, *, limit: int | None = None) -> list[T]:
        """A list route's rows at the cut: `query` is the live query (filters, visibility,
        cursor and limit bound), run on the unchanged live rows and on the overlay."""
        live = await query(self.engine, self.seq)
        overlay = await self.overlay(aggtype)
        if overlay is None:
            return live
        return await self.merge(live, await query(overlay.engine, self.seq), order, limit=limit)

    async def incident_page(self, query: Query[IncidentPage], *, limit: int) -> IncidentPage:
        """`queries.list_incidents` at the cut, its `next_cursor` included."""
        live = await query(self.engine, self.seq)
        overlay = await self.overlay(INCIDENT)
        if overlay is None:
            return live
        folded = await query(overlay.engine, self.seq)
        both = await self.merge(live.items, folded.items, Order((("reported_at", True), ("id", True))))
        more = live.next_cursor is not None or folded.next_cursor is not None or len(both) > limit
        items = both[:limit]
        return IncidentPage(items=items, next_cursor=encode_cursor(items[-1].reported_at, items[-1].id) if more else None)

    async def merge(self, live: list[T], folded: list[T], order: Order, *, limit: int | None = None) -> list[T]:
        """Both answers in the route's order, each record once, at most `limit`."""
        seen: set[tuple[Any, ...]] = set()
        rows: list[T] = []
        for row in [*folded, *live]:  # a record that changed while we read is in both: equal at the cut
            ident = tuple(_get(row, name) for name in order.ident)
            if ident not in seen:
                seen.add(ident)
                rows.append(row)
        ranks = await self._collation({v for row in rows for name, _ in order.keys
                                       if isinstance(v := _get(row, name), str)})
        for name, descending in reversed(order.keys):  # stable sorts, last key first
            rows.sort(key=lambda row: _sortable(_get(row, name), ranks), reverse=descending)
        return rows if limit is None else rows[:limit]

    async def _collation(self, values: set[str]) -> dict[str, int]:
        """Each string's rank in the live database's ORDER BY (SQLite compares code points, as
        Python does; PostgreSQL uses the database collation)."""
        if self.engine.dialect.name == "sqlite" or len(values) < 2:
            return {value: rank for rank, value in enumerate(sorted(values))}
        keys = sa.union_all(*(sa.select(sa.literal(v, sa.String).label("k")) for v in sorted(values))).subquery()
        async with self.engine.connect() as conn:
            ordered = [row.k for row in await conn.execute(sa.select(keys.c.k).order_by(keys.c.k))]
        return {value: rank for rank, value in enumerate(ordered)}


def _sortable(value: Any, ranks: dict[str, int]) -> Any:
    if isinstance(value, str):
        return ranks[value]
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value
