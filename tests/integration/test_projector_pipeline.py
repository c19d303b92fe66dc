"""The projector's pipelined catch-up (batch N commits while batch N+1 is read and folded) and
the JetStream batch reader it uses, on real databases (and a real nats-server for the reader).

The folding of batch N+1 relies on the states batch N produced before N has committed; these
tests make a commit fail at that very moment and check that nothing folded on top of it is
ever written, and that a restart ends exactly where a clean rebuild ends.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from adapters.sql.gc_control import collector_relaxed
from adapters.sql.digest import digest, table_counts
from adapters.sql.projector import Projector
from core.ports import AggregateRef
from tests.integration.sql_fixtures import ListEventStore, generated_history, reset_read_models


class FailingOnce(Projector):
    """Fails the commit of the batch ending at `fail_at`, once, after writing part of it."""

    def __init__(self, *, fail_at: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_at = fail_at
        self.failed = False
        self.prepared: list[int] = []

    async def _prepare(self, batch: Any, *, after: int, **kwargs: Any) -> Any:
        changes = await super()._prepare(batch, after=after, **kwargs)
        self.prepared.append(changes.last_seq)
        return changes

    async def _write(self, conn: Any, changes: Any) -> None:
        await super()._write(conn, changes)
        if changes.last_seq == self.fail_at and not self.failed:
            self.failed = True
            raise OperationalError("INSERT", {}, Exception("the database went away mid-commit"))


async def test_a_failed_commit_writes_nothing_folded_after_it_and_a_restart_matches_a_clean_rebuild(engine):
    history = generated_history(700)
    store = ListEventStore(history.events)
    projector = FailingOnce(engine=engine, store=store, batch_size=100, fail_at=300)

    with pytest.raises(OperationalError):
        await projector.catch_up()

    assert 400 in projector.prepared  # batch 301–400 was folded while 201–300 was committing
    assert await projector.checkpoint() == 200
    assert (await table_counts(engine))["events"] == 200
    # The same instance continues (its cache was cleared, so it reloads from the database).
    assert await projector.catch_up() == len(history.events)
    resumed = await digest(engine)

    await reset_read_models(engine)
    assert await Projector(engine=engine, store=store).catch_up() == len(history.events)
    assert await digest(engine) == resumed


async def test_progress_is_reported_after_each_commit_in_order(engine):
    history = generated_history(350)
    seen: list[tuple[int, int]] = []
    projector = Projector(engine=engine, store=ListEventStore(history.events), batch_size=100)

    await projector.catch_up(until=330, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(100, 330), (200, 330), (300, 330), (330, 330)]
    assert await projector.checkpoint() == 330


def test_the_collector_thresholds_are_restored_after_nested_catch_ups():
    before = gc.get_threshold()
    with collector_relaxed():
        relaxed = gc.get_threshold()
        with collector_relaxed():
            assert gc.get_threshold() == relaxed
        assert gc.get_threshold() == relaxed  # the outer one is still running
    assert relaxed != before and gc.get_threshold() == before


async def test_the_batch_reader_gives_the_same_events_as_read_bounded_and_in_order(js_store):
    history = generated_history(450)
    last: dict[tuple[str, str], int] = {}
    for stored in history.events:
        event = stored.event
        key = (event.aggtype, event.subject)
        last[key] = await js_store.append(AggregateRef(type=event.aggtype, id=event.subject), [event],
                                          expected_seq=last.get(key, 0))

    one_by_one = [s async for s in js_store.read(after=17, until=431)]
    chunks = [chunk async for chunk in js_store.read_batches(after=17, until=431, size=64)]

    flat = [s for chunk in chunks for s in chunk]
    assert [s.seq for s in flat] == list(range(18, 432))
    assert flat == one_by_one
    assert all(1 <= len(chunk) <= 64 for chunk in chunks)
    assert [s.event for s in flat] == [s.event for s in history.events[17:431]]
    assert [chunk async for chunk in js_store.read_batches(after=431, until=431)] == []


async def test_a_rebuild_whose_cache_forgets_states_still_loads_them_from_the_database(engine, monkeypatch):
    """From an empty read model nothing is loaded while the cache holds every aggregate; once
    it has forgotten some (here beyond 5 per kind), what it lacks must come from the database."""
    import adapters.sql.projector as module

    history = generated_history(800)
    store = ListEventStore(history.events)
    loads: list[Any] = []
    original = module.load_snapshot

    async def counting(conn: Any, wanted: Any) -> Any:
        loads.append(wanted)
        return await original(conn, wanted)

    monkeypatch.setattr(module, "load_snapshot", counting)

    roomy = Projector(engine=engine, store=store, batch_size=40)
    assert await roomy.catch_up() == len(history.events)
    assert loads == []  # every aggregate was new or in the cache
    with_room = await digest(engine)

    await reset_read_models(engine)
    forgetful = Projector(engine=engine, store=store, batch_size=40)
    forgetful._cache.capacity = 5
    assert await forgetful.catch_up() == len(history.events)
    assert len(loads) > 0
    assert await digest(engine) == with_room


@given(moment=st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.timezones()))
def test_sqlite_time_is_sqlalchemys_storage_format_of_the_utc_instant(moment: datetime) -> None:
    """The fast path for UTC values writes what the general path (and SQLAlchemy) writes."""
    from adapters.sql.row_plans import sqlite_time

    expected = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    assert sqlite_time(moment) == expected
