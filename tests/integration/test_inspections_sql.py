"""Inspection read models on SQLite and PostgreSQL: the projected rows, the scheduler's clocks over
SQL (same answers as the in-memory fold, each miss recorded once), quota status as of past moments
(same as the pure ledger), visibility, and a deterministic digest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.sql import inspection_queries as q
from adapters.sql.digest import digest
from adapters.sql.hotline_queries import SqlDueWork
from adapters.sql.inspection_tables import inspections
from adapters.sql.projector import Projector
from core.application import Application
from core.inspections import commands as c
from core.inspections import notifications as n
from core.inspections.ledger import StreamLedger
from core.inspections.quota import Ground
from core.inspections.terms import Kind
from core.scheduler import Scheduler
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401
from tests.unit.fakes import MemoryDueWork
from tests.unit.test_inspections_lifecycle import T0, A, B, C, D, E, World


async def scripted(world: World) -> dict[str, str]:
    """A year at BBB: three inspections done, a refused fourth, an unsubstantiated refusal, a
    prevented visit, an overflight with short notice, an evaluation visit under reported units."""
    await world.setup()
    ids: dict[str, str] = {}
    await world.do(n.ReportUnits, notification_id="units-BBB", agreement_id="VD", year=2026, units=130, by=B)
    for name, officer in (("a", A), ("c", C)):
        ids[name] = await world.request(by=officer)
        await world.conduct(ids[name], requester=officer)
    ids["early_refusal"] = await world.request(by=E)
    await world.do(c.RefuseInspection, inspection_id=ids["early_refusal"], by=B, ground=Ground.QUOTA_EXHAUSTED)
    world.clock.set(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    ids["d"] = await world.request(by=D)
    await world.conduct(ids["d"], requester=D)
    await world.do(c.SubmitReport, inspection_id=ids["d"], by=D, findings="Nothing unusual")
    ids["prevented"] = await world.request(by=E)
    await world.do(c.AcceptInspection, inspection_id=ids["prevented"], by=B)
    await world.do(c.DeclarePrevented, inspection_id=ids["prevented"], by=B, text="Flood")
    ids["fourth"] = await world.request(by=E)
    await world.do(c.RefuseInspection, inspection_id=ids["fourth"], by=B, ground=Ground.QUOTA_EXHAUSTED)
    ids["flight"] = await world.request(by=A, kind="overflight", eta=timedelta(hours=48), team_size=20)
    ids["eval"] = await world.request(by=C, kind="evaluation_visit")
    await world.do(c.AcceptInspection, inspection_id=ids["eval"], by=B)
    ids["open"] = await world.request(by=A, to="CCC")
    await world.do(n.NotifyActivity, notification_id="act-1", agreement_id="VD", title="Exercise",
                   start=world.clock.now() + timedelta(days=10), end=world.clock.now() + timedelta(days=12),
                   area={"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]},
                   scale=n.Scale(troops=12000), by=B)
    return ids


@pytest.fixture
async def world() -> World:
    return World()


async def project(engine, world: World) -> Projector:  # noqa: ANN001
    projector = Projector(engine=engine, store=world.store)
    await projector.catch_up()
    return projector


async def test_visits_and_notifications_project_to_rows(engine, world: World) -> None:  # noqa: ANN001
    ids = await scripted(world)
    await project(engine, world)
    rows = {r["id"]: r for r in await q.list_inspections(engine, party=None, limit=100)}
    assert rows[ids["a"]]["status"] == "completed" and rows[ids["d"]]["status"] == "reported"
    assert rows[ids["prevented"]]["status"] == "prevented" and rows[ids["eval"]]["status"] == "accepted"
    fourth = rows[ids["fourth"]]
    assert (fourth["refusal_ground"], fourth["ground_held"], fourth["unsubstantiated"]) == ("quota_exhausted", True, False)
    assert fourth["reply_quota"]["used"] == 3 and fourth["reply_quota"]["counted"] == sorted([ids["a"], ids["c"], ids["d"]])
    early = rows[ids["early_refusal"]]
    assert (early["unsubstantiated"], early["reply_quota"]["used"]) == (True, 2)
    assert rows[ids["flight"]]["notice_late"] is True and rows[ids["flight"]]["kind"] == "overflight"
    detail = await q.get_inspection(engine, ids["a"], party="AAA")
    assert [e["type"].split(".")[-2] for e in detail["timeline"]] == ["requested", "accepted", "team-entered",
                                                                     "started", "completed"]
    notes = await q.list_notifications(engine, party="CCC")
    assert {(x["id"], x["kind"]) for x in notes} == {("units-BBB", "units"), ("act-1", "activity")}
    act = await q.get_notification(engine, "act-1", party="DDD")
    assert act["late"] is True and act["notifiable"] == ["troops"] and act["to_parties"] == ["AAA", "CCC", "DDD", "EEE"]


async def test_visits_are_visible_only_to_their_two_parties(engine, world: World) -> None:  # noqa: ANN001
    ids = await scripted(world)
    await project(engine, world)
    assert await q.get_inspection(engine, ids["a"], party="DDD") is None
    assert await q.get_inspection(engine, ids["a"], party="BBB") is not None
    mine = {r["id"] for r in await q.list_inspections(engine, party="DDD")}
    assert mine == {ids["d"]}
    received = await q.list_inspections(engine, party="CCC", role="receiving")
    assert [r["id"] for r in received] == [ids["open"]]
    flagged = await q.list_inspections(engine, party=None, unsubstantiated=True)
    assert [r["id"] for r in flagged] == [ids["early_refusal"]]


async def test_sql_due_work_answers_like_the_fold_and_misses_are_recorded_once(engine, world: World) -> None:  # noqa: ANN001
    await scripted(world)
    memory, sql = MemoryDueWork(world.store), SqlDueWork(engine)
    for hours in (0, 25, 40, 24 * 8):
        now = world.clock.now() + timedelta(hours=hours)
        await project(engine, world)
        assert sorted(await sql.overdue_inspections(now=now)) == sorted(await memory.overdue_inspections(now=now))
    world.clock.advance(days=3)
    await project(engine, world)
    expected = sorted(await memory.overdue_inspections(now=world.clock.now()))
    assert {d for _, d in expected} >= {"notice", "reply", "entry"}
    schedulers = [Scheduler(app=Application(store=world.store, clock=world.clock), due=SqlDueWork(engine),
                            clock=world.clock) for _ in range(2)]
    await asyncio.gather(*(s.tick() for s in schedulers))
    await asyncio.gather(*(s.tick() for s in schedulers))  # the read model lags: the deciders find them recorded
    await project(engine, world)
    assert await sql.overdue_inspections(now=world.clock.now()) == []
    recorded = sorted((s.event.subject, s.event.data["deadline"]) for s in world.store._log
                      if s.event.type == "parley.inspection.deadline-missed.v1")
    assert recorded == expected
    async with engine.connect() as conn:
        missed = (await conn.execute(sa.select(sa.func.count()).select_from(inspections)
                                     .where(inspections.c.reply_missed_at.is_not(None)))).scalar()
    assert missed == sum(1 for _, d in expected if d == "reply")


async def test_quota_status_as_of_past_moments_matches_the_ledger(engine, world: World) -> None:  # noqa: ANN001
    ids = await scripted(world)
    await project(engine, world)
    agreement = await world.app.agreement("VD")
    ledger = await StreamLedger(world.store).current()
    moments = [T0 - timedelta(days=1), T0 + timedelta(hours=3), datetime(2026, 4, 1, tzinfo=UTC), world.clock.now()]
    for moment in moments:
        rows = await q.quota_status(engine, "BBB", 2026, as_of=moment, viewer=None)
        pure = ledger.status("BBB", 2026, as_of=moment, terms_of={"VD": agreement.terms_at(moment)})
        assert [(r["kind"], r["used"], r["quota"], r["counted"], r["in_progress"]) for r in rows] == [
            (s.kind.value, s.quota.used, s.quota.quota, s.quota.counted, s.quota.in_progress) for s in pure]
    april = {r["kind"]: r for r in await q.quota_status(engine, "BBB", 2026, as_of=datetime(2026, 4, 1, tzinfo=UTC),
                                                        viewer="EEE")}
    assert (april["inspection"]["used"], april["inspection"]["remaining"]) == (2, 1)
    assert april["inspection"]["by_requester"] == {"AAA": 1, "CCC": 1} and april["inspection"]["unsubstantiated_refusals"] == 1
    now = {r["kind"]: r for r in await q.quota_status(engine, "BBB", 2026, as_of=world.clock.now(), viewer="AAA")}
    assert (now["inspection"]["used"], now["inspection"]["remaining"], now["inspection"]["quota_exhausted"]) == (3, 0, True)
    assert ids["prevented"] not in now["inspection"]["counted"]
    assert (now["evaluation_visit"]["quota"], now["evaluation_visit"]["reported_units"]) == (3, 130)
    assert now["evaluation_visit"]["in_progress"] == 1 and now[Kind.OVERFLIGHT.value]["pending"] == 1
    assert await q.quota_status(engine, "BBB", 2026, as_of=world.clock.now(), viewer="ZZZ") == []


async def test_projecting_the_same_history_twice_gives_the_same_digest(engine, world: World) -> None:  # noqa: ANN001
    await scripted(world)
    await project(engine, world)
    first = await digest(engine)
    async with engine.begin() as conn:
        from adapters.sql import tables as t

        for table in reversed(t.PROJECTION_TABLES):
            await conn.execute(table.delete())
        await conn.execute(t.projection_checkpoints.delete())
    await project(engine, world)
    assert await digest(engine) == first


async def test_sql_quota_use_equals_the_fold_for_every_party_kind_and_moment(engine, world: World) -> None:  # noqa: ANN001
    ids = await scripted(world)
    await project(engine, world)
    ledger = await StreamLedger(world.store).current()
    moments = [T0, T0 + timedelta(hours=5), datetime(2026, 6, 1, 12, tzinfo=UTC), world.clock.now()]
    checked = 0
    for kind in Kind:
        for receiving in ("BBB", "CCC"):
            for requesting in ("AAA", "CCC", "EEE"):
                for moment in moments:
                    for excluding in (None, ids["a"]):
                        args = dict(agreement_id="VD", kind=kind, receiving_party=receiving,
                                    requesting_party=requesting, year=2026, as_of=moment, excluding=excluding)
                        assert await q.quota_use(engine, **args) == ledger.use(**args), args
                        checked += bool(ledger.use(**args).counted)
    assert checked > 10  # the comparison covered non-empty use


class _Lagging:
    """A projection that never catches up."""

    async def wait_for(self, seq: int, timeout: float) -> bool:
        return False


async def test_replies_decided_on_the_sql_ledger_record_the_same_quota_state(engine, world: World) -> None:  # noqa: ANN001
    from adapters.sql.inspection_ledger import SqlQuotaLedger

    ids = await scripted(world)
    projector = await project(engine, world)
    sql_app = Application(store=world.store, clock=world.clock,
                          ledger=SqlQuotaLedger(engine=engine, projection=projector, store=world.store))
    lagging_app = Application(store=world.store, clock=world.clock,
                              ledger=SqlQuotaLedger(engine=engine, projection=_Lagging(), store=world.store, wait_seconds=0))
    first = await world.request(by=A)
    second = await world.request(by=C)
    await project(engine, world)
    by_sql = await sql_app.execute(c.RefuseInspection(inspection_id=first, ground=Ground.QUOTA_EXHAUSTED, by=B,
                                                      at=world.clock.now()))
    by_stream = await lagging_app.execute(c.RefuseInspection(inspection_id=second, ground=Ground.QUOTA_EXHAUSTED, by=B,
                                                             at=world.clock.now()))
    sql_quota, stream_quota = by_sql.events[0].data["quota"], by_stream.events[0].data["quota"]
    assert sql_quota["counted"] == stream_quota["counted"] == sorted([ids["a"], ids["c"], ids["d"]])
    assert sql_quota["in_progress_ids"] == stream_quota["in_progress_ids"] == []
    assert by_sql.events[0].data["ground_held"] is True and by_stream.events[0].data["ground_held"] is True
