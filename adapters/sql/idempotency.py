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
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import idempotency_keys


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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _get(self, scope: str, key: str) -> IdempotencyRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                sa.select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            )).first()
        return _record(row, existed=True) if row is not None else None

    async def begin(
        self, *, scope: str, key: str, request_hash: str, event_ids: list[str], aggregate_id: str | None
    ) -> IdempotencyRecord:
        found = await self._get(scope, key)
        if found is not None:
            return found
        values = {
            "scope": scope, "key": key, "request_hash": request_hash, "status": "pending",
            "event_ids": event_ids, "aggregate_id": aggregate_id, "response_status": None,
            "response_body": None, "created_at": datetime.now(UTC),
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(idempotency_keys.insert().values(**values))
        except SAIntegrityError:  # a concurrent request with the same key won the insert
            found = await self._get(scope, key)
            assert found is not None
            return found
        return _record(type("Row", (), values), existed=False)

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
        async with self._engine.begin() as conn:
            await conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
                .values(status="done", response_status=status, response_body=body)
            )

    async def abandon(self, *, scope: str, key: str) -> None:
        """Forget a pending key whose command was rejected (nothing was appended)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                idempotency_keys.delete().where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key,
                    idempotency_keys.c.status == "pending",
                )
            )
