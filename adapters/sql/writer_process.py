"""Committing the projector's batches from a second process, for long catch-ups.

Why: a rebuild is CPU-bound in one Python process — reading and decoding the stream, folding,
building rows, then binding them (SQLite's `executemany`) or formatting them (PostgreSQL's
`COPY`) — and the GIL lets the threads it has use one core between them. This moves the
binding, formatting and the transaction into a child process (`writer_child`), overlapping the
next batch's reading and folding, so a rebuild uses both cores of a small machine.

What crosses the pipe is each statement's SQL and its parameter tuples of plain values, JSON
and times already text (`row_plans.QueuedWrites`), in `marshal` format: the same interpreter on
both ends, and about twice as fast as `pickle` on a real batch (8 against 15 µs per event in the
parent; `pickle` keeps a memo entry for every object it writes).

Each commit is the same single transaction as in-process (checkpoint compare-and-set, then the
rows), so the projector's guarantees hold: a crash of either process leaves the checkpoint and
the rows agreeing, and a restart continues from the checkpoint. Used only where it pays: a
SQLite *file* or PostgreSQL through psycopg, and a catch-up of at least
`Projector(writer_process_from=…)` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import marshal
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.row_plans import QueuedWrites, Target, quoted
from adapters.sql.sqlite_raw import Queued
from adapters.sql.writer_child import FORMAT, LENGTH, receive
from core.errors import IntegrityError, Unavailable

_CHILD = "adapters.sql.writer_child"
_CLOSE_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class WriterTarget:
    """Where a writer process writes: its backend, what it opens, and the rows' target."""

    backend: str  # "sqlite" | "postgresql"
    database: str  # a file path, or a libpq connection string
    rows: Target
    label: str  # for messages: never holds a password

    def queue(self) -> QueuedWrites:
        return QueuedWrites(self.rows)


def writer_target(engine: AsyncEngine) -> WriterTarget | None:
    """Where a writer process for `engine` would write, or None where there is none: SQLite in
    memory or through a `file:` URI (another process cannot open the same database), or a
    driver other than psycopg for PostgreSQL."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
            return None
        path = str(Path(database).expanduser().resolve())
        return WriterTarget(backend="sqlite", database=path, rows="sqlite", label=path)
    if (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg"):
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        label = url.set(drivername="postgresql").render_as_string(hide_password=True)
        return WriterTarget(backend="postgresql", database=conninfo, rows="postgresql-text", label=label)
    return None


def checkpoint_sql(backend: str) -> str:
    """The compare-and-set of a projector's checkpoint; parameters: last_seq, last_hash, name, after."""
    mark = "?" if backend == "sqlite" else "%s"
    cp = t.projection_checkpoints
    return (f"UPDATE {quoted(cp.name)} SET {quoted(cp.c.last_seq.name)} = {mark}, {quoted(cp.c.last_hash.name)} = {mark}"
            f" WHERE {quoted(cp.c.name.name)} = {mark} AND {quoted(cp.c.last_seq.name)} = {mark}")


class WriterProcess:
    """One child process committing batches into one database, one request at a time.

    `start()` it, `commit()` batches, `close()` it (also on errors: it never outlives its
    owner). Failures surface as Parley errors: `Unavailable` when the database could not write
    or the child stopped (retry from the checkpoint), `IntegrityError` when the rows were
    refused.

    Each exchange (request out, reply in) runs on a worker thread with blocking pipes, not on
    the event loop: the projector folds the next batch in long synchronous stretches, and an
    event-loop transport would move a batch's megabyte through the 64 KiB pipe only between
    them — the child would wait, and the rebuild with it (measured: 40 ms per batch)."""

    def __init__(self, process: subprocess.Popen[bytes], target: WriterTarget) -> None:
        self._process = process
        self._target = target
        self._checkpoint_sql = checkpoint_sql(target.backend)

    @classmethod
    async def start(cls, target: WriterTarget) -> "WriterProcess":
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_environment(),
        )
        writer = cls(process, target)
        try:
            reply = await writer._exchange(("open", target.backend, target.database))
        except BaseException:
            await writer.close()
            raise
        if reply != ("ready",):  # pragma: no cover - the child answers nothing else first
            await writer.close()
            raise Unavailable(f"the writer process for {target.label} did not start: {reply!r}")
        return writer

    @property
    def target(self) -> WriterTarget:
        return self._target

    async def commit(
        self, *, name: str, after: int, last_seq: int, last_hash: str | None, queued: Sequence[Queued]
    ) -> bool:
        """Move checkpoint `name` from `after` to `last_seq` and run `queued`, in one transaction.
        False, writing nothing, when the checkpoint was not at `after` (another projector)."""
        reply = await self._exchange(("commit", self._checkpoint_sql, name, after, last_seq, last_hash, queued))
        if reply[0] == "committed":
            return True
        if reply[0] == "overtaken":
            return False
        batch = f"batch {after + 1}–{last_seq}"
        if reply[0] == "unavailable":
            raise Unavailable(f"the read models at {self._target.label} could not take {batch}: {reply[1]}")
        raise IntegrityError(f"the read models at {self._target.label} refused {batch}: {reply[1]}")

    async def close(self) -> None:
        """End the child: its input closed, it finishes its transaction (or rolls it back, if
        the request never arrived whole) and exits; killed if it has not within
        `_CLOSE_SECONDS`, or at once if the caller is cancelled meanwhile (an interrupted
        transaction is rolled back by the database). Safe to call more than once."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            await asyncio.to_thread(process.wait, _CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        except BaseException:
            process.kill()
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()

    async def _exchange(self, message: Any) -> Any:
        payload = marshal.dumps(message, FORMAT)
        try:
            return await asyncio.to_thread(_request, self._process, payload)
        except (BrokenPipeError, ConnectionResetError, EOFError, ValueError) as error:
            raise self._stopped() from error

    def _stopped(self) -> Unavailable:
        code = self._process.poll()
        how = "stopped" if code is None else f"exited with status {code}"
        return Unavailable(f"the writer process for {self._target.label} {how}; the read models end at their checkpoint")


def _request(process: subprocess.Popen[bytes], payload: bytes) -> Any:
    """On a worker thread: one frame out, one frame back (EOFError if the child is gone)."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(LENGTH.pack(len(payload)))
    process.stdin.write(payload)
    process.stdin.flush()
    reply = receive(process.stdout)
    if reply is None:
        raise EOFError("the writer process closed its output")
    return reply


def _child_environment() -> dict[str, str]:
    """This environment, with the directory holding the `adapters` package first on the child's
    path (the parent may have found it through its working directory or a test runner)."""
    import adapters

    root = str(Path(adapters.__file__).resolve().parent.parent)
    environment = dict(os.environ)
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = root if not existing else os.pathsep.join([root, existing])
    return environment
