"""What Parley does on a raw `sqlite3` connection: its pragmas, and running a commit's queued
statements.

Deliberately light (standard library only): the projector's writer process (`writer_child`)
imports it at start-up, and `engine` and `bulk.BulkWriter` use it for the same jobs
in-process, so both paths open connections alike and write alike.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

#: Run on every new connection: write-ahead log (readers never block the writer), fsync at
#: checkpoints only, wait up to 5 s for the write lock, foreign keys enforced.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)

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
