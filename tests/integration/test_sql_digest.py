"""The read-model digest: equal content gives an equal digest, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.sql import tables as t
from adapters.sql.digest import digest, table_counts
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from tests.integration.sql_fixtures import (  # noqa: F401
    ListEventStore,
    database_url,
    engine,
    generated_history,
    postgres_url,
    scripted_history,
    sqlite_url,
)


async def _project(url: str, events: list) -> tuple[str, dict[str, int]]:
    await migrate(url)
    engine = create_engine(url)
    try:
        await Projector(engine=engine, store=ListEventStore(events), batch_size=97).catch_up()
        return await digest(engine), await table_counts(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("history", [scripted_history, lambda: generated_history(700)], ids=["scripted", "generated"])
async def test_sqlite_and_postgresql_replays_have_the_same_digest(sqlite_url, postgres_url, history):
    events = history().events
    on_sqlite = await _project(sqlite_url, events)
    on_postgres = await _project(postgres_url, events)
    assert on_sqlite == on_postgres
    assert on_sqlite[1]["events"] == len(events)


async def test_the_digest_is_stable_and_covers_only_projections(engine):
    await Projector(engine=engine, store=ListEventStore(scripted_history().events)).catch_up()
    before = await digest(engine)
    assert before == await digest(engine)

    async with engine.begin() as conn:
        await conn.execute(t.api_tokens.insert().values(
            id="t1", secret_hash="x", officer_id="usa-1", party="USA", role="officer", label="",
            created_at=datetime(2024, 1, 1, tzinfo=UTC)))
        await conn.execute(t.idempotency_keys.insert().values(
            scope="t1", key="k", request_hash="h", status="done", created_at=datetime(2024, 1, 1, tzinfo=UTC)))
        await conn.execute(t.projection_checkpoints.insert().values(name="other", last_seq=3))
    assert await digest(engine) == before

    async with engine.begin() as conn:
        await conn.execute(t.incident_accounts.update().where(t.incident_accounts.c.party == "RUS").values(cpa_m=1852.5))
    assert await digest(engine) != before


async def test_table_counts_cover_every_projection_table(engine):
    counts = await table_counts(engine)
    assert set(counts) == {table.name for table in t.PROJECTION_TABLES}
    assert set(counts.values()) == {0}
    await Projector(engine=engine, store=ListEventStore(scripted_history().events)).catch_up()
    counts = await table_counts(engine)
    assert (counts["events"], counts["incidents"], counts["officers"]) == (26, 4, 4)
    async with engine.connect() as conn:
        assert counts["incident_accounts"] == await conn.scalar(sa.select(sa.func.count()).select_from(t.incident_accounts))
