"""As-of reads (adapters/sql/as_of.py) equal a replay: for a sample of cuts S over a realistic
history on real JetStream, every list and record query answered as of S from the *live* read
models (SQLite and PostgreSQL) equals the same query on read models replayed up to S.

The history is `metrics_history.random_world` (the real application: three parties, agreements
with check calls and a terms change, messages, call and explanation requests, incidents,
inspections, notifications), copied event by event onto a JetStream stream. The reference is a
second projector moved forward one cut at a time into its own SQLite database — exactly what
`parley replay --until-seq S` builds.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder

from adapters.jetstream.store import JetStreamEventStore
from adapters.sql import hotline_queries as hq
from adapters.sql import inspection_queries as iq
from adapters.sql import queries
from adapters.sql import tables as t
from adapters.sql.inspection_tables import inspections as inspection_rows, notifications as notification_rows
from adapters.sql.as_of import AsOf, Order, Query
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from core import parties
from core.agreements import agreement as ag
from core.hotline import calls, check_calls, explanations, messages
from core.incidents.events import AGGREGATE as INCIDENT
from core.inspections import notifications
from core.inspections.decider import AGGREGATE as INSPECTION
from core.ports import AggregateRef
from tests.integration.metrics_history import T0, random_world
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401

CUTS = 20  # cuts checked, spread over the history (plus 0 and the end)
NEWEST = Order((("last_seq", True),))
#: (name, aggtype, query, order, limit): every list query, with filters and party views.
LISTS: list[tuple[str, str, Query[Any], Order, int | None]] = [
    ("parties", parties.AGGREGATE, lambda s, u: queries.list_parties(s, until_seq=u), Order((("code", False),), ("code",)), None),
    ("agreements", ag.AGGREGATE, lambda s, u: hq.list_agreements(s, party=None, until_seq=u), Order((("id", False),)), None),
    ("agreements/CCC", ag.AGGREGATE, lambda s, u: hq.list_agreements(s, party="CCC", until_seq=u), Order((("id", False),)), None),
    ("messages", messages.AGGREGATE, lambda s, u: hq.list_messages(s, party=None, limit=7, until_seq=u),
     Order((("sent_seq", True),)), 7),
    ("messages/BBB inbox overdue", messages.AGGREGATE, lambda s, u: hq.list_messages(
        s, party="BBB", box="inbox", overdue_at=T0 + timedelta(days=4), until_seq=u), Order((("sent_seq", True),)), 100),
    ("calls", calls.AGGREGATE, lambda s, u: hq.list_requests(s, "call", party=None, limit=5, until_seq=u),
     Order((("requested_at", True), ("id", False))), 5),
    ("explanations/CCC", explanations.AGGREGATE, lambda s, u: hq.list_requests(s, "explanation", party="CCC", until_seq=u),
     Order((("requested_at", True), ("id", False))), 100),
    ("check calls", check_calls.AGGREGATE, lambda s, u: hq.list_check_calls(s, "AB", limit=9, until_seq=u),
     Order((("slot_start", True), ("party", False)), ("slot_id", "party")), 9),
    ("check-call outcomes", check_calls.AGGREGATE, lambda s, u: hq.check_call_outcomes(s, "AB", until_seq=u),
     Order((("party", False), ("slot_start", False)), ("party", "slot_start")), None),
    ("inspections", INSPECTION, lambda s, u: iq.list_inspections(s, party=None, limit=4, until_seq=u), NEWEST, 4),
    ("inspections/CCC receiving", INSPECTION, lambda s, u: iq.list_inspections(
        s, party="CCC", role="receiving", until_seq=u), NEWEST, 100),
    ("notifications/BBB", notifications.AGGREGATE, lambda s, u: iq.list_notifications(s, party="BBB", until_seq=u),
     NEWEST, 100),
]
Get = Callable[[str], Callable[[Any], Awaitable[Any]]]
#: (aggtype, table holding the ids, record query).
RECORDS: list[tuple[str, sa.Table, Get]] = [
    (INCIDENT, t.incidents, lambda i: lambda s: queries.get_incident(s, i)),
    (ag.AGGREGATE, t.agreements, lambda i: lambda s: hq.get_agreement(s, i)),
    (messages.AGGREGATE, t.hotline_messages, lambda i: lambda s: hq.get_message(s, i, party=None)),
    (calls.AGGREGATE, t.hotline_requests, lambda i: lambda s: hq.get_request(s, "call", i, party=None)),
    (explanations.AGGREGATE, t.hotline_requests, lambda i: lambda s: hq.get_request(s, "explanation", i, party="CCC")),
    (INSPECTION, inspection_rows, lambda i: lambda s: iq.get_inspection(s, i, party=None)),
    (notifications.AGGREGATE, notification_rows, lambda i: lambda s: iq.get_notification(s, i, party="CCC")),
]


async def _on_jetstream(store: JetStreamEventStore) -> int:
    """The random world's events appended, in order, to the (fresh) stream: same sequences."""
    world = await random_world(11, steps=120)
    last: dict[AggregateRef, int] = {}
    async for stored in world.store.read():
        ref = AggregateRef(type=stored.event.aggtype, id=stored.event.subject)
        last[ref] = await store.append(ref, [stored.event], expected_seq=last.get(ref, 0))
        assert last[ref] == stored.seq
    return await store.last_seq()


