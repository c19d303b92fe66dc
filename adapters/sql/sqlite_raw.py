"""What Parley does on a raw `sqlite3` connection: its pragmas, and running a commit's queued
statements.

Deliberately light (standard library only): the projector's writer process (`writer_child`)
imports it at start-up, and `engine` and `bulk.BulkWriter` use it for the same jobs
in-process, so both paths open connections alike and write alike.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Sequence

#: Run on every new connection, after `journal_mode` (see `apply_pragmas`): wait up to 5 s for
#: the write lock, fsync at checkpoints only, foreign keys enforced.
PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

#: How often, and how far apart, a contended switch to WAL is tried again.
_WAL_ATTEMPTS = 100
_WAL_RETRY_SECONDS = 0.05


def apply_pragmas(connection: Any) -> None:
    """Put a new connection (`sqlite3`, or SQLAlchemy's aiosqlite adapter: anything with a DB-API
    `cursor()`) in write-ahead-log mode (readers never block the writer) and set `PRAGMAS`.

    The busy timeout comes first, so everything after it waits for a lock instead of failing.
    The journal mode is persistent in the file, so it is switched only when it is not WAL yet:
    only a brand-new database needs it. A switch needs an exclusive lock, and SQLite refuses a
    contended one at once ("database is locked", no busy wait) — seen when several processes
    open a new database together (`test_migrating_again_and_concurrently_is_harmless` failed so
    under load) — so it is tried again for up to 5 s."""
    cursor = connection.cursor()
    try:
        cursor.execute(PRAGMAS[0])
        for attempt in range(_WAL_ATTEMPTS):
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                break
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == _WAL_ATTEMPTS - 1:
                    raise
                time.sleep(_WAL_RETRY_SECONDS)
        for pragma in PRAGMAS[1:]:
            cursor.execute(pragma)
    finally:
        cursor.close()

#: A queued statement (`row_plans.QueuedWrites`): (kind, sql, rows), kind "many" (one
#: `executemany`) or "copy" (PostgreSQL's `COPY … FROM STDIN`; SQLite has none).
Queued = tuple[str, str, Sequence[Sequence[Any]]]


def execute_all(connection: sqlite3.Connection, queued: Sequence[Queued]) -> None:
    """Every queued statement, in order, as one `executemany` each. Runs inside the caller's
    transaction; it neither begins nor commits."""
    for kind, sql, rows in queued:
        if kind != "many":
            raise ValueError(f"SQLite runs queued statements of kind 'many', not {kind!r}")
        connection.executemany(sql, rows)
