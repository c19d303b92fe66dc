"""Bring a read-model database to the newest schema (Alembic `upgrade head`), safely.

There is no alembic.ini: the configuration is built here, pointing at the `migrations`
package. Two processes may start at once (`parley up` and `parley serve`, two replicas):
the upgrade runs in one transaction behind a lock — a PostgreSQL advisory lock, SQLite's
write lock taken at `BEGIN IMMEDIATE` — so the second waits, then finds the schema current.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from adapters.sql.engine import SQLITE_BEGIN, create_engine

MIGRATIONS_DIR = Path(next(iter(migrations.__path__))).resolve()

#: Key of the PostgreSQL advisory lock held while migrating (any fixed 63-bit number).
_PG_LOCK_KEY = zlib.crc32(b"parley:migrate")

#: How long a second SQLite migrator waits for the first, in milliseconds.
_SQLITE_WAIT_MS = 120_000
_SQLITE_DEFAULT_WAIT_MS = 5_000


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's `Config` built in code; `connection` is what `migrations/env.py` runs on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def migrate(url: str) -> None:
    """Upgrade the database at `url` (plain or async SQLAlchemy URL) to the newest schema."""
    engine = create_engine(url)
    try:
        await migrate_engine(engine)
    finally:
        await engine.dispose()


async def migrate_engine(engine: AsyncEngine) -> None:
    """Like `migrate`, on an engine the caller already has (its pool is left open)."""
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when never migrated): for `/readyz` and `doctor`."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def _upgrade(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_busy_timeout(connection, _SQLITE_WAIT_MS)
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            command.upgrade(alembic_config(connection), "head")
    finally:
        if sqlite:
            _sqlite_busy_timeout(connection, _SQLITE_DEFAULT_WAIT_MS)


def _sqlite_busy_timeout(connection: Connection, milliseconds: int) -> None:
    # On the raw DBAPI connection: a PRAGMA through SQLAlchemy would open a transaction.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    finally:
        cursor.close()