async def _ids(source: Any, table: sa.Table) -> list[str]:
    async with source.connect() as conn:
        return sorted({row.id for row in await conn.execute(sa.select(table.c.id))})


def _same(got: Any, want: Any, what: str) -> None:
    assert jsonable_encoder(got) == jsonable_encoder(want), what


async def test_every_read_as_of_a_cut_equals_the_read_models_replayed_to_it(
    js_store: JetStreamEventStore, engine: Any, tmp_path: Path,
) -> None:
    last = await _on_jetstream(js_store)
    assert last > 100 and await Projector(engine=engine, store=js_store).catch_up() == last
    reference_url = f"sqlite:///{tmp_path}/replayed.db"
    await migrate(reference_url)
    reference = create_engine(reference_url)
    replay = Projector(engine=reference, store=js_store)
    ids = {(aggtype, table.name): await _ids(engine, table) for aggtype, table, _ in RECORDS}
    incident_ids = ids[(INCIDENT, "incidents")]
    assert all(ids.values()), ids
    cuts = sorted({0, last, *range(1, last, max(1, last // CUTS))})
    try:
        for n, seq in enumerate(cuts):
            if seq:
                assert await replay.catch_up(until=seq) == seq
            async with AsOf(engine=engine, store=js_store, seq=seq) as at:
                for name, aggtype, query, order, limit in LISTS:
                    _same(await at.listing(aggtype, query, order, limit=limit), await query(reference, None),
                          f"{name} as of {seq}")

                for visible_to in (None, "BBB"):  # pages, and the next page through the cursor
                    def page(cursor: str | None) -> Query[Any]:
                        return lambda s, u: queries.list_incidents(s, visible_to=visible_to, limit=3, cursor=cursor,
                                                                   until_seq=u)
                    want = await page(None)(reference, None)
                    _same(await at.incident_page(page(None), limit=3), want, f"incidents/{visible_to} as of {seq}")
                    if want.next_cursor:
                        _same(await at.incident_page(page(want.next_cursor), limit=3),
                              await page(want.next_cursor)(reference, None), f"incidents page 2 as of {seq}")

                for aggtype, table, get in RECORDS:  # a few records per cut, a different few each time
                    chosen = ids[(aggtype, table.name)]
                    for record_id in chosen[n % len(chosen)::max(1, len(chosen) // 3)]:
                        _same(await at.record(aggtype, record_id, get(record_id)), await get(record_id)(reference),
                              f"{aggtype} {record_id} as of {seq}")
                for code in ("AAA", "CCC"):
                    party = await queries.get_party(engine, code)
                    source = await at.source_for(parties.AGGREGATE, code, None if party is None else party.last_seq)
                    got = [] if source is None else await queries.list_officers(source, code)
                    _same(got, await queries.list_officers(reference, code), f"officers of {code} as of {seq}")
                incident = incident_ids[n % len(incident_ids)]
                timeline = [e for e in await queries.incident_timeline(engine, incident) if e.seq <= seq]
                _same(timeline, await queries.incident_timeline(reference, incident), f"timeline as of {seq}")
    finally:
        await reference.dispose()
