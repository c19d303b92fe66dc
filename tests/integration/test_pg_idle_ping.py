"""PostgreSQL connections are pinged only after sitting idle in a pool (adapters/sql/engine.py,
adapters/sql/statement_pool.py): a connection whose server process is gone is replaced before
use, and a ping leaves no transaction open. PostgreSQL only (each test ends its own backends)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from adapters.sql import engine as engine_module
from adapters.sql import statement_pool
from adapters.sql.engine import create_engine, single_statements
from adapters.sql.statement_pool import StatementPool
from tests.integration.sql_fixtures import PG_ENV, postgres_url  # noqa: F401

IDLE = 0.3


@pytest.fixture(autouse=True)
def short_idle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL variant")
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", IDLE)
    monkeypatch.setattr(statement_pool, "IDLE_PING_SECONDS", IDLE)
    yield


def end_backend(url: str, pid: int) -> None:
    admin = url.split("?", 1)[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_an_idle_engine_connection_whose_server_died_is_replaced(postgres_url: str) -> None:  # noqa: F811
    engine = create_engine(postgres_url)
    try:
        for view in (engine, single_statements(engine)):  # plain and autocommit checkouts
            async with view.connect() as conn:
                before = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            end_backend(postgres_url, before)
            await asyncio.sleep(IDLE + 0.2)
            async with view.connect() as conn:
                after = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            assert after != before
            await asyncio.sleep(IDLE + 0.2)  # pinged again: and the view can still switch to autocommit
            async with single_statements(engine).connect() as conn:
                assert await conn.scalar(sa.text("SELECT 1")) == 1
            async with engine.begin() as conn:
                assert await conn.scalar(sa.text("SELECT current_setting('transaction_isolation')")) == "read committed"
    finally:
        await engine.dispose()


async def test_a_connection_used_moments_ago_is_not_pinged(postgres_url: str) -> None:  # noqa: F811
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
        end_backend(postgres_url, pid)
        with pytest.raises(sa.exc.OperationalError):  # handed out without a ping: this statement fails …
            async with engine.connect() as conn:
                await conn.scalar(sa.text("SELECT 1"))
        async with engine.connect() as conn:  # … and the pool is renewed for the next one
            assert await conn.scalar(sa.text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_the_statement_pool_replaces_an_idle_dead_connection(postgres_url: str) -> None:  # noqa: F811
    engine = create_engine(postgres_url)
    pool = StatementPool.for_engine(engine)
    assert pool is not None
    await pool.open()
    try:
        pid = (await pool.fetchone("SELECT pg_backend_pid() AS pid", {})).pid
        end_backend(postgres_url, pid)
        await asyncio.sleep(IDLE + 0.2)
        assert (await pool.fetchone("SELECT pg_backend_pid() AS pid", {})).pid != pid
        assert await pool.execute("SELECT 1", {}) == 1
    finally:
        await pool.close()
        await engine.dispose()
