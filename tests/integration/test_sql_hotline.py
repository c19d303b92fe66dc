"""Agreement and hotline read models on SQLite and PostgreSQL: rows, streaks, the live feed's
visibility, the scheduler's `DueWork` answering exactly like a fold of the log, and determinism
(batch size and database do not change the digest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.clock import ManualClock
from adapters.sql import hotline_queries as q
from adapters.sql.digest import digest
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from core import parties
from core.agreements import agreement as ag
from core.application import Application
from core.hotline import calls, check_calls, explanations, messages as m
from core.hotline.schedule import slot_at
from core.identity import Principal, Role
from core.scheduler import Scheduler
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401
from tests.unit.fakes import MemoryDueWork, MemoryEventStore

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday
ADMIN = Principal(actor="root", role=Role.ADMIN)
USA = Principal(actor="usa-1", role=Role.OFFICER, party="USA")
RUS = Principal(actor="rus-1", role=Role.OFFICER, party="RUS")


async def _history() -> tuple[MemoryEventStore, ManualClock]:
    """A week of hotline traffic with every outcome: in time, late, missed, escalated."""
    clock = ManualClock(T0)
    store = MemoryEventStore(clock=clock.now)
    app = Application(store=store, clock=clock)
    scheduler = Scheduler(app=Application(store=store, clock=clock), due=MemoryDueWork(store), clock=clock)
    for code in ("USA", "RUS", "UKR"):
        await app.execute(parties.RegisterParty(code=code, name=code, by=ADMIN, at=T0))
    await app.execute(ag.ConcludeAgreement(agreement_id="US-RU", name="INCSEA", parties=("USA", "RUS"), by=ADMIN, at=T0))
    await app.execute(ag.DesignateContacts(agreement_id="US-RU", party="RUS", primary="rus-1", alternate="rus-2", by=ADMIN, at=T0))

    async def send(message_id: str, precedence: str) -> None:
        await app.execute(m.SendMessage(message_id=message_id, agreement_id="US-RU", to_party="RUS", precedence=precedence,  # type: ignore[arg-type]
                                        subject="s", body="b", by=USA, at=clock.now()))

    await send("in-time", "IMMEDIATE")
    await send("late", "FLASH")
    await send("missed", "PRIORITY")
    clock.advance(minutes=5)
    await app.execute(m.AcknowledgeMessage(message_id="in-time", by=RUS, at=clock.now()))
    await app.execute(m.AnswerMessage(message_id="in-time", body="ok", by=RUS, at=clock.now()))
    clock.advance(minutes=10)
    await scheduler.tick()  # the FLASH acknowledgement is missed and escalates
    await app.execute(m.AcknowledgeMessage(message_id="late", by=RUS, at=clock.now()))
    await app.execute(calls.RequestCall(request_id="c1", agreement_id="US-RU", to_party="RUS", purpose="talk", by=USA, at=clock.now()))
    await app.execute(explanations.RequestExplanation(request_id="x1", agreement_id="US-RU", to_party="RUS", subject="s",
                                                      question="q", by=USA, at=clock.now()))
    agreement = await app.agreement("US-RU")
    for day, answered in enumerate([True, False, False, True, False]):
        slot = slot_at(agreement, T0.replace(hour=9) + timedelta(days=day))
        assert slot is not None
        if answered:
            clock.set(slot.start + timedelta(minutes=1))
            await app.execute(check_calls.AnswerCheckCall(slot=slot, by=RUS, at=clock.now()))
    clock.set(T0 + timedelta(days=5))
    await scheduler.tick()
    return store, clock


async def _project(engine, store: MemoryEventStore, *, batch_size: int = 1000) -> None:  # noqa: ANN001
    assert await Projector(engine=engine, store=store, batch_size=batch_size).catch_up() == await store.last_seq()


async def test_hotline_rows_show_every_outcome(engine) -> None:  # noqa: ANN001
    store, _ = await _history()
    await _project(engine, store)
    rows = {r["id"]: r for r in await q.list_messages(engine, party="USA")}
    assert (rows["in-time"]["status"], rows["in-time"]["ack_late"], rows["in-time"]["answer_late"]) == ("answered", False, False)
    assert (rows["late"]["ack_late"], rows["late"]["escalated_to"]) == (True, "rus-2")
    assert rows["late"]["ack_missed_at"] == T0 + timedelta(minutes=10)
    assert rows["missed"]["ack_missed_at"] == T0 + timedelta(hours=3) and rows["missed"]["acknowledged_at"] is None
    assert await q.list_messages(engine, party="UKR") == []
    streaks = await q.check_call_streaks(engine, "US-RU")
    # 09:00 and 17:00 on five weekdays: answered Mon 09:00 and Thu 09:00, the other eight missed
    assert streaks == {"RUS": {"answered": 2, "missed": 8, "current_missed_streak": 3, "longest_missed_streak": 5,
                               "availability": 0.2}}
    call = await q.get_request(engine, "call", "c1", party="RUS")
    assert call is not None and call["status"] == "no_response"
    explanation = await q.get_request(engine, "explanation", "x1", party="USA")
    assert explanation is not None and explanation["status"] == "no_reply"
    assert await q.get_request(engine, "call", "c1", party="UKR") is None


async def test_the_live_feed_shows_a_party_only_its_channels(engine) -> None:  # noqa: ANN001
    store, _ = await _history()
    await _project(engine, store)
    rus = await q.feed(engine, party="RUS", after=0)
    assert rus and all("RUS" in (row["from_party"], row["to_party"]) for row in rus)
    assert [row["seq"] for row in rus] == sorted(row["seq"] for row in rus)
    escalation = [row for row in rus if row["type"].endswith("message-escalated.v1")]
    assert [row["notify"] for row in escalation] == ["rus-2"]
    assert await q.feed(engine, party="UKR", after=0) == []
    assert len(await q.feed(engine, party=None, after=0)) == len(rus)
    assert await q.feed(engine, party="RUS", after=rus[-1]["seq"]) == []


async def test_sql_due_work_answers_like_a_fold_of_the_log(engine) -> None:  # noqa: ANN001
    store, clock = await _history()
    # more traffic whose deadlines are still open at the end of the history
    app = Application(store=store, clock=clock)
    await app.execute(m.SendMessage(message_id="open", agreement_id="US-RU", to_party="RUS", precedence="ROUTINE",  # type: ignore[arg-type]
                                    subject="s", body="b", by=USA, at=clock.now()))
    await _project(engine, store)
    sql, folded = q.SqlDueWork(engine), MemoryDueWork(store)
    for later in (timedelta(0), timedelta(hours=6), timedelta(days=3)):
        now = clock.now() + later
        assert sorted(await sql.overdue_messages(now=now)) == sorted(await folded.overdue_messages(now=now))
        assert await sql.overdue_call_requests(now=now) == await folded.overdue_call_requests(now=now)
        assert sorted(await sql.overdue_explanations(now=now)) == sorted(await folded.overdue_explanations(now=now))
    assert await sql.agreement_ids() == ["US-RU"]
    assert await sql.recorded_check_calls("US-RU", since=T0) == await folded.recorded_check_calls("US-RU", since=T0)


async def test_batch_size_does_not_change_the_hotline_read_models(engine) -> None:  # noqa: ANN001
    from tests.integration.test_sql_projector import _reset

    store, _ = await _history()
    digests = []
    for size in (1, 3, 1000):
        await _reset(engine)
        await _project(engine, store, batch_size=size)
        digests.append(await digest(engine))
    assert digests[0] == digests[1] == digests[2]


async def test_sqlite_and_postgresql_give_the_same_digest(sqlite_url: str, postgres_url: str) -> None:
    store, _ = await _history()
    found = []
    for url in (sqlite_url, postgres_url):
        await migrate(url)
        engine = create_engine(url)
        try:
            await _project(engine, store)
            found.append(await digest(engine))
        finally:
            await engine.dispose()
    assert found[0] == found[1]
