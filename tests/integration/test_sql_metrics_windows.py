"""The SQL metrics read only what a window needs and still give exactly the reference figures.

`metrics_source.load` keeps only the incidents with a timeline row between the window's start
less a day and the as-of moment (`metrics_incidents`), and reads the window's messages and
requests through the indexes of migration 0004. The windows here start anywhere: an hour, a day
and an hour, twelve days before the as-of moment (at the end of the history or in its middle,
with later acknowledgements, amendments and retractions already in the read models); exactly at
an incident's report or a microsecond after it; or end exactly at one. A cut one row too tight,
or a censored item lost (never acknowledged, still counted), shows up as a figure that differs
from the reference reading of the raw events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from adapters.sql import metrics_source
from adapters.sql.projector import Projector
from core.incidents import events as ie
from core.metrics.report import report
from core.metrics.scope import Scope, Window
from tests.integration.metrics_history import PARTIES, T0, random_world, reference_histories
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401

BACK = (timedelta(hours=1), timedelta(hours=7), timedelta(days=1), timedelta(days=1, hours=1), timedelta(days=2),
        timedelta(days=5), timedelta(days=12))
MICROSECOND = timedelta(microseconds=1)


def scopes(window: Window, as_of: datetime) -> Iterator[Scope]:
    yield Scope(as_of=as_of, window=window)
    for p in PARTIES:
        yield Scope(as_of=as_of, window=window, party=p)
        for q in PARTIES:
            if q != p:
                yield Scope(as_of=as_of, window=window, party=p, counterpart=q)


async def test_windows_starting_anywhere_give_the_reference_figures(engine) -> None:  # noqa: F811
    world = await random_world(11)
    events = [s async for s in world.store.read()]
    await Projector(engine=engine, store=world.store).catch_up()
    reports = [s.event.moment for s in events if s.event.type == ie.IncidentReported.TYPE]
    cases = [(as_of, as_of - back) for as_of in (world.now, T0 + (world.now - T0) / 2) for back in BACK]
    for at in reports[:: max(1, len(reports) // 8)]:  # windows starting at a report, or just after it;
        cases += [(world.now, at), (world.now, at + MICROSECOND), (at, at - timedelta(days=1))]  # as of a report
    pruned = 0
    for as_of, start in cases:
        expected = reference_histories(events, as_of=as_of)
        window = Window(start=start, end=as_of)
        for scope in scopes(window, as_of):
            parties = tuple(x for x in (scope.party, scope.counterpart) if x) or None
            loaded = await metrics_source.load(engine, as_of=as_of, since=start, parties=parties)
            assert report(loaded, scope) == report(expected, scope), scope
            if parties is None and len(loaded.incidents) < len(expected.incidents):
                pruned += 1
    assert pruned > 0, "short windows read fewer incidents than the whole history"
