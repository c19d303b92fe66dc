"""Async SQLAlchemy engines for the read models: SQLite (WAL) embedded, PostgreSQL at scale.

One URL in, one `AsyncEngine` out, with the same behaviour on both databases:

- plain URLs (`sqlite:///…`, `postgresql://…`, `postgres://…`) get their async driver
  (aiosqlite, psycopg 3); a URL that names its driver is left alone;
- SQLite runs in WAL mode with `synchronous=NORMAL`, a 5 s busy timeout and foreign keys on,
  and SQLAlchemy (not Python's sqlite3 module) emits `BEGIN`, so every transaction — DDL
  included — really is one transaction;
- `for_writing(engine)` is the view to use for a transaction that reads and then writes: on
  SQLite it takes the write lock at `BEGIN IMMEDIATE`, so it waits its turn instead of failing
  half-way with "database is locked"; on PostgreSQL it changes nothing.
- `single_statements(engine)` is the view for work that is one statement, atomic by itself (a
  token look-up, an `INSERT … ON CONFLICT DO NOTHING`, one `UPDATE`): on PostgreSQL it runs in
  autocommit, one round trip instead of three (psycopg sends `BEGIN` and `COMMIT`/`ROLLBACK`
  separately); on SQLite it changes nothing. (The statements of every write go through
  psycopg's own pool instead: adapters/sql/statement_pool.py.)
- PostgreSQL connections are pinged before use only when they sat idle in the pool for a while
  (`_install_idle_ping`), not at every checkout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.sql.sqlite_raw import apply_pragmas

#: Execution option read by the SQLite `begin` hook: "DEFERRED" (default) or "IMMEDIATE".
SQLITE_BEGIN = "parley_sqlite_begin"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}



def async_url(url: str) -> str:
    """The URL with its async driver: `sqlite:` → aiosqlite, `postgresql:`/`postgres:` → psycopg."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url!r} is not a database URL (expected e.g. sqlite:///path or postgresql://host/db)")
    return f"{_ASYNC_DRIVERS.get(scheme.lower(), scheme)}://{rest}"


#: PostgreSQL connections an engine keeps open (up to 10 more are opened for bursts).
POOL_SIZE = 10
#: Connections of an API process's pool for the statements of every write (statement_pool.py):
#: about one per request in flight. (With fewer kept, each checkout past them opened a new
#: connection — a new PostgreSQL backend process — and closed it again on return.)
SINGLE_STATEMENT_POOL_SIZE = 20


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An `AsyncEngine` for `url` (plain or async form), configured for Parley's read models."""
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        _make_parent_dir(parsed.database)
        engine = create_async_engine(full, echo=echo)
        _install_sqlite_hooks(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(
            full,
            echo=echo,
            pool_size=POOL_SIZE,
            max_overflow=10,
            pool_recycle=1800,
        )
        _install_idle_ping(engine)
        return engine
    return create_async_engine(full, echo=echo)


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """A view of `engine` (same pool) for transactions of one statement each: autocommit on
    PostgreSQL (no `BEGIN`/`COMMIT` round trips; each statement is atomic anyway), unchanged on
    SQLite. Never use it for a read-then-write: two statements would not be one transaction."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """A view of `engine` (same pool) whose transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def _make_parent_dir(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


#: A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 2.0
_IDLE_SINCE = "parley_idle_since"


def _install_idle_ping(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, paid only where it helps: a connection that sat in the
    pool for more than `IDLE_PING_SECONDS` (the database may have restarted, a firewall may have
    dropped it) is pinged at checkout and replaced if dead; one returned moments ago is handed out
    as it is. SQLAlchemy's `pool_pre_ping` pings at every checkout: under load that was one more
    round trip per statement. A connection that breaks in between fails its statement (the API
    answers 503) and SQLAlchemy then discards the whole pool's older connections."""
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    @event.listens_for(pool, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)  # SQLAlchemy's ping: leaves no transaction open
        except Exception as error:  # noqa: BLE001 - any failure: this connection is unusable
            raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing its own (late, partial) BEGINs.
        dbapi_connection.isolation_level = None
        apply_pragmas(dbapi_connection)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite transaction mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
