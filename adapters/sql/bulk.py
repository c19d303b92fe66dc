"""Writing a batch of rows as fast as each database allows, inside the caller's transaction.

SQLite: one driver-level `executemany` of ready-made tuples — SQLAlchemy's per-row parameter
processing was half the projector's write time. PostgreSQL: `COPY … FROM STDIN` on the same
psycopg connection — measured about 4× SQLAlchemy's executemany there, which psycopg runs as
one INSERT per row. Values are converted exactly as the column types would bind them (UTC
datetimes in SQLAlchemy's SQLite storage format, JSON text, SQL NULL for None, booleans as
0/1 on SQLite), so every path stores the same content; a test compares them. A table with a
column type not listed here falls back to plain SQLAlchemy executemany.
"""

from __future__ import annotations

import contextlib
import gc
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Callable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql.tables import UTCDateTime
from core.jsonio import dumps_text

Row = dict[str, Any]
_Convert = Callable[[Any], Any]
_Plan = list[tuple[str, _Convert | None]]

_PLAIN = (sa.String, sa.Integer, sa.Double)  # Text, BigInteger… are subclasses
_plans: dict[tuple[str, str], _Plan | None] = {}


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> None:
    """INSERT `rows` (dicts with every column of `table`) in the current transaction."""
    writer = BulkWriter(conn)
    await writer.insert(table, rows)
    await writer.flush()


async def update_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> bool:
    """UPDATE `rows` by primary key in the current transaction (see `BulkWriter.update`)."""
    writer = BulkWriter(conn)
    done = await writer.update(table, rows)
    await writer.flush()
    return done


class BulkWriter:
    """The row writes of one transaction, applied in the order they are given.

    SQLite: each write becomes one driver-level `executemany`, queued and run at `flush()` in a
    single hand-over to aiosqlite's worker thread. Statement by statement, a projector commit
    took ~30 hand-overs (cursor, executemany, close, for each table), and each one waits for
    the event-loop thread to let go of the GIL while it folds the next batch: the commits ran at
    half their speed and set the pace of a rebuild. PostgreSQL: `COPY` / `executemany` at once.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._dialect = conn.dialect
        self._queued: list[tuple[str, list[Sequence[Any]]]] = []

    async def insert(self, table: sa.Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        plan = _plan(table, self._dialect.name)
        if plan is None or not self._fast():
            await self.flush()
            await self._conn.execute(table.insert(), list(rows))
            return
        if self._dialect.name == "postgresql":
            await _copy(self._conn, table, plan, rows)
            return
        quote = self._dialect.identifier_preparer.quote
        statement = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name, _ in plan)})"
            f" VALUES ({', '.join('?' for _ in plan)})"
        )
        self._queued.append((statement, _values(plan, rows)))

    async def update(self, table: sa.Table, rows: Sequence[Row]) -> bool:
        """UPDATE full rows by primary key, converted like inserts. False, writing nothing, where
        this path does not apply (the caller uses SQLAlchemy). SQLAlchemy's executemany processed
        every parameter in Python (the incident state through `json.dumps`): ~8 % of a rebuild."""
        plan = _plan(table, self._dialect.name)
        if not rows or plan is None or not self._fast():
            return not rows
        keys = [column.name for column in table.primary_key.columns]
        order = _ordered_plan(table, self._dialect.name, keys, plan)
        quote = self._dialect.identifier_preparer.quote
        mark = "?" if self._dialect.name == "sqlite" else "%s"
        statement = (
            f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(name)} = {mark}' for name, _ in order[:-len(keys)])}"
            f" WHERE {' AND '.join(f'{quote(name)} = {mark}' for name in keys)}"
        )
        values = _values(order, rows)
        if self._dialect.name == "sqlite":
            self._queued.append((statement, values))
        else:
            raw = await self._conn.get_raw_connection()
            async with raw.driver_connection.cursor() as cursor:
                await cursor.executemany(statement, values)
        return True

    async def flush(self) -> None:
        """Run the queued SQLite statements, in order, in one call on the driver's thread."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        raw = await self._conn.get_raw_connection()
        driver = raw.driver_connection
        run_on_thread = getattr(driver, "_execute", None)  # aiosqlite's own hand-over (private)
        if run_on_thread is None:  # another SQLite driver: statement by statement
            for statement, values in queued:
                await self._conn.exec_driver_sql(statement, values)
            return
        await run_on_thread(_executemany_all, driver._conn, queued)

    def _fast(self) -> bool:
        return self._dialect.name == "sqlite" or (self._dialect.name, self._dialect.driver) == ("postgresql", "psycopg")


def _executemany_all(connection: Any, queued: list[tuple[str, list[Sequence[Any]]]]) -> None:
    """On aiosqlite's thread: every queued statement on the raw `sqlite3` connection."""
    for statement, values in queued:
        connection.executemany(statement, values)


def _values(plan: _Plan, rows: Sequence[Row]) -> list[Sequence[Any]]:
    with gc_paused():
        read = _row_reader(plan)
        return [read(row) for row in rows]


