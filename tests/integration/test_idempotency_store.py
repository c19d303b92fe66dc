"""Idempotency keys in the database (adapters/sql/idempotency.py), on both databases (and on
PostgreSQL both ways: SQLAlchemy, and psycopg's pool as the API processes use it): a key is
claimed by exactly one of many concurrent requests, in one process or in two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.sql.engine import create_engine
from adapters.sql.idempotency import IdempotencyStore
from adapters.sql.statement_pool import StatementPool
from tests.integration.sql_fixtures import engine, postgres_url, sqlite_url  # noqa: F401

Stores = Callable[[Any], Awaitable[IdempotencyStore]]


#: (database, how the store reaches it): psycopg's pool exists for PostgreSQL only.
VARIANTS = [("sqlite", "sqlalchemy"), ("postgresql", "sqlalchemy"), ("postgresql", "psycopg_pool")]


@pytest.fixture(params=VARIANTS, ids=["-".join(v) for v in VARIANTS])
def variant(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


@pytest.fixture
def database_url(variant: tuple[str, str], request: pytest.FixtureRequest) -> str:
    """The database of this variant (overrides sql_fixtures' `database_url` for `engine`)."""
    return request.getfixturevalue("sqlite_url" if variant[0] == "sqlite" else "postgres_url")


@pytest.fixture
async def make_store(variant: tuple[str, str], engine: Any) -> AsyncIterator[Stores]:
    """`make_store(engine)`: a store as an API process builds it, one pool per engine."""
    pools: list[StatementPool] = []
    via = variant[1]

    async def make(on: Any) -> IdempotencyStore:
        if via == "sqlalchemy":
            return IdempotencyStore(on)
        pool = StatementPool.for_engine(on)
        assert pool is not None
        pools.append(pool)
        await pool.open()
        return IdempotencyStore(on, statements=pool)

    yield make
    for pool in pools:
        await pool.close()


async def test_concurrent_claims_of_one_key_from_two_processes_have_one_winner(
    engine: Any, database_url: str, make_store: Stores,
) -> None:
    other = create_engine(database_url)  # a second API process: its own pool
    try:
        stores = [await make_store(engine), await make_store(other)]
        records = await asyncio.gather(*(
            stores[n % 2].begin(scope="tok1", key="k-1", request_hash="h", event_ids=[f"e{n}"], aggregate_id=f"a{n}")
            for n in range(12)
        ))
    finally:
        await other.dispose()
    winners = [r for r in records if not r.existed]
    assert len(winners) == 1, records
    assert {tuple(r.event_ids) for r in records} == {tuple(winners[0].event_ids)}
    assert {r.aggregate_id for r in records} == {winners[0].aggregate_id}
    assert all(r.status == "pending" and not r.done for r in records)


async def test_complete_replays_and_abandon_frees_the_key(engine: Any, make_store: Stores) -> None:
    store = await make_store(engine)
    first = await store.begin(scope="tok1", key="k-2", request_hash="h", event_ids=["e1"], aggregate_id="a1")
    assert not first.existed
    await store.abandon(scope="tok1", key="k-2")  # refused: nothing appended, the key is free again
    again = await store.begin(scope="tok1", key="k-2", request_hash="h2", event_ids=["e2"], aggregate_id="a2")
    assert not again.existed and again.event_ids == ["e2"]
    await store.complete(scope="tok1", key="k-2", status=201, body={"id": "a2", "version": 7})
    await store.abandon(scope="tok1", key="k-2")  # a completed key is never forgotten
    replay = await store.begin(scope="tok1", key="k-2", request_hash="h2", event_ids=["e3"], aggregate_id="a3")
    assert replay.existed and replay.done and replay.response_status == 201
    assert replay.response_body == {"id": "a2", "version": 7} and replay.event_ids == ["e2"]
    other_scope = await store.begin(scope="tok2", key="k-2", request_hash="h2", event_ids=["e4"], aggregate_id="a4")
    assert not other_scope.existed  # keys are per token
