"""The read-model schema: Alembic migrations, engines and time handling, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.sql import tables as t
from adapters.sql.engine import async_url, create_engine
from adapters.sql.migrate import current_revision, head_revision, migrate
from adapters.sql.sqlite_raw import apply_pragmas
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401


async def test_migrated_schema_matches_the_table_metadata(engine):
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), t.metadata)
        )
    assert diff == []


async def test_migrating_again_and_concurrently_is_harmless(database_url):
    await asyncio.gather(migrate(database_url), migrate(database_url), migrate(database_url))
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


def test_a_connection_waits_for_a_contended_switch_to_wal(tmp_path: Path) -> None:
    """SQLite refuses a contended `journal_mode=WAL` at once (no busy wait): a second process
    opening a brand-new database while another writes to it must wait, then switch."""
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    released = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    released.start()
    try:
        other = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
        apply_pragmas(other)  # the old order ("PRAGMA journal_mode=WAL" first) raised "database is locked"
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        other.close()
    finally:
        released.join()
        writer.close()


async def test_a_new_database_has_no_revision(database_url):
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_url):
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        await engine.dispose()


async def test_the_sqlite_file_directory_is_created(tmp_path: Path):
    target = tmp_path / "deep" / "er" / "parley.db"
    await migrate(f"sqlite:///{target}")
    assert target.exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///tmp/p.db", "sqlite+aiosqlite:///tmp/p.db"),
        ("sqlite:////abs/p.db", "sqlite+aiosqlite:////abs/p.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://u:p@h:5432/db?sslmode=require", "postgresql+psycopg://u:p@h:5432/db?sslmode=require"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_plain_urls_get_their_async_driver_and_explicit_drivers_are_kept(given, expected):
    assert async_url(given) == expected


def test_a_string_that_is_not_a_url_is_refused():
    with pytest.raises(ValueError, match="not a database URL"):
        async_url("parley.db")


async def test_times_are_stored_in_utc_and_read_back_aware(engine):
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with engine.begin() as conn:
        await conn.execute(t.api_tokens.insert().values(
            id="tok", secret_hash="h", officer_id=None, party=None, role="admin", label="", created_at=moment,
        ))
    async with engine.connect() as conn:
        stored = await conn.scalar(sa.select(t.api_tokens.c.created_at))
        later = await conn.scalar(
            sa.select(sa.func.count()).where(t.api_tokens.c.created_at > datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC))
        )
    assert stored == moment and stored.tzinfo is UTC and stored.hour == 5
    assert later == 1  # compared as instants on both databases


async def test_naive_times_are_refused(engine):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        async with engine.begin() as conn:
            await conn.execute(t.api_tokens.insert().values(
                id="tok", secret_hash="h", role="admin", created_at=datetime(2024, 1, 1),
            ))