def _ordered_plan(table: sa.Table, backend: str, keys: list[str], plan: _Plan) -> _Plan:
    """`plan` with the primary key columns last (the UPDATE's parameter order), kept for the
    process so that `_row_reader`'s cache (by plan identity) holds."""
    key = (f"{table.name}:update", backend)
    if key not in _plans:
        _plans[key] = [entry for entry in plan if entry[0] not in keys] + [entry for entry in plan if entry[0] in keys]
    return _plans[key]  # type: ignore[return-value]


async def _copy(conn: AsyncConnection, table: sa.Table, plan: _Plan, rows: Sequence[Row]) -> None:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(name) for name, _ in plan)
    )
    values = _values(plan, rows)
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection  # the psycopg AsyncConnection under this transaction
    async with driver.cursor() as cursor:
        async with cursor.copy(statement) as copy:
            formatter = copy.formatter  # rows formatted here and sent in its chunks: not an await per row
            for value in values:
                if chunk := formatter.write_row(value):
                    await copy.write(chunk)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a synchronous burst of allocations (folding a batch,
    building its rows). Those objects are short-lived and acyclic, yet they trigger full
    collections over the whole heap again and again: measured at 30–50 % of the projector's
    CPU time. Use only around code that does not await; the collector resumes right after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def collector_relaxed(threshold: tuple[int, int, int] = (100_000, 50, 100)) -> Iterator[None]:
    """Far fewer cyclic garbage collections while a rebuild or catch-up runs, the previous
    thresholds restored afterwards (also when several overlap: the last one out restores).

    A catch-up allocates millions of short-lived, acyclic objects; with the default
    thresholds (700, 10, 10) they trigger collection after collection, each full one walking
    the whole heap including the projector's state cache: measured at ~17 % of a rebuild.
    Unlike `gc_paused` this may span awaits; memory is still reclaimed by reference counting,
    and cycles are still collected, only less often (a young collection per 100,000 net
    allocations: 2 instead of ~60 per 20,000 events, 0.1 s instead of 1–2 s)."""
    global _relaxed_depth, _saved_threshold
    if _relaxed_depth == 0:
        _saved_threshold = gc.get_threshold()
        gc.set_threshold(*threshold)
    _relaxed_depth += 1
    try:
        yield
    finally:
        _relaxed_depth -= 1
        if _relaxed_depth == 0 and _saved_threshold is not None:
            gc.set_threshold(*_saved_threshold)


_relaxed_depth = 0
_saved_threshold: tuple[int, ...] | None = None


#: Per plan, a function from a row dict to its parameter list: one C-level `itemgetter` for
#: all columns, then the few converters in place (a generator over every column per row was
#: a fifth of the projector's write time).
_readers: dict[int, Callable[[Row], Sequence[Any]]] = {}


def _row_reader(plan: _Plan) -> Callable[[Row], Sequence[Any]]:
    reader = _readers.get(id(plan))  # plans live for the process (`_plans`), so ids are stable
    if reader is None:
        names = [name for name, _ in plan]
        get = itemgetter(*names)
        converted = [(index, convert) for index, (_, convert) in enumerate(plan) if convert is not None]
        if len(names) == 1:
            def reader(row: Row) -> Sequence[Any]:
                value = row[names[0]]
                return [value if not converted else converted[0][1](value)]
        else:
            def reader(row: Row) -> Sequence[Any]:
                values = list(get(row))
                for index, convert in converted:
                    values[index] = convert(values[index])
                return tuple(values)  # the SQLite driver takes tuples, not lists
        _readers[id(plan)] = reader
    return reader


def _plan(table: sa.Table, backend: str) -> _Plan | None:
    key = (table.name, backend)
    if key not in _plans:
        converters = [(column.name, _converter(column.type, backend)) for column in table.columns]
        supported = all(convert is not _UNSUPPORTED for _, convert in converters)
        _plans[key] = converters if supported else None
    return _plans[key]


def _unsupported(value: Any) -> Any:  # pragma: no cover - a marker, never called
    raise TypeError("unsupported column type for bulk insert")


_UNSUPPORTED: _Convert = _unsupported


def _converter(kind: sa.types.TypeEngine[Any], backend: str) -> _Convert | None:
    if isinstance(kind, sa.JSON):
        return _json_text
    if isinstance(kind, UTCDateTime):
        return _sqlite_time if backend == "sqlite" else _utc
    if isinstance(kind, sa.Boolean):
        return _sqlite_bool if backend == "sqlite" else None
    if isinstance(kind, _PLAIN):
        return None
    return _UNSUPPORTED


def _json_text(value: Any) -> str | None:
    return None if value is None else dumps_text(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: read-model times must be timezone-aware")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME storage format, of the UTC instant."""
    if value is not None and value.tzinfo is UTC:  # the usual case: "...+00:00" minus its offset
        return value.isoformat(" ", "microseconds")[:-6]
    moment = _utc(value)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))
