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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: Execution option read by the SQLite `begin` hook: "DEFERRED" (default) or "IMMEDIATE".
SQLITE_BEGIN = "parley_sqlite_begin"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def async_url(url: str) -> str:
    """The URL with its async driver: `sqlite:` → aiosqlite, `postgresql:`/`postgres:` → psycopg."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url!r} is not a database URL (expected e.g. sqlite:///path or postgresql://host/db)")
    return f"{_ASYNC_DRIVERS.get(scheme.lower(), scheme)}://{rest}"


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
        return create_async_engine(
            full,
            echo=echo,
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    return create_async_engine(full, echo=echo)


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """A view of `engine` (same pool) whose transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def _make_parent_dir(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing its own (late, partial) BEGINs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite transaction mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
