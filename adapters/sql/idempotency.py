"""Idempotency keys, kept in the database so they outlive JetStream's duplicate window.

Protocol for a POST carrying `Idempotency-Key`:
1. `begin` records the key as *pending* together with the ids the command will use (event ids,
   the new aggregate's id) — or returns the existing record.
2. The command runs with exactly those ids. If a previous attempt died after appending, the
   retry finds the event id already in the aggregate (or JetStream deduplicates it).
3. `complete` stores the response; later retries replay it without touching the log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import single_statements
from adapters.sql.statement_pool import StatementPool
from adapters.sql.tables import idempotency_keys
from core.errors import Unavailable


@dataclass(frozen=True, kw_only=True)
class IdempotencyRecord:
    scope: str
    key: str
    request_hash: str
    status: str
    event_ids: list[str]
    aggregate_id: str | None
    response_status: int | None = None
    response_body: Any = None
    existed: bool = False

    @property
    def done(self) -> bool:
        return self.status == "done"


def _record(row: Any, *, existed: bool) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=row.scope, key=row.key, request_hash=row.request_hash, status=row.status,
        event_ids=list(row.event_ids or []), aggregate_id=row.aggregate_id,
        response_status=row.response_status, response_body=row.response_body, existed=existed,
    )


class IdempotencyStore:
    """Every statement here is atomic by itself, so on PostgreSQL each runs in autocommit (one
    round trip, no BEGIN/COMMIT; through `statements` when given). A key is claimed by one
    `INSERT … ON CONFLICT DO NOTHING` (the primary key decides between concurrent claims); only
    a key that is already taken costs a second statement to read its record."""

    def __init__(self, engine: AsyncEngine, *, statements: StatementPool | None = None) -> None:
        """`statements` (PostgreSQL): psycopg's pool, used instead of SQLAlchemy for these few
        statements on every write (adapters/sql/statement_pool.py explains why)."""
        self._engine = single_statements(engine)
        self._statements = statements
        c = idempotency_keys.c
        self._select = sa.select(idempotency_keys).where(c.scope == sa.bindparam("w_scope"), c.key == sa.bindparam("w_key"))
        # rowcount tells whether the row was inserted (SQLAlchemy keeps it for INSERTs only when asked)
        self._claim = _insert_if_absent(engine.dialect.name).execution_options(preserve_rowcount=True)
        self._complete = idempotency_keys.update().where(c.scope == sa.bindparam("w_scope"), c.key == sa.bindparam("w_key"))
        self._abandon = idempotency_keys.delete().where(
            c.scope == sa.bindparam("w_scope"), c.key == sa.bindparam("w_key"), c.status == "pending")

    async def _get(self, scope: str, key: str) -> IdempotencyRecord | None:
        if self._statements is not None:
            row = await self._statements.fetchone(_PG_GET, {"scope": scope, "key": key})
            return _record(row, existed=True) if row is not None else None
        async with self._engine.connect() as conn:
            row = (await conn.execute(self._select, {"w_scope": scope, "w_key": key})).first()
        return _record(row, existed=True) if row is not None else None

    async def begin(
        self, *, scope: str, key: str, request_hash: str, event_ids: list[str], aggregate_id: str | None
    ) -> IdempotencyRecord:
        """Claim the key as pending with these ids, or return the record that already holds it."""
        values = {
            "scope": scope, "key": key, "request_hash": request_hash, "status": "pending",
            "event_ids": event_ids, "aggregate_id": aggregate_id, "response_status": None,
            "response_body": None, "created_at": datetime.now(UTC),
        }
        for _ in range(3):  # an existing pending record may be abandoned between claim and read
            try:
                if self._statements is not None:
                    claimed = await self._statements.execute(_PG_CLAIM, {
                        **values, "event_ids": Json(event_ids)}) == 1
                else:
                    async with self._engine.begin() as conn:
                        claimed = (await conn.execute(self._claim, values)).rowcount == 1
            except SAIntegrityError:  # a dialect without ON CONFLICT: a concurrent claim won
                claimed = False
            if claimed:
                return IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, status="pending",
                                         event_ids=list(event_ids), aggregate_id=aggregate_id, existed=False)
            found = await self._get(scope, key)
            if found is not None:
                return found
        # Claimed and abandoned by others three times in a row while we looked: answer "retry".
        raise Unavailable(f"the Idempotency-Key {key!r} is being claimed and released concurrently; retry")

    async def settle(self, *, scope: str, key: str, timeout: float = 3.0) -> IdempotencyRecord | None:
        """Wait for a pending key to be completed by the request that owns it (a concurrent
        duplicate); returns the latest record (None if the owner abandoned it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self._get(scope, key)
            if found is None or found.done or asyncio.get_running_loop().time() >= deadline:
                return found
            await asyncio.sleep(0.05)

    async def complete(self, *, scope: str, key: str, status: int, body: Any) -> None:
        if self._statements is not None:
            await self._statements.execute(_PG_COMPLETE, {
                "scope": scope, "key": key, "status": status, "body": None if body is None else Json(body)})
            return
        async with self._engine.begin() as conn:
            await conn.execute(self._complete, {"w_scope": scope, "w_key": key, "status": "done",
                                                "response_status": status, "response_body": body})

    async def abandon(self, *, scope: str, key: str) -> None:
        """Forget a pending key whose command was rejected (nothing was appended)."""
        if self._statements is not None:
            await self._statements.execute(_PG_ABANDON, {"scope": scope, "key": key})
            return
        async with self._engine.begin() as conn:
            await conn.execute(self._abandon, {"w_scope": scope, "w_key": key})


# The same statements for psycopg's pool on PostgreSQL (the schema is tables.idempotency_keys).
_PG_CLAIM = (
    'INSERT INTO idempotency_keys (scope, "key", request_hash, status, response_status, response_body,'
    " event_ids, aggregate_id, created_at) VALUES (%(scope)s, %(key)s, %(request_hash)s, 'pending', NULL, NULL,"
    ' %(event_ids)s, %(aggregate_id)s, %(created_at)s) ON CONFLICT (scope, "key") DO NOTHING'
)
_PG_GET = (
    'SELECT scope, "key", request_hash, status, response_status, response_body, event_ids, aggregate_id'
    ' FROM idempotency_keys WHERE scope = %(scope)s AND "key" = %(key)s'
)
_PG_COMPLETE = (
    "UPDATE idempotency_keys SET status = 'done', response_status = %(status)s, response_body = %(body)s"
    ' WHERE scope = %(scope)s AND "key" = %(key)s'
)
_PG_ABANDON = "DELETE FROM idempotency_keys WHERE scope = %(scope)s AND \"key\" = %(key)s AND status = 'pending'"


def _insert_if_absent(dialect: str) -> sa.Insert:
    """`INSERT … ON CONFLICT (scope, key) DO NOTHING` where the dialect has it; a plain insert
    elsewhere (a conflict then raises IntegrityError, which `begin` reads the same way)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(idempotency_keys).on_conflict_do_nothing(index_elements=["scope", "key"])
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(idempotency_keys).on_conflict_do_nothing(index_elements=["scope", "key"])
    return idempotency_keys.insert()
