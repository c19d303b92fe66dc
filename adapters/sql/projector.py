"""The projector: the event stream into the SQL read models, exactly once, in order.

It reads from its checkpoint + 1 and applies events in batches. For each batch it loads the
current state of the aggregates the batch touches (from its own cache of the states its
previous batches produced, else with one `SELECT … IN (…)` per table), folds the batch in
memory (`projections.project`: pure, deterministic) and writes the result in ONE transaction
that first moves the checkpoint from the sequence the batch starts after (a compare-and-set:
a second projector with the same name cannot apply the same batch twice), then writes the
rows in bulk (`bulk.insert_rows`; executemany for updates). A crash anywhere loses nothing
and double-counts nothing: either the rows and the checkpoint are both there, or neither is.

The stream's sequence must be contiguous; a gap raises `core.errors.IntegrityError` naming the
missing range rather than skipping history. Consumer ack state is never trusted: the checkpoint
in the database is the only record of how far the read models go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import tables as t
from adapters.sql.bulk import gc_paused, insert_rows
from adapters.sql.engine import for_writing
from adapters.sql.projections import RowChanges, check_contiguous, project, touched
from adapters.sql.snapshots import StateCache, load_snapshot
from core.errors import Conflict, Unavailable
from core.ports import EventStore, StoredEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

_POLL_SECONDS = 0.05
_RETRY_SECONDS = 1.0


class Projector:
    """Projects `store` into `engine`'s read models under the checkpoint called `name`."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        store: EventStore,
        name: str = "main",
        batch_size: int = 1000,
        idle_seconds: float = 0.1,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self._writer = for_writing(engine)
        self._store = store
        self._name = name
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._committed = 0  # highest sequence this instance has committed
        self._advanced = asyncio.Event()
        self._update_sql: dict[str, Any] = {}
        # Incidents stay open for a while: keep the states of the last several batches at hand.
        self._cache = StateCache(capacity=max(20_000, 4 * batch_size))

    @property
    def name(self) -> str:
        return self._name

    # --- reading the checkpoint ----------------------------------------------------------------

    async def checkpoint(self) -> int:
        """The last stream sequence included in the read models (0: nothing projected)."""
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                sa.select(t.projection_checkpoints.c.last_seq).where(t.projection_checkpoints.c.name == self._name)
            )
        return int(found or 0)

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Read-your-writes: wait until the read models include `seq`; False after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            if self._committed >= seq or await self.checkpoint() >= seq:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            # Woken at once by this process's projector; otherwise poll (another process projects).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), min(remaining, _POLL_SECONDS))

    # --- projecting ----------------------------------------------------------------------------

    async def catch_up(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Project from the checkpoint up to `until` (default: the stream's end as of now).

        Returns the last projected sequence. `progress(done_seq, target_seq)` is called after
        each committed batch. If another projector advances the same checkpoint meanwhile, this
        one continues from wherever that one got to.
        """
        while True:
            position = await self._ensure_checkpoint()
            target = until if until is not None else await self._store.last_seq()
            if target <= position:
                return position
            try:
                return await self._run(self._store.read(after=position, until=target), position, target, progress)
            except _Overtaken:
                log.info("projector %s: another projector advanced the checkpoint; continuing from it", self._name)

    async def follow(self, stop: asyncio.Event) -> None:
        """Keep the read models current until `stop` is set (or the task is cancelled).

        Uses the store's live iterator `follow(after=…)` when it has one, else polls `read`.
        Transient failures (store or database unavailable) are retried; an `IntegrityError`
        (a gap, an event that contradicts its aggregate's history) stops the projector.
        """
        while not stop.is_set():
            try:
                if hasattr(self._store, "follow"):
                    await self._follow_live(stop)
                    if not stop.is_set():  # the live iterator ended: pause, then resume from the checkpoint
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), self._idle_seconds)
                else:
                    await self._follow_polling(stop)
            except _Overtaken:
                continue
            except (Unavailable, Conflict, OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as error:
                log.warning("projector %s: %s; retrying in %.0f s", self._name, error, _RETRY_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _RETRY_SECONDS)

    async def apply(self, batch: Sequence[StoredEvent]) -> int:
        """Apply one batch that must start right after the checkpoint; returns the new checkpoint.
        Raises `Conflict` if another projector moves the checkpoint meanwhile."""
        position = await self._ensure_checkpoint()
        if not batch:
            return position
        try:
            return await self._apply(batch, after=position)
        except _Overtaken:
            raise Conflict(f"another projector advanced the checkpoint {self._name!r} past {position}") from None

    # --- internals -----------------------------------------------------------------------------

    async def _follow_polling(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = await self.checkpoint()
            if await self.catch_up() == before:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._idle_seconds)

    async def _follow_live(self, stop: asyncio.Event) -> None:
        position = await self._ensure_checkpoint()
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue(maxsize=self._batch_size * 4)

        async def pump() -> None:
            async for stored in self._store.follow(after=position):  # type: ignore[attr-defined]
                await queue.put(stored)

        pumping = asyncio.create_task(pump(), name=f"projector-{self._name}-read")
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                getting = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getting, stopping, pumping}, return_when=asyncio.FIRST_COMPLETED)
                if getting not in done:
                    getting.cancel()
                    if pumping in done:
                        pumping.result()  # raises the reader's error, if any
                    return
                batch = [getting.result()]
                while len(batch) < self._batch_size and not queue.empty():
                    batch.append(queue.get_nowait())
                position = await self._apply(batch, after=position)
        finally:
            for task in (pumping, stopping):
                task.cancel()
            await asyncio.gather(pumping, stopping, return_exceptions=True)

    async def _run(
        self, events: AsyncIterator[StoredEvent], position: int, target: int, progress: Progress | None
    ) -> int:
        """Project `events` up to `target` in batches of `batch_size`."""
        async with _closing(events):
            batch: list[StoredEvent] = []
            async for stored in events:
                if stored.seq > target:
                    break
                batch.append(stored)
                if len(batch) >= self._batch_size:
                    position = await self._apply(batch, after=position)
                    batch = []
                    if progress is not None:
                        progress(position, target)
            if batch:
                position = await self._apply(batch, after=position)
                if progress is not None:
                    progress(position, target)
        return position

    async def _ensure_checkpoint(self) -> int:
        current = await self.checkpoint()
        if current:
            return current
        try:
            async with self._writer.begin() as conn:
                exists = await conn.scalar(
                    sa.select(sa.func.count()).where(t.projection_checkpoints.c.name == self._name)
                )
                if not exists:
                    await conn.execute(t.projection_checkpoints.insert().values(name=self._name, last_seq=0, last_hash=None))
        except SAIntegrityError:
            pass  # another projector created it first
        return await self.checkpoint()

    async def _apply(self, batch: Sequence[StoredEvent], *, after: int) -> int:
        try:
            return await self._commit(await self._prepare(batch, after=after), after=after)
        except BaseException:
            self._cache.clear()
            raise

    async def _prepare(self, batch: Sequence[StoredEvent], *, after: int) -> RowChanges:
        """Check and fold a batch in memory (no transaction: the commit's compare-and-set on
        the checkpoint proves afterwards that nobody else projected meanwhile)."""
        check_contiguous(batch, after=after)
        snapshot, missing = self._cache.take(touched(batch), after=after)
        if missing.incident_ids or missing.party_codes:
            async with self._engine.connect() as conn:
                loaded = await load_snapshot(conn, missing)
            snapshot.incidents.update(loaded.incidents)
            snapshot.parties.update(loaded.parties)
        with gc_paused():
            changes = project(snapshot, batch)
        self._cache.remember(changes.after, position=changes.last_seq)
        return changes

    async def _commit(self, changes: RowChanges, *, after: int) -> int:
        """One transaction: move the checkpoint from `after`, write the rows."""
        cp = t.projection_checkpoints
        async with self._writer.begin() as conn:
            moved = await conn.execute(
                cp.update()
                .where(cp.c.name == self._name, cp.c.last_seq == after)
                .values(last_seq=changes.last_seq, last_hash=changes.last_hash)
            )
            if moved.rowcount != 1:
                raise _Overtaken()
            await self._write(conn, changes)
        self._committed = max(self._committed, changes.last_seq)
        self._advanced.set()
        self._advanced = asyncio.Event()
        return changes.last_seq

    async def _write(self, conn: AsyncConnection, changes: RowChanges) -> None:
        for table in t.PROJECTION_TABLES:
            rows = changes.inserts.get(table.name)
            if rows:
                await insert_rows(conn, table, rows)
            rows = changes.updates.get(table.name)
            if rows:
                statement, keys = self._update_statement(table)
                await conn.execute(statement, [_keyed(row, keys) for row in rows])

    def _update_statement(self, table: sa.Table) -> tuple[Any, tuple[str, ...]]:
        cached = self._update_sql.get(table.name)
        if cached is None:
            keys = tuple(c.name for c in table.primary_key.columns)
            where = [table.c[k] == sa.bindparam(f"pk_{k}") for k in keys]
            cached = self._update_sql[table.name] = (table.update().where(*where), keys)
        return cached


class _Overtaken(Exception):
    """Another projector moved this checkpoint first; re-read it and continue from there."""


@contextlib.asynccontextmanager
async def _closing(events: AsyncIterator[Any]) -> AsyncIterator[None]:
    """Close an abandoned reader at once (a JetStream reader holds a consumer on the server)."""
    try:
        yield
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def _keyed(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in keys}
    for k in keys:
        out[f"pk_{k}"] = row[k]
    return out
