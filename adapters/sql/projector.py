"""The projector: the event stream into the SQL read models, exactly once, in order.

It reads from its checkpoint + 1 and applies events in batches. For each batch it loads the
current state of the aggregates the batch touches (from its own cache of the states its
previous batches produced, else with one `SELECT … IN (…)` per table), folds the batch in
memory (`projections.project`: pure, deterministic) and writes the result in ONE transaction
that first moves the checkpoint from the sequence the batch starts after (a compare-and-set:
a second projector with the same name cannot apply the same batch twice), then writes the
rows in bulk (`bulk.BulkWriter`). A crash anywhere loses nothing
and double-counts nothing: either the rows and the checkpoint are both there, or neither is.

A catch-up overlaps each batch's commit with reading and folding the next one (`_run`), reads
the stream in chunks (`read_batches`), loads no states while rebuilding into empty read models,
and runs with a relaxed garbage collector (`bulk.collector_relaxed`).

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
from adapters.sql.bulk import BulkWriter
from adapters.sql.engine import for_writing
from adapters.sql.gc_control import collector_relaxed, gc_paused
from adapters.sql.projections import RowChanges, StreamGap, check_contiguous, project, touched
from adapters.sql.snapshots import StateCache, load_snapshot
from adapters.sql.writer_process import WriterProcess, writer_target
from core.errors import Conflict, Unavailable
from core.ports import EventStore, StoredEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

#: Catch-ups of at least this many events commit from a writer process (`writer_process`), where
#: the database allows one: below it, starting a process costs more than it saves.
WRITER_PROCESS_FROM = 20_000

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
        writer_process_from: int | None = WRITER_PROCESS_FROM,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self._writer = for_writing(engine)
        self._store = store
        self._name = name
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._writer_process_from = writer_process_from
        self._committed = 0  # highest sequence this instance has committed
        self._advanced = asyncio.Event()
        self._update_sql: dict[str, Any] = {}
        # Incidents stay open for a while: keep the states of the last several batches at hand.
        self._cache = StateCache(capacity=max(20_000, 4 * batch_size))
        # True while the cache holds every aggregate in the read models: it has been built
        # since they were empty (checkpoint 0) and has forgotten nothing (`_created` counts).
        self._cache_complete = False
        self._created = 0

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
            # `asyncio.timeout`, not `wait_for`: Python 3.11's `wait_for` can swallow a
            # cancellation that arrives as its inner wait completes (python/cpython#87555).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, _POLL_SECONDS)):
                    await self._advanced.wait()

    # --- projecting ----------------------------------------------------------------------------

    async def catch_up(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Project from the checkpoint up to `until` (default: the stream's end as of now).

        Returns the last projected sequence. `progress(done_seq, target_seq)` is called after
        each committed batch. If another projector advances the same checkpoint meanwhile, this
        one continues from wherever that one got to.
        """
        rereads, reread_at = 0, 0
        with collector_relaxed():
            while True:
                position = await self._ensure_checkpoint()
                target = until if until is not None else await self._store.last_seq()
                if target <= position:
                    return position
                try:
                    return await self._run(self._batches(after=position, until=target), position, target, progress)
                except _Overtaken:
                    log.info("projector %s: another projector advanced the checkpoint; continuing from it", self._name)
                except StreamGap as gap:
                    # count only rereads that made no progress: a long catch-up may need many
                    rereads = rereads + 1 if gap.first <= reread_at else 1
                    reread_at = gap.first
                    if rereads > _REREADS or not await self._read_glitch(gap):
                        raise

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
            except StreamGap as gap:
                if not await self._read_glitch(gap):
                    raise
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

    async def _read_glitch(self, gap: StreamGap) -> bool:
        """True when the "missing" sequences are on the stream after all: the reader dropped them
        (nats-py discards deliveries beyond a subscription's pending limits), so reading again
        from the checkpoint is right. A store that cannot say (no `get`) is trusted: a real gap."""
        get = getattr(self._store, "get", None)
        if get is None or await get(gap.first) is None:
            return False
        log.warning("projector %s: the reader skipped sequences %d–%d that the stream holds; reading again"
                    " from the checkpoint", self._name, gap.first, gap.last)
        return True

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

    async def _batches(self, *, after: int, until: int) -> AsyncIterator[list[StoredEvent]]:
        """The stream from `after` to `until` in lists of `batch_size` (the last may be shorter).

        Uses the store's `read_batches` when it has one (no async step per event), else `read`."""
        size = self._batch_size
        reader = getattr(self._store, "read_batches", None)
        chunks: AsyncIterator[Sequence[StoredEvent]] = (
            reader(after=after, until=until, size=size) if reader is not None
            else _singles(self._store.read(after=after, until=until))
        )
        pending: list[StoredEvent] = []
        async with _closing(chunks):
            async for chunk in chunks:
                pending.extend(chunk)
                while len(pending) >= size:
                    yield pending[:size]
                    pending = pending[size:]
        if pending:
            yield pending

    async def _run(
        self, batches: AsyncIterator[list[StoredEvent]], position: int, target: int, progress: Progress | None
    ) -> int:
        """Project `batches` up to `target`, the commit of one batch overlapping the reading and
        folding of the next.

        The next batch is folded on the states the previous one produced (the cache holds them
        from `_prepare` on), before that batch has committed; its own commit starts only once
        the previous commit succeeded (and would fail its checkpoint compare-and-set otherwise).
        On any failure the cache is cleared and nothing prepared after the failed batch is
        written: the caller starts again from the checkpoint in the database."""
        committing: asyncio.Task[int] | None = None
        prepared = position
        process = await self._writer_process(target - position)
        try:
            async with _closing(batches):
                async for batch in batches:
                    batch = [stored for stored in batch if stored.seq <= target]
                    if not batch:
                        break
                    changes = await self._prepare(batch, after=prepared, committing=committing)
                    after, prepared = prepared, changes.last_seq
                    if committing is not None:
                        position = await committing
                        committing = None
                        if progress is not None:
                            progress(position, target)
                    committing = asyncio.create_task(self._commit(changes, after=after, process=process))
                    # Let the commit start now: reading and folding the next batch may not yield
                    # to the event loop before it is done.
                    await asyncio.sleep(0)
                    if prepared >= target:
                        break
            if committing is not None:
                position = await committing
                committing = None
                if progress is not None:
                    progress(position, target)
        except BaseException as error:
            self._cache.clear()
            self._cache_complete = False
            if committing is not None:
                if isinstance(error, asyncio.CancelledError):
                    committing.cancel()
                await asyncio.gather(committing, return_exceptions=True)  # never leave it running
            raise
        finally:
            if process is not None:
                await process.close()
        return position

    async def _writer_process(self, backlog: int) -> WriterProcess | None:
        """A writer process for a catch-up of `backlog` events, where one pays (`writer_process`)."""
        if self._writer_process_from is None or backlog < self._writer_process_from:
            return None
        target = writer_target(self._engine)
        if target is None or not all(target.queue().supports(table) for table in t.PROJECTION_TABLES):
            return None
        try:
            return await WriterProcess.start(target)
        except (OSError, Unavailable) as error:  # slower in-process, but never stuck on this
            log.warning("projector %s: no writer process (%s); committing in-process", self._name, error)
            return None

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
            self._cache_complete = False
            raise

    async def _prepare(
        self, batch: Sequence[StoredEvent], *, after: int, committing: asyncio.Task[int] | None = None
    ) -> RowChanges:
        """Check and fold a batch in memory (no transaction: the commit's compare-and-set on
        the checkpoint proves afterwards that nobody else projected meanwhile).

        `committing` is the previous batch's commit, possibly still running: states missing
        from the cache are read from the database only once it is done, since it may hold some
        of them (the cache keeps the previous batch's states, but never trust that alone)."""
        check_contiguous(batch, after=after)
        if after == 0:  # empty read models: every aggregate is new until the cache forgets one
            self._cache_complete, self._created = True, 0
        elif after != self._cache.position:
            self._cache_complete = False
        snapshot, missing = self._cache.take(touched(batch), after=after)
        if self._cache_complete:
            # Whatever the cache lacks was created after the read models were empty: nothing to
            # load. The cache forgets only beyond `capacity` entries of one kind, and it cannot
            # hold more than the aggregates created since, so past that count stop trusting it.
            self._created += sum(len(keys) for keys in vars(missing).values())
            self._cache_complete = self._created <= self._cache.capacity
        elif missing:
            if committing is not None:
                await committing
            async with self._engine.connect() as conn:
                loaded = await load_snapshot(conn, missing)
            snapshot.merge(loaded)
        with gc_paused():
            changes = project(snapshot, batch)
        self._cache.remember(changes.after, position=changes.last_seq)
        return changes

    async def _commit(self, changes: RowChanges, *, after: int, process: WriterProcess | None = None) -> int:
        """One transaction: move the checkpoint from `after`, write the rows (here, or in the
        writer `process`)."""
        if process is not None:
            queued = process.target.queue()
            with gc_paused():
                for table in t.PROJECTION_TABLES:
                    queued.insert(table, changes.inserts.get(table.name, ()))
                    queued.update(table, changes.updates.get(table.name, ()))
            if not await process.commit(
                name=self._name, after=after, last_seq=changes.last_seq, last_hash=changes.last_hash, queued=queued.take()
            ):
                raise _Overtaken()
        else:
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
        writer = BulkWriter(conn)
        for table in t.PROJECTION_TABLES:
            await writer.insert(table, changes.inserts.get(table.name, ()))
            rows = changes.updates.get(table.name)
            if rows and not await writer.update(table, rows):
                await writer.flush()
                statement, keys = self._update_statement(table)
                await conn.execute(statement, [_keyed(row, keys) for row in rows])
        await writer.flush()

    def _update_statement(self, table: sa.Table) -> tuple[Any, tuple[str, ...]]:
        cached = self._update_sql.get(table.name)
        if cached is None:
            keys = tuple(c.name for c in table.primary_key.columns)
            where = [table.c[k] == sa.bindparam(f"pk_{k}") for k in keys]
            cached = self._update_sql[table.name] = (table.update().where(*where), keys)
        return cached


#: How often a catch-up reads again, without progress, after its reader dropped deliveries.
_REREADS = 5


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


async def _singles(events: AsyncIterator[StoredEvent]) -> AsyncIterator[list[StoredEvent]]:
    async with _closing(events):
        async for stored in events:
            yield [stored]


def _keyed(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in keys}
    for k in keys:
        out[f"pk_{k}"] = row[k]
    return out
