"""A fingerprint of the read models' content, equal for equal content on SQLite and PostgreSQL.

Two replays of the same stream — one into SQLite, one into PostgreSQL, today or in a year — must
give the same digest, so nothing the database chooses may leak in: rows are sorted in Python by
primary key (not by the database's collation), and every value is rendered one fixed way:
times as UTC RFC 3339 with microseconds, JSON as RFC 8785 canonical JSON, floats by `repr`.
Only projection tables count (`tables.PROJECTION_TABLES`): not the checkpoint (its name is the
operator's choice), not API tokens or idempotency keys (not derived from events).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import PROJECTION_TABLES
from core.envelope import canonical_json, format_time

#: Bump when the rendering below changes, so old and new digests never look comparable.
DIGEST_FORMAT = "parley-read-models-digest/1"


async def digest(engine: AsyncEngine) -> str:
    """SHA-256 (hex) over the name, columns and sorted rows of every projection table."""
    hasher = hashlib.sha256(DIGEST_FORMAT.encode() + b"\n")
    async with engine.connect() as conn:
        for table in sorted(PROJECTION_TABLES, key=lambda item: item.name):
            columns = list(table.columns)
            keys = [columns.index(c) for c in table.primary_key.columns]
            result = await conn.execute(sa.select(*columns))
            rows = [[_render(column, value) for column, value in zip(columns, row)] for row in result]
            rows.sort(key=lambda row: [row[k] for k in keys])
            hasher.update(_line(["table", table.name, len(rows), [c.name for c in columns]]))
            for row in rows:
                hasher.update(_line(row))
    return hasher.hexdigest()


async def table_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per projection table, e.g. for `parley digest` and replay reports."""
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for table in PROJECTION_TABLES:
            counts[table.name] = int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    return counts


def _line(values: list[Any]) -> bytes:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _render(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.JSON):
        return canonical_json(value).decode()
    if isinstance(column.type, sa.Boolean):
        return bool(value)
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"cannot digest {column.table.name}.{column.name} value of type {type(value).__name__}")
