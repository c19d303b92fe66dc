"""The projector on SQLite and PostgreSQL: rows, batches, checkpoints, gaps, live following."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.sql import tables as t
from adapters.sql.digest import digest, table_counts
from adapters.sql.projector import Projector
from adapters.sql.state_codec import incident_state_from_json, incident_state_to_json
from core.decider import Fact
from core.envelope import seal
from core.errors import IntegrityError
from core.events import decode
from core.incidents import decider as incidents
from core.incidents.events import AGGREGATE as INCIDENT
from core.incidents.state import AccountRecord, Clarification, Incident, Status
from tests.integration.sql_fixtures import (  # noqa: F401
    T0,
    ListEventStore,
    LiveListEventStore,
    account,
    database_url,
    engine,
    generated_history,
    postgres_url,
    scripted_history,
    sqlite_url,
)


async def _rows(engine, table: sa.Table, *order: str) -> list[dict]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(table).order_by(*(table.c[name] for name in order)))
        return [dict(row._mapping) for row in result]


async def _reset(engine) -> None:
    """Empty every projection table and the checkpoints (children first)."""
    async with engine.begin() as conn:
        for table in reversed(t.PROJECTION_TABLES):
            await conn.execute(table.delete())
        await conn.execute(t.projection_checkpoints.delete())


async def test_a_scripted_history_becomes_the_expected_rows(engine):
    history = scripted_history()
    projector = Projector(engine=engine, store=ListEventStore(history.events))

    assert await projector.catch_up() == len(history.events) == await projector.checkpoint()

    parties = await _rows(engine, t.parties, "code")
    assert [(p["code"], p["name"], p["version"]) for p in parties] == [
        ("RUS", "Russian Federation", 2), ("UKR", "Ukraine", 2), ("USA", "United States of America", 3),
    ]
    usa = parties[2]
    assert usa["registered_seq"] == 1 and usa["last_seq"] == 6 and usa["registered_at"] == T0 + timedelta(minutes=1)
    officers = await _rows(engine, t.officers, "registered_seq")
    assert [(o["party_code"], o["id"]) for o in officers] == [
        ("USA", "usa-1"), ("RUS", "rus-1"), ("USA", "usa-2"), ("UKR", "ukr-1"),
    ]

    incidents_by_id = {row["id"]: row for row in await _rows(engine, t.incidents, "id")}
    assert {k: v["status"] for k, v in incidents_by_id.items()} == {
        "I-1": "reconciled", "I-2": "resolved", "I-3": "retracted", "I-4": "acknowledged",
    }
    i1 = incidents_by_id["I-1"]
    assert (i1["reporter"], i1["parties"], i1["version"]) == ("USA", ",USA,RUS,", 8)
    assert i1["last_seq"] == 15  # I-1's last event: the ETag
    assert (i1["kind"], i1["severity"]) == ("unsafe_encounter_sea", 4)  # from USA's amended account
    assert incidents_by_id["I-4"]["parties"] == ",UKR,RUS,USA,"

    accounts = {(a["incident_id"], a["party"]): a for a in await _rows(engine, t.incident_accounts, "incident_id", "party")}
    assert set(accounts) == {("I-1", "USA"), ("I-1", "RUS"), ("I-2", "RUS"), ("I-2", "USA"), ("I-3", "USA"), ("I-4", "UKR")}
    usa_i1, rus_i1 = accounts[("I-1", "USA")], accounts[("I-1", "RUS")]
    assert (usa_i1["version"], usa_i1["amendment_reason"], usa_i1["cpa_m"]) == (2, "radar track reviewed", 250.0)
    assert usa_i1["units"] == ["DDG-51", "MH-60R"] and usa_i1["attachments"] == []
    assert (usa_i1["lat"], usa_i1["lon"], usa_i1["uncertainty_m"]) == (43.25, 34.125, 500.0)
    assert (rus_i1["version"], rus_i1["lat"], rus_i1["place"], rus_i1["casualties"]) == (
        1, None, "Black Sea, 40 nm SW of Sevastopol", 0)
    assert rus_i1["time_precision"] == "hour" and rus_i1["initiator"] == "USA"

    clarifications = await _rows(engine, t.incident_clarifications, "incident_id", "clarification_id")
    assert [(c["incident_id"], c["clarification_id"], c["answer"]) for c in clarifications] == [
        ("I-1", "c1", "Frigate Admiral Essen."), ("I-4", "q-1", None),
    ]

    assert sorted((r["incident_id"], r["party"]) for r in await _rows(engine, t.incident_parties, "incident_id")) == [
        ("I-1", "RUS"), ("I-1", "USA"), ("I-2", "RUS"), ("I-2", "USA"), ("I-3", "UKR"), ("I-3", "USA"),
        ("I-4", "RUS"), ("I-4", "UKR"), ("I-4", "USA"),
    ]

    timeline = await _rows(engine, t.incident_timeline, "seq")
    assert len(timeline) == 19 and [r["incident_id"] for r in timeline].count("I-2") == 6
    summaries = [r["summary"] for r in timeline if r["incident_id"] == "I-1"]
    assert summaries[0] == "USA reported an incident (unsafe encounter sea, severity 3) involving USA, RUS"
    assert summaries[3] == "USA amended its account (version 2): radar track reviewed"
    assert timeline[0]["data"] == dict(history.events[7].event.data)

    events = await _rows(engine, t.events, "seq")
    assert [e["seq"] for e in events] == list(range(1, 27))
    assert events[0]["hash"] == history.events[0].event.hash and events[0]["recorded"].tzinfo is not None


async def test_the_state_column_is_the_deciders_own_fold(engine):
    history = scripted_history()
    await Projector(engine=engine, store=ListEventStore(history.events)).catch_up()
    async with engine.connect() as conn:
        stored = {row.id: incident_state_from_json(row.state) for row in await conn.execute(sa.select(t.incidents))}
    for incident_id, state in stored.items():
        facts = [(decode(s.event), Fact.of(s.event, seq=s.seq)) for s in history.events
                 if s.event.aggtype == INCIDENT and s.event.subject == incident_id]
        assert state == incidents.DECIDER.fold(facts)


def test_the_incident_state_codec_round_trips_exactly():
    moment = T0 + timedelta(microseconds=123)
    state = Incident(
        id="I-9", reporter="USA", parties=("USA", "RUS", "UKR"), status=Status.UNDER_REVIEW, reported_at=moment,
        accounts={
            "USA": AccountRecord(party="USA", account=account(units=["a"], cpa_m=12.5), filed_at=moment),
            "RUS": AccountRecord(party="RUS", account=account(place="Baltic", position=None), filed_at=moment,
                                 version=3, amended_at=moment + timedelta(hours=1), amendment_reason="typo"),
        },
        acknowledged={"RUS": moment},
        clarifications={"c": Clarification(id="c", from_party="USA", to_party="RUS", question="q?", asked_at=moment,
                                           answer="a.", answered_at=moment + timedelta(seconds=1))},
        reconciliation={"USA": ("kind", "time")}, disputed_by="RUS", disputed_fields=("cpa",),
        dispute_statement="no", review_forum="commission", finding=None, retraction_reason=None, updated_at=moment,
    )
    restored = incident_state_from_json(incident_state_to_json(state))
    assert restored == state
    assert restored.reported_at.tzinfo is moment.tzinfo and restored.acknowledged["RUS"].tzinfo is moment.tzinfo
    assert isinstance(restored.parties, tuple) and isinstance(restored.reconciliation["USA"], tuple)
    assert restored.status is Status.UNDER_REVIEW
    assert incident_state_to_json(restored) == incident_state_to_json(state)


async def test_batch_size_does_not_change_the_read_models(engine):
    history = generated_history(600)
    digests = []
    for size in (1, 7, 1000):
        await _reset(engine)
        projector = Projector(engine=engine, store=ListEventStore(history.events), batch_size=size)
        assert await projector.catch_up() == len(history.events)
        digests.append(await digest(engine))
    assert digests[0] == digests[1] == digests[2]


async def test_catch_up_until_stops_there_and_reports_progress(engine):
    history = scripted_history()
    seen: list[tuple[int, int]] = []
    projector = Projector(engine=engine, store=ListEventStore(history.events), batch_size=4)

    assert await projector.catch_up(until=10, progress=lambda done, total: seen.append((done, total))) == 10

    assert seen == [(4, 10), (8, 10), (10, 10)]
    assert await projector.checkpoint() == 10
    assert (await table_counts(engine))["events"] == 10
    assert await projector.catch_up(until=5) == 10  # never backwards


async def test_restarting_from_the_checkpoint_continues_without_duplicates(engine):
    history = generated_history(300)
    store = ListEventStore(history.events)
    await Projector(engine=engine, store=store, batch_size=50).catch_up(until=123)
    await Projector(engine=engine, store=store, batch_size=50).catch_up(until=200)  # a new process, empty cache
    assert await Projector(engine=engine, store=store, batch_size=50).catch_up() == len(history.events)
    in_steps = await digest(engine)

    await _reset(engine)
    await Projector(engine=engine, store=store).catch_up()
    assert await digest(engine) == in_steps


async def test_a_gap_in_the_stream_stops_the_projector_and_names_it(engine):
    history = scripted_history()
    holey = history.events[:5] + history.events[8:]  # sequences 6, 7 and 8 missing
    projector = Projector(engine=engine, store=ListEventStore(holey), batch_size=3)

    with pytest.raises(IntegrityError, match="sequence 6–8 is missing"):
        await projector.catch_up()

    assert await projector.checkpoint() == 3  # the batch holding the gap was not applied at all
    assert (await table_counts(engine))["events"] == 3


async def test_a_single_missing_sequence_is_named(engine):
    history = scripted_history()
    with pytest.raises(IntegrityError, match="sequence 1 is missing"):
        await Projector(engine=engine, store=ListEventStore(history.events[1:])).catch_up()


async def test_an_event_that_contradicts_its_history_rolls_back_its_whole_batch(engine):
    history = scripted_history()
    bad = history.events[8]  # I-1's acknowledgement, re-labelled to an incident never reported
    events = history.events[:8] + [replace(bad, event=replace(bad.event, subject="I-404"))] + history.events[9:]
    projector = Projector(engine=engine, store=ListEventStore(events), batch_size=5)

    with pytest.raises(IntegrityError, match="event 9 .*I-404"):
        await projector.catch_up()

    assert await projector.checkpoint() == 5
    assert (await table_counts(engine))["events"] == 5


async def test_unknown_event_types_only_reach_the_events_index(engine):
    plain = scripted_history()
    await Projector(engine=engine, store=ListEventStore(plain.events)).catch_up()
    without = await _rows(engine, t.incidents, "id")

    await _reset(engine)
    mixed = scripted_history()
    mixed.raw("hotline", "H-1", "parley.hotline.message-sent.v1", {"precedence": "FLASH"}, party="USA")
    mixed.raw(INCIDENT, "I-1", "parley.incident.teleported.v9", {"to": "moon"}, party="USA")
    mixed.raw("party", "USA", "parley.party.renamed.v1", {"name": "USA"}, party="admin")
    projector = Projector(engine=engine, store=ListEventStore(mixed.events))

    assert await projector.catch_up() == len(plain.events) + 3

    counts = await table_counts(engine)
    assert counts["events"] == len(plain.events) + 3 and counts["incident_timeline"] == 19
    assert await _rows(engine, t.incidents, "id") == without
    unknown = [e for e in await _rows(engine, t.events, "seq") if e["seq"] > len(plain.events)]
    assert [e["type"] for e in unknown] == [
        "parley.hotline.message-sent.v1", "parley.incident.teleported.v9", "parley.party.renamed.v1",
    ]
    assert [e["aggregate_id"] for e in unknown] == ["H-1", "I-1", "USA"]


async def test_a_known_event_with_a_bad_payload_is_an_integrity_error(engine):
    history = scripted_history()
    broken = history.events[7]  # I-1 reported
    sealed = seal(replace(broken.event, data={"parties": ["USA"]}), prevhash=None)
    events = history.events[:7] + [replace(broken, event=sealed)] + history.events[8:]
    with pytest.raises(IntegrityError, match="does not match its schema"):
        await Projector(engine=engine, store=ListEventStore(events)).catch_up()


async def test_two_projectors_on_one_checkpoint_never_apply_a_batch_twice(engine):
    history = generated_history(400)
    store = ListEventStore(history.events)
    one = Projector(engine=engine, store=store, batch_size=25)
    two = Projector(engine=engine, store=store, batch_size=30)

    results = await asyncio.gather(one.catch_up(), two.catch_up())

    assert results == [len(history.events)] * 2
    together = await digest(engine)
    await _reset(engine)
    await Projector(engine=engine, store=store).catch_up()
    assert await digest(engine) == together


@pytest.mark.parametrize("live", [False, True], ids=["polling", "live-iterator"])
async def test_follow_keeps_up_and_wait_for_sees_new_events(engine, live):
    history = scripted_history()
    first, later = history.events[:10], history.events[10:]
    store = LiveListEventStore(first) if live else ListEventStore(first)
    projector = Projector(engine=engine, store=store, idle_seconds=0.01)
    reader = Projector(engine=engine, store=store)  # e.g. another API process: polls the checkpoint
    stop = asyncio.Event()
    task = asyncio.create_task(projector.follow(stop))
    try:
        assert await projector.wait_for(10, timeout=5)
        assert not await reader.wait_for(11, timeout=0.1)
        if live:
            await store.add(later)
        else:
            store.events.extend(later)
        assert await reader.wait_for(len(history.events), timeout=5)
        assert await projector.wait_for(len(history.events), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert await projector.checkpoint() == len(history.events)
    assert (await table_counts(engine))["incident_timeline"] == 19


async def test_follow_stops_on_an_integrity_error(engine):
    history = scripted_history()
    projector = Projector(engine=engine, store=ListEventStore(history.events[2:]), idle_seconds=0.01)
    with pytest.raises(IntegrityError):
        await asyncio.wait_for(projector.follow(asyncio.Event()), 5)


async def test_apply_takes_a_batch_that_starts_after_the_checkpoint(engine):
    history = scripted_history()
    projector = Projector(engine=engine, store=ListEventStore())
    assert await projector.apply(history.events[:3]) == 3
    with pytest.raises(IntegrityError, match="went backwards"):
        await projector.apply(history.events[2:5])
    assert await projector.apply(history.events[3:5]) == 5


async def test_a_projection_with_another_name_keeps_its_own_checkpoint(engine):
    history = scripted_history()
    store = ListEventStore(history.events)
    await Projector(engine=engine, store=store, name="main").catch_up(until=4)
    other = Projector(engine=engine, store=store, name="shadow")
    assert await other.checkpoint() == 0
    assert await Projector(engine=engine, store=store, name="main").checkpoint() == 4


async def test_bulk_inserts_store_exactly_what_plain_sqlalchemy_inserts_store(engine):
    from adapters.sql.bulk import insert_rows
    from adapters.sql.projections import Snapshot, project

    changes = project(Snapshot(), scripted_history().events)
    async with engine.begin() as conn:
        for table in t.PROJECTION_TABLES:
            await insert_rows(conn, table, changes.inserts.get(table.name, []))
    bulk = await digest(engine)
    bulk_rows = {table.name: await _rows(engine, table, *table.primary_key.columns.keys()) for table in t.PROJECTION_TABLES}

    await _reset(engine)
    async with engine.begin() as conn:
        for table in t.PROJECTION_TABLES:
            if changes.inserts.get(table.name):
                await conn.execute(table.insert(), changes.inserts[table.name])
    assert await digest(engine) == bulk
    for table in t.PROJECTION_TABLES:
        assert await _rows(engine, table, *table.primary_key.columns.keys()) == bulk_rows[table.name]


async def test_bulk_updates_store_exactly_what_plain_sqlalchemy_updates_store(engine):
    from adapters.sql.bulk import insert_rows, update_rows
    from adapters.sql.projections import Snapshot, project
    from adapters.sql.projector import _keyed

    batches, snapshot = [], Snapshot()
    for stored in scripted_history().events:  # one event per batch: every later event is an update
        batches.append(project(snapshot, [stored]))
        snapshot.merge(batches[-1].after)
    assert len({name for changes in batches for name in changes.updates}) >= 2, "the history must update rows"

    async def write(*, fast: bool) -> tuple[str, dict]:
        await _reset(engine)
        async with engine.begin() as conn:
            for changes in batches:
                for table in t.PROJECTION_TABLES:
                    await insert_rows(conn, table, changes.inserts.get(table.name, []))
                    rows = changes.updates.get(table.name, [])
                    if not rows:
                        continue
                    if fast:
                        assert await update_rows(conn, table, rows)
                    else:
                        keys = tuple(table.primary_key.columns.keys())
                        statement = table.update().where(*[table.c[k] == sa.bindparam(f"pk_{k}") for k in keys])
                        await conn.execute(statement, [_keyed(row, keys) for row in rows])
        return await digest(engine), {
            table.name: await _rows(engine, table, *table.primary_key.columns.keys()) for table in t.PROJECTION_TABLES
        }

    fast_digest, fast_rows = await write(fast=True)
    plain_digest, plain_rows = await write(fast=False)
    assert fast_digest == plain_digest
    assert fast_rows == plain_rows


class _DroppingReader(ListEventStore):
    """A reader that loses deliveries the first time (like a nats-py slow consumer), while the
    stream itself (`get`) holds every event."""

    def __init__(self, events, *, drop: set[int]) -> None:  # noqa: ANN001
        super().__init__(events)
        self._drop = set(drop)

    async def read(self, *, after: int = 0, until: int | None = None):  # noqa: ANN201
        async for stored in super().read(after=after, until=until):
            if stored.seq in self._drop:
                self._drop.discard(stored.seq)
                continue
            yield stored

    async def get(self, seq: int):  # noqa: ANN201
        return next((stored for stored in self.events if stored.seq == seq), None)


async def test_deliveries_dropped_by_the_reader_are_read_again_not_called_a_gap(engine):
    history = generated_history(200)
    reference = Projector(engine=engine, store=ListEventStore(history.events), batch_size=50)
    await reference.catch_up()
    expected = await digest(engine)
    await _reset(engine)

    store = _DroppingReader(history.events, drop={17, 18, 120})
    assert await Projector(engine=engine, store=store, batch_size=50).catch_up() == len(history.events)
    assert await digest(engine) == expected


async def test_a_gap_the_stream_confirms_still_stops_the_projector(engine):
    history = scripted_history()
    holey = history.events[:5] + history.events[8:]
    store = _DroppingReader(holey, drop=set())  # `get` finds nothing at 6: a real hole
    with pytest.raises(IntegrityError, match="sequence 6–8 is missing"):
        await Projector(engine=engine, store=store, batch_size=3).catch_up()
