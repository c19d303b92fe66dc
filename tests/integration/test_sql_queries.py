"""Read-side queries behind the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.sql import queries
from adapters.sql.projector import Projector
from core.errors import Invalid
from tests.integration.sql_fixtures import (  # noqa: F401
    T0,
    ListEventStore,
    database_url,
    engine,
    generated_history,
    postgres_url,
    scripted_history,
    sqlite_url,
)


@pytest.fixture
async def projected(engine):
    history = scripted_history()
    await Projector(engine=engine, store=ListEventStore(history.events)).catch_up()
    return history


async def test_parties_and_their_officers(engine, projected):
    parties = await queries.list_parties(engine)
    assert [(p.code, p.officers, p.version) for p in parties] == [("RUS", 1, 2), ("UKR", 1, 2), ("USA", 2, 3)]

    usa = await queries.get_party(engine, "USA")
    assert usa is not None and usa.name == "United States of America" and usa.last_seq == 6
    assert usa.registered_at == T0 + timedelta(minutes=1)
    assert await queries.get_party(engine, "FRA") is None

    officers = await queries.list_officers(engine, "USA")
    assert [(o.id, o.name) for o in officers] == [("usa-1", "Cdr. Ada Byron"), ("usa-2", "Lt. Grace Hopper")]
    assert await queries.list_officers(engine, "FRA") == []


async def test_incidents_are_listed_newest_first_with_filters(engine, projected):
    page = await queries.list_incidents(engine)
    assert [i.id for i in page.items] == ["I-4", "I-3", "I-2", "I-1"] and page.next_cursor is None
    assert page.items[0].parties == ["UKR", "RUS", "USA"]

    async def ids(**filters) -> list[str]:
        return [i.id for i in (await queries.list_incidents(engine, **filters)).items]

    assert await ids(party="UKR") == ["I-4", "I-3"]
    assert await ids(party="FRA") == []
    assert await ids(status="resolved") == ["I-2"]
    assert await ids(kind="unsafe_encounter_sea") == ["I-1"]
    assert await ids(party="USA", status="reconciled") == ["I-1"]
    # started_at: I-2 a day before T0, I-1 and I-3 6 h before, I-4 2 h before.
    assert await ids(since=T0 - timedelta(hours=3)) == ["I-4"]
    assert await ids(until=T0 - timedelta(hours=6)) == ["I-2"]
    assert await ids(since=T0 - timedelta(hours=6), until=T0 - timedelta(hours=1)) == ["I-4", "I-3", "I-1"]


async def test_cursor_pages_cover_every_incident_once_in_order(engine):
    history = generated_history(500)
    await Projector(engine=engine, store=ListEventStore(history.events)).catch_up()
    everything = (await queries.list_incidents(engine, limit=1000)).items
    assert len(everything) > 20

    seen, cursor = [], None
    while True:
        page = await queries.list_incidents(engine, limit=7, cursor=cursor)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [i.id for i in seen] == [i.id for i in everything]
    assert [(i.reported_at, i.id) for i in seen] == sorted(((i.reported_at, i.id) for i in seen), reverse=True)

    party = everything[0].parties[0]
    filtered, cursor = [], None
    while True:
        page = await queries.list_incidents(engine, party=party, limit=3, cursor=cursor)
        filtered.extend(i.id for i in page.items)
        if not (cursor := page.next_cursor):
            break
    assert filtered == [i.id for i in everything if party in i.parties]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WyJ4Il0"])
async def test_a_cursor_this_api_did_not_return_is_invalid(engine, cursor):
    with pytest.raises(Invalid, match="cursor"):
        await queries.list_incidents(engine, cursor=cursor)


async def test_limits_and_naive_times_are_refused(engine):
    with pytest.raises(Invalid):
        await queries.list_incidents(engine, limit=0)
    with pytest.raises(Invalid, match="time zone"):
        await queries.list_incidents(engine, since=T0.replace(tzinfo=None))


async def test_one_incident_with_all_accounts_and_its_outcome(engine, projected):
    i1 = await queries.get_incident(engine, "I-1")
    assert i1 is not None
    assert (i1.status, i1.reporter, i1.parties, i1.last_seq, i1.version) == ("reconciled", "USA", ["USA", "RUS"], 15, 8)
    assert [(a.party, a.version) for a in i1.accounts] == [("USA", 2), ("RUS", 1)]
    usa, rus = i1.accounts
    assert usa.position is not None and (usa.position.lat, usa.position.lon) == (43.25, 34.125)
    assert rus.position is None and rus.place == "Black Sea, 40 nm SW of Sevastopol" and rus.casualties == 0
    assert [(c.id, c.answer) for c in i1.clarifications] == [("c1", "Frigate Admiral Essen.")]
    assert set(i1.acknowledged) == {"RUS"} and i1.reconciliation == {"USA": ["kind", "time"], "RUS": ["kind"]}

    i2 = await queries.get_incident(engine, "I-2")
    assert (i2.disputed_by, i2.disputed_fields, i2.review_forum) == ("USA", ["cpa", "severity"], "INCSEA annual review")
    assert i2.finding == "Both aircraft kept the agreed separation."
    assert (await queries.get_incident(engine, "I-3")).retraction_reason == "filed against the wrong party"
    assert await queries.get_incident(engine, "nope") is None


async def test_the_timeline_lists_every_event_in_order(engine, projected):
    timeline = await queries.incident_timeline(engine, "I-2")
    assert [e.type.split(".")[2] for e in timeline] == [
        "reported", "acknowledged", "counter-account-filed", "disputed", "referred-to-review", "resolved",
    ]
    assert [e.seq for e in timeline] == sorted(e.seq for e in timeline)
    assert timeline[3].summary == "USA disputed cpa, severity: No intercept took place."
    assert timeline[3].data == {"disputed_fields": ["cpa", "severity"], "statement": "No intercept took place."}
    assert await queries.incident_timeline(engine, "nope") == []


async def test_the_events_index_lists_every_envelope_in_stream_order(engine, projected):
    first = await queries.list_events(engine, after=0, limit=10)
    rest = await queries.list_events(engine, after=first[-1].seq, limit=1000)
    assert [e.seq for e in first + rest] == list(range(1, 27))
    for entry, stored in zip(first + rest, projected.events):
        envelope = stored.event
        assert (entry.event_id, entry.type, entry.aggregate_id, entry.aggversion, entry.hash, entry.prevhash) == (
            envelope.id, envelope.type, envelope.subject, envelope.aggversion, envelope.hash, envelope.prevhash)
        assert (entry.time, entry.recorded, entry.party, entry.actor, entry.source) == (
            envelope.moment, stored.recorded, envelope.party, envelope.actor, envelope.source)
        assert entry.backfilled is False and entry.correlationid == envelope.correlationid

    i3 = await queries.list_events(engine, aggregate_id="I-3")
    assert [e.type for e in i3] == ["parley.incident.reported.v1", "parley.incident.retracted.v1"]
    assert len(await queries.list_events(engine, aggtype="party")) == 7


async def test_the_checkpoint_is_readable_by_name(engine, projected):
    assert await queries.get_checkpoint(engine) == 26
    assert await queries.get_checkpoint(engine, "shadow") == 0


async def test_incidents_reported_at_the_same_instant_page_by_id(engine):
    from core.incidents import events as ie
    from tests.integration.sql_fixtures import History, account

    history = History()
    history.party("USA", "United States")
    for number in range(5):
        history.add(ie.AGGREGATE, f"S-{number}", ie.IncidentReported(parties=["USA", "RUS"], account=account()),
                    party="USA", at=T0)
    await Projector(engine=engine, store=ListEventStore(history.events)).catch_up()

    seen, cursor = [], None
    while True:
        page = await queries.list_incidents(engine, limit=2, cursor=cursor)
        seen.extend(i.id for i in page.items)
        if not (cursor := page.next_cursor):
            break
    assert seen == ["S-4", "S-3", "S-2", "S-1", "S-0"]
