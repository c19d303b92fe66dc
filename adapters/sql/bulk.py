"""Writing a batch of rows as fast as each database allows, inside the caller's transaction.

SQLite: one driver-level `executemany` per statement, all of a commit's statements queued and
run in one hand-over to aiosqlite's thread — SQLAlchemy's per-row parameter processing was half
the projector's write time. PostgreSQL: `COPY … FROM STDIN` on the same psycopg connection —
measured about 4× SQLAlchemy's executemany there, which psycopg runs as one INSERT per row.
Values are converted by `row_plans` exactly as the column types would bind them, so every path
stores the same content; a test compares them. A table with a column type `row_plans` does not
know falls back to plain SQLAlchemy executemany.
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import row_plans as rp
from adapters.sql.gc_control import gc_paused
from adapters.sql.sqlite_raw import execute_all

Row = rp.Row


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
        self._sqlite = rp.QueuedWrites("sqlite")

    async def insert(self, table: sa.Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        with gc_paused():
            if self._dialect.name == "sqlite" and self._sqlite.insert(table, rows):
                return
        plan = rp.plan(table, "postgresql") if self._psycopg() else None
        if plan is None:
            await self.flush()
            await self._conn.execute(table.insert(), list(rows))
            return
        await _copy(self._conn, rp.copy_sql(table, plan), _values(plan, rows))

    async def update(self, table: sa.Table, rows: Sequence[Row]) -> bool:
        """UPDATE full rows by primary key, converted like inserts. False, writing nothing, where
        this path does not apply (the caller uses SQLAlchemy). SQLAlchemy's executemany processed
        every parameter in Python (the incident state through `json.dumps`): ~8 % of a rebuild."""
        if not rows:
            return True
        if self._dialect.name == "sqlite":
            with gc_paused():
                return self._sqlite.update(table, rows)
        plan = rp.plan(table, "postgresql") if self._psycopg() else None
        if plan is None:
            return False
        statement, order = rp.update_sql(table, "postgresql", plan)
        raw = await self._conn.get_raw_connection()
        async with raw.driver_connection.cursor() as cursor:
            await cursor.executemany(statement, _values(order, rows))
        return True

    async def flush(self) -> None:
        """Run the queued SQLite statements, in order, in one call on the driver's thread."""
        queued = self._sqlite.take()
        if not queued:
            return
        raw = await self._conn.get_raw_connection()
        driver = raw.driver_connection
        run_on_thread = getattr(driver, "_execute", None)  # aiosqlite's own hand-over (private)
        if run_on_thread is None:  # another SQLite driver: statement by statement
            for _, statement, values in queued:
                await self._conn.exec_driver_sql(statement, values)
            return
        await run_on_thread(execute_all, driver._conn, queued)

    def _psycopg(self) -> bool:
        return (self._dialect.name, self._dialect.driver) == ("postgresql", "psycopg")


def _values(plan: rp.Plan, rows: Sequence[Row]) -> list[Sequence[Any]]:
    with gc_paused():
        return rp.values(plan, rows)


async def _copy(conn: AsyncConnection, statement: str, values: list[Sequence[Any]]) -> None:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection  # the psycopg AsyncConnection under this transaction
    async with driver.cursor() as cursor:
        async with cursor.copy(statement) as copy:
            formatter = copy.formatter  # rows formatted here and sent in its chunks: not an await per row
            for value in values:
                if chunk := formatter.write_row(value):
                    await copy.write(chunk)
