"""The projector's writer process (adapters/sql/writer_process.py) on real databases.

A long catch-up commits its batches from a child process. These tests check that it writes
exactly what the in-process commit writes, keeps the checkpoint's compare-and-set, refuses what
the database refuses without writing part of it, leaves checkpoint and rows agreeing when the
child dies mid-catch-up, falls back to committing in-process when no child can start, and never
outlives the catch-up that started it. (`tests/integration/test_projector_crash.py` also
SIGKILLs a whole `parley project` process using one.)
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.sql import row_plans
from adapters.sql import tables as t
from adapters.sql import writer_process as wp
from adapters.sql.digest import digest, table_counts
from adapters.sql.engine import create_engine
from adapters.sql.projector import Projector
from core.errors import IntegrityError, Unavailable
from tests.integration.sql_fixtures import ListEventStore, generated_history, reset_read_models

EVENTS = 2_500
BATCH = 200


class Recording(Projector):
    """Keeps the writer processes it starts; kills its child after `kill_after` commits."""

    def __init__(self, *, kill_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(writer_process_from=1, batch_size=BATCH, **kwargs)
        self.started: list[wp.WriterProcess] = []
        self.commits = 0
        self.kill_after = kill_after

    async def _writer_process(self, backlog: int) -> wp.WriterProcess | None:
        process = await super()._writer_process(backlog)
        if process is not None:
            self.started.append(process)
        return process

    async def _commit(self, changes: Any, *, after: int, process: Any = None) -> int:
        if process is not None and self.kill_after is not None and self.commits == self.kill_after:
            process._process.kill()
            process._process.wait()
        committed = await super()._commit(changes, after=after, process=process)
        self.commits += 1
        return committed


async def test_a_rebuild_through_the_writer_process_stores_what_the_in_process_rebuild_stores(engine):
    store = ListEventStore(generated_history(EVENTS).events)
    assert await Projector(engine=engine, store=store, batch_size=BATCH, writer_process_from=None).catch_up() == EVENTS
    in_process = await digest(engine)
    counts = await table_counts(engine)

    await reset_read_models(engine)
    projector = Recording(engine=engine, store=store)
    assert await projector.catch_up() == EVENTS
    assert len(projector.started) == 1, "the catch-up did not use a writer process"
    assert projector.started[0]._process.poll() == 0, "the writer process outlived its catch-up"
    assert await table_counts(engine) == counts
    assert await digest(engine) == in_process
    assert await projector.checkpoint() == EVENTS


async def test_a_short_catch_up_commits_in_process(engine):
    store = ListEventStore(generated_history(300).events)
    projector = Recording(engine=engine, store=store)
    projector._writer_process_from = 301
    assert await projector.catch_up() == 300
    assert projector.started == []


async def _process_for(engine: Any) -> wp.WriterProcess:
    target = wp.writer_target(engine)
    assert target is not None
    return await wp.WriterProcess.start(target)


async def _checkpoint_at_zero(engine: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(t.projection_checkpoints.insert().values(name="main", last_seq=0, last_hash=None))


def _party_rows(target: row_plans.Target, *codes: str) -> list[row_plans.Queued]:
    from datetime import UTC, datetime

    queue = row_plans.QueuedWrites(target)
    queue.insert(t.parties, [
        {"code": code, "name": f"Party {code}", "registered_at": datetime(2024, 1, 1, tzinfo=UTC),
         "registered_seq": number, "last_seq": number, "version": 1}
        for number, code in enumerate(codes, start=1)
    ])
    return queue.take()


async def test_a_commit_moves_the_checkpoint_only_from_where_it_is(engine):
    await _checkpoint_at_zero(engine)
    process = await _process_for(engine)
    try:
        rows = _party_rows(process.target.rows, "AAA", "BBB")
        assert not await process.commit(name="main", after=5, last_seq=7, last_hash="h", queued=rows)
        assert (await table_counts(engine))["parties"] == 0
        assert await process.commit(name="main", after=0, last_seq=2, last_hash="h2", queued=rows)
    finally:
        await process.close()
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(t.projection_checkpoints.c.last_seq, t.projection_checkpoints.c.last_hash))).one() == (2, "h2")
        assert sorted(await conn.scalars(sa.select(t.parties.c.code))) == ["AAA", "BBB"]


async def test_rows_the_database_refuses_raise_and_leave_nothing_of_the_batch(engine):
    await _checkpoint_at_zero(engine)
    process = await _process_for(engine)
    try:
        duplicate = _party_rows(process.target.rows, "AAA", "AAA")
        with pytest.raises(IntegrityError, match="refused batch 1–2"):
            await process.commit(name="main", after=0, last_seq=2, last_hash="h", queued=duplicate)
        # The child is still usable, and the failed batch left nothing behind.
        assert await process.commit(name="main", after=0, last_seq=1, last_hash="h1",
                                    queued=_party_rows(process.target.rows, "CCC"))
    finally:
        await process.close()
    async with engine.connect() as conn:
        assert list(await conn.scalars(sa.select(t.parties.c.code))) == ["CCC"]
        assert await conn.scalar(sa.select(t.projection_checkpoints.c.last_seq)) == 1


async def test_a_writer_process_that_dies_mid_catch_up_leaves_checkpoint_and_rows_agreeing(engine):
    store = ListEventStore(generated_history(EVENTS).events)
    projector = Recording(engine=engine, store=store, kill_after=3)
    with pytest.raises(Unavailable, match="writer process"):
        await projector.catch_up()
    position = await projector.checkpoint()
    assert position == 3 * BATCH
    assert (await table_counts(engine))["events"] == position

    resumed = Recording(engine=engine, store=store)
    assert await resumed.catch_up() == EVENTS
    after_crash = await digest(engine)
    await reset_read_models(engine)
    assert await Projector(engine=engine, store=store, writer_process_from=None).catch_up() == EVENTS
    assert await digest(engine) == after_crash


async def test_without_a_writer_process_the_catch_up_commits_in_process(engine, monkeypatch, caplog):
    monkeypatch.setattr(wp, "_CHILD", "adapters.sql.no_such_module")
    store = ListEventStore(generated_history(600).events)
    projector = Recording(engine=engine, store=store)
    with caplog.at_level(logging.WARNING, logger="adapters.sql.projector"):
        assert await projector.catch_up() == 600
    assert projector.started == []
    assert "committing in-process" in caplog.text
    assert (await table_counts(engine))["events"] == 600


async def test_where_a_writer_process_writes(tmp_path):
    memory = create_engine("sqlite:///:memory:")
    on_disk = create_engine(f"sqlite:///{tmp_path}/x/parley.db")
    postgres = create_engine("postgresql://reader:s3cret@db.example:5432/parley?options=-csearch_path%3Dp")
    try:
        assert wp.writer_target(memory) is None
        target = wp.writer_target(on_disk)
        assert target is not None and target.backend == "sqlite" and target.database == str(tmp_path / "x" / "parley.db")
        remote = wp.writer_target(postgres)
        assert remote is not None and remote.rows == "postgresql-text"
        assert "s3cret" in remote.database and "s3cret" not in remote.label
        assert remote.database.startswith("postgresql://") and "search_path" in remote.database
    finally:
        for engine in (memory, on_disk, postgres):
            await engine.dispose()


def test_every_read_model_name_is_a_plain_lower_case_identifier():
    """`row_plans.quoted` relies on it: the same identifier on SQLite and PostgreSQL."""
    plain = re.compile(r"^[a-z_][a-z0-9_]*$")
    for table in t.metadata.tables.values():
        assert plain.match(table.name), table.name
        for column in table.columns:
            assert plain.match(column.name), f"{table.name}.{column.name}"
