"""Alembic environment: runs migrations on the connection `adapters.sql.migrate` hands over.

`migrate` opens the connection, takes the migration lock (PostgreSQL advisory lock, SQLite
`BEGIN IMMEDIATE`) and starts the transaction; this file only runs the scripts inside it, so
a whole upgrade commits or rolls back as one.
"""

from __future__ import annotations

from alembic import context

from adapters.sql.tables import metadata

config = context.config


def _run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations with `parley migrate` (adapters.sql.migrate), which provides the connection"
        )
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
