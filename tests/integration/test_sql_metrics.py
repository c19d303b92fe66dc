"""Metrics from the SQL read models equal the reference reading of the same events, exactly, on
SQLite and PostgreSQL; as-of a past moment gives what was served then; a rebuild changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.sql import metrics_source
from adapters.sql.projector import Projector
from core.metrics.report import monthly_series, report
from core.metrics.scope import Scope, everything, month, rolling
from core.agreements.terms import Precedence
from core.hotline import messages as m
from tests.integration.metrics_history import PARTIES, T0, officer, random_world, reference_histories
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401


def scopes(as_of):  # noqa: ANN001, ANN201
    windows = [everything(as_of), rolling(as_of, 30), month(T0.year, T0.month), month(T0.year, T0.month + 1)]
    for window in windows:
        yield Scope(as_of=as_of, window=window)
        for p in PARTIES:
            yield Scope(as_of=as_of, window=window, party=p)
            for q in PARTIES:
                if q != p:
                    yield Scope(as_of=as_of, window=window, party=p, counterpart=q)


def parties_of(scope: Scope) -> tuple[str, ...] | None:
    found = tuple(x for x in (scope.party, scope.counterpart) if x is not None)
    return found or None


@pytest.mark.parametrize("seed", [1, 2])
async def test_projected_metrics_equal_the_reference_reading(engine, seed: int) -> None:  # noqa: F811
    world = await random_world(seed)
    events = [s async for s in world.store.read()]
    await Projector(engine=engine, store=world.store).catch_up()
    checked = 0
    for as_of in (world.now, world.now - timedelta(days=9), T0 + timedelta(days=3)):
        expected = reference_histories(events, as_of=as_of)
        for scope in scopes(as_of):
            loaded = await metrics_source.load(engine, as_of=as_of, since=scope.window.start,
                                               parties=parties_of(scope))
            assert report(loaded, scope) == report(expected, scope), (scope, seed)
            checked += 1
    assert checked > 100
    # the history is not trivial: every kind of obligation is counted somewhere, with both outcomes
    everything_now = report(reference_histories(events, as_of=world.now), Scope(as_of=world.now,
                                                                                  window=everything(world.now)))
    for name in ("ack_rate", "answer_rate", "check_call_availability", "call_responsiveness",
                 "explanation_responsiveness", "counterparty_responsiveness", "reporting_timeliness",
                 "inspection_acceptance", "inspection_reply_punctuality", "notification_lead_time"):
        found = everything_now.rates[name]
        assert found.met and found.breaches, name
    assert everything_now.agreement.count > 0
    reciprocity = report(reference_histories(events, as_of=world.now), Scope(
        as_of=world.now, window=everything(world.now), party="AAA")).reciprocity
    assert reciprocity is not None and any(k.p_to_q and k.q_to_p for k in reciprocity.kinds)


async def test_as_of_a_served_moment_gives_the_served_figures_after_more_events(engine) -> None:  # noqa: F811
    world = await random_world(7)
    events = [s async for s in world.store.read()]
    cut = events[len(events) // 2]
    served_at, served_seq = cut.event.moment, cut.seq
    await Projector(engine=engine, store=world.store).catch_up(until=served_seq)
    served = {}
    for scope in scopes(served_at):
        served[scope] = report(await metrics_source.load(engine, as_of=served_at, since=scope.window.start,
                                                         parties=parties_of(scope)), scope)
    await Projector(engine=engine, store=world.store).catch_up()
    for scope, figures in served.items():
        again = await metrics_source.load(engine, as_of=served_at, since=scope.window.start, parties=parties_of(scope),
                                          until_seq=served_seq)
        assert report(again, scope) == figures, scope
        by_time = await metrics_source.load(engine, as_of=served_at, since=scope.window.start,
                                            parties=parties_of(scope))
        assert report(by_time, scope) == figures, scope  # live events: the time cut alone is enough
    # an importer backfills a message dated before the served moment: the time cut now sees it,
    # the sequence cut still gives exactly what was served
    backfilled_at = served_at - timedelta(hours=3)
    assert await world.do(m.SendMessage(message_id="late-import", agreement_id="AB", to_party="BBB",
                                        precedence=Precedence.FLASH, subject="s", body="b", by=officer("AAA"),
                                        at=backfilled_at))
    await Projector(engine=engine, store=world.store).catch_up()
    scope = Scope(as_of=served_at, window=everything(served_at), party="BBB")
    again = report(await metrics_source.load(engine, as_of=served_at, parties=("BBB",), until_seq=served_seq), scope)
    assert again == served[scope]
    now_known = report(await metrics_source.load(engine, as_of=served_at, parties=("BBB",)), scope)
    assert "late-import" in now_known.rates["ack_rate"].breaches
    assert now_known.rates["ack_rate"].denominator == served[scope].rates["ack_rate"].denominator + 1


async def test_a_monthly_series_from_sql_equals_the_reference(engine) -> None:  # noqa: F811
    world = await random_world(3, steps=220)
    events = [s async for s in world.store.read()]
    await Projector(engine=engine, store=world.store).catch_up()
    expected = reference_histories(events, as_of=world.now)
    loaded = await metrics_source.load(engine, as_of=world.now, since=T0, parties=("BBB", "AAA"))
    for metric in ("ack_rate", "check_call_availability", "consistency_index", "ack_latency_p50", "incident_count"):
        ours = monthly_series(loaded, metric, as_of=world.now, first=T0, party="BBB", counterpart="AAA")
        theirs = monthly_series(expected, metric, as_of=world.now, first=T0, party="BBB", counterpart="AAA")
        assert ours == theirs
        assert len(ours.points) >= 2


def test_the_sequence_cut_counts_repeated_facts() -> None:
    """Two terms amendments after the cut (same recording party) remove two versions, not one."""
    later = metrics_source.Later([("AB", "parley.agreement.terms-amended.v1", "admin")] * 2
                                 + [("m1", "parley.hotline.message-acknowledged.v1", "BBB")])
    assert later.count("AB", "parley.agreement.terms-amended.v1") == 2
    assert ("m1", "parley.hotline.message-acknowledged.v1") in later
    assert ("m1", "parley.hotline.message-acknowledged.v1", "AAA") not in later
    assert later.unless("m1", "parley.hotline.message-acknowledged.v1", T0) is None
    assert later.unless("m2", "parley.hotline.message-acknowledged.v1", T0) == T0


async def test_live_counts_equal_the_reference_records(engine) -> None:  # noqa: F811
    world = await random_world(5)
    events = [s async for s in world.store.read()]
    await Projector(engine=engine, store=world.store).catch_up()
    ref = reference_histories(events, as_of=world.now)
    breaches = 0
    for now in (world.now, world.now + timedelta(hours=12), world.now + timedelta(days=30)):
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

        def tally(items, due, done):  # noqa: ANN001, ANN202
            pairs = [(due(x), done(x)) for x in items if due(x) is not None]
            return {"open": sum(1 for d, m in pairs if d > now and (m is None or m > now)),
                    "breaches_today": sum(1 for d, m in pairs if midnight <= d <= now and (m is None or m > d))}

        kinds = {
            "acknowledgement": tally(ref.messages, lambda x: x.ack_due, lambda x: x.acknowledged_at),
            "answer": tally([x for x in ref.messages if x.answer_required], lambda x: x.answer_due,
                            lambda x: x.answered_at),
            "call_response": tally(ref.call_requests, lambda x: x.respond_due, lambda x: x.responded_at),
            "explanation_reply": tally(ref.explanations, lambda x: x.reply_due, lambda x: x.replied_at),
            "inspection_reply": tally(ref.inspections, lambda x: x.reply_due, lambda x: x.replied_at),
            "inspection_entry": tally([x for x in ref.inspections if x.reply == "accepted"], lambda x: x.entry_due,
                                      lambda x: x.entered_at),
        }
        found = await metrics_source.live_counts(engine, now=now)
        assert {k: found["open"][k] for k in kinds} == {k: v["open"] for k, v in kinds.items()}, now
        assert {k: found["breaches_today"][k] for k in kinds} == {k: v["breaches_today"] for k, v in kinds.items()}
        breaches += sum(found["breaches_today"].values())
        if now == world.now:
            assert sum(found["open"].values()) > 0
    assert breaches > 0
    assert sum(found["open"].values()) == 0  # 30 days on, every deadline has passed
