"""One-statement work on PostgreSQL through psycopg's own connection pool (`psycopg_pool`).

Every POST with an `Idempotency-Key` claims the key and stores the answer: one statement each,
on the hot path of every write. Through SQLAlchemy's pool and execution layer such a statement
cost ~0.45 ms of CPU in the API process; through `psycopg_pool` ~0.13 ms (measured on this
project's 2-core host: psycopg itself ~0.09 ms). So those few statements — fixed, written out in
the store that uses them — run here, in autocommit (each is atomic by itself). Everything else,
and SQLite, stays on SQLAlchemy.

The pool behaves like the SQLAlchemy engines' (adapters/sql/engine.py): a connection idle for
more than `IDLE_PING_SECONDS` is pinged before use and replaced if dead; one that breaks during
a statement is discarded. Failures reach callers as `core.errors.Unavailable` (HTTP 503 +
Retry-After), and a statement never waits more than `WAIT_SECONDS` for a connection.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Mapping

import psycopg
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import IDLE_PING_SECONDS, SINGLE_STATEMENT_POOL_SIZE
from core.errors import Unavailable

#: Longest wait for a free connection (or for the database to accept one) before giving up.
WAIT_SECONDS = 5.0


class StatementPool:
    """`fetchone` / `execute` one statement (psycopg's `%(name)s` parameters) in autocommit."""

    def __init__(self, conninfo: str, *, max_size: int = SINGLE_STATEMENT_POOL_SIZE) -> None:
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._pool = AsyncConnectionPool(
            conninfo, min_size=1, max_size=max_size, open=False, timeout=WAIT_SECONDS, name="parley-statements",
            kwargs={"autocommit": True, "row_factory": namedtuple_row},
            check=self._ping_if_idle, reset=self._note_return,
        )

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> "StatementPool | None":
        """A pool on `engine`'s PostgreSQL database (None for any other database)."""
        if engine.dialect.name != "postgresql":
            return None
        url = engine.url.set(drivername="postgresql")
        return cls(url.render_as_string(hide_password=False))

    async def open(self) -> None:
        await self._pool.open(wait=False)  # connects in the background; the first statement waits

    async def close(self) -> None:
        await self._pool.close(timeout=5.0)

    async def fetchone(self, sql: str, params: Mapping[str, Any]) -> Any:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchone()
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as error:
            raise Unavailable(f"the database is unavailable: {type(error).__name__}") from error

    async def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        """The statement's row count."""
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return cursor.rowcount
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as error:
            raise Unavailable(f"the database is unavailable: {type(error).__name__}") from error

    async def _note_return(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._returned[conn] = time.monotonic()

    async def _ping_if_idle(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """psycopg_pool discards a connection whose check raises and hands out another."""
        if time.monotonic() - self._returned.get(conn, 0.0) >= IDLE_PING_SECONDS:
            await conn.execute("SELECT 1")
