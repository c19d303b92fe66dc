"""The hotline over HTTP with an injected clock: deadlines, terms versions, confidentiality, and
live delivery over SSE — real nats-server, SQLite and PostgreSQL, the projector running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator

import httpx
import pytest
import uvicorn

from adapters.clock import ManualClock
from adapters.http.app import create_app
from adapters.runtime import Runtime
from adapters.sql.hotline_queries import SqlDueWork
from core.application import Application
from core.scheduler import Scheduler
from tests.e2e.conftest import Actors

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, before the 09:00 check call


@pytest.fixture
def clock() -> ManualClock:
    """Time moves only when a test says so (overrides the conftest's system clock)."""
    return ManualClock(T0)


@pytest.fixture
async def agreement(api: httpx.AsyncClient, actors: Actors) -> str:
    body = {"id": "US-RU", "name": "INCSEA hotline", "parties": ["USA", "RUS"], "terms": {
        "hotline": {"check_calls": {"times": ["09:00"], "weekdays": [0, 1, 2, 3, 4], "timezone": "UTC",
                                    "answer_window": "PT5M", "caller": "USA"}}}}
    r = await api.post("/api/v1/agreements", json=body, headers=actors.admin)
    assert r.status_code == 201, r.text
    r = await api.post("/api/v1/agreements/US-RU/contacts", json={"party": "RUS", "primary": "rus-duty", "alternate": "rus-alt"},
                       headers=actors.admin)
    assert r.status_code == 200, r.text
    return "US-RU"


async def _send(api: httpx.AsyncClient, headers: dict[str, str], precedence: str = "FLASH", **extra: Any) -> dict[str, Any]:
    body = {"agreement_id": "US-RU", "to_party": "RUS", "precedence": precedence, "subject": "Approach",
            "body": "Your frigate is closing at 20 kn; alter course.", **extra}
    r = await api.post("/api/v1/hotline/messages", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _schedulers(runtime: Runtime, clock: ManualClock, n: int = 2) -> list[Scheduler]:
    """Independent schedulers (own application service each), as in separate processes."""
    return [Scheduler(app=Application(store=runtime.store, clock=clock), due=SqlDueWork(runtime.engine), clock=clock)
            for _ in range(n)]


async def _subject_types(runtime: Runtime, aggtype: str, aggregate_id: str) -> list[str]:
    from core.ports import AggregateRef

    return [s.event.type for s in await runtime.store.load(AggregateRef(type=aggtype, id=aggregate_id))]


async def test_flash_missed_once_with_two_schedulers_and_ack_at_minute_12_is_late(
    api: httpx.AsyncClient, actors: Actors, agreement: str, runtime: Runtime, clock: ManualClock,
) -> None:
    sent = await _send(api, actors.usa, "FLASH")
    r = await api.get(f"/api/v1/hotline/messages/{sent['id']}", params={"min_seq": sent["version"]}, headers=actors.rus)
    assert r.status_code == 200 and r.json()["ack_due"] == "2026-03-02T07:10:00+00:00", r.text

    clock.advance(minutes=10, seconds=1)
    first, second = _schedulers(runtime, clock)
    await asyncio.gather(first.tick(), second.tick())
    await asyncio.gather(first.tick(), second.tick())
    types = await _subject_types(runtime, "message", sent["id"])
    assert types.count("parley.hotline.deadline-missed.v1") == 1
    assert types.count("parley.hotline.message-escalated.v1") == 1

    clock.set(T0 + timedelta(minutes=12))
    r = await api.post(f"/api/v1/hotline/messages/{sent['id']}/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    r = await api.get(f"/api/v1/hotline/messages/{sent['id']}", params={"min_seq": r.json()["version"]}, headers=actors.usa)
    message = r.json()
    assert message["ack_late"] is True and message["acknowledged_at"] == "2026-03-02T07:12:00+00:00"
    assert message["ack_missed_at"] == "2026-03-02T07:10:00+00:00" and message["escalated_to"] == "rus-alt"
    assert [e["type"].split(".")[2] for e in message["timeline"]] == [
        "message-sent", "deadline-missed", "message-escalated", "message-acknowledged"]


async def test_terms_changed_at_T_change_deadlines_only_for_messages_sent_after_T(
    api: httpx.AsyncClient, actors: Actors, agreement: str, clock: ManualClock,
) -> None:
    before = await _send(api, actors.usa, "ROUTINE")
    change = T0 + timedelta(hours=1)
    faster = {"hotline": {"acknowledge": {"FLASH": "PT5M", "IMMEDIATE": "PT15M", "PRIORITY": "PT1H", "ROUTINE": "PT2H"}}}
    r = await api.post("/api/v1/agreements/US-RU/terms", json={"terms": faster, "effective_from": change.isoformat(),
                                                                "reason": "review"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    clock.set(change)
    after = await _send(api, actors.usa, "ROUTINE")
    r = await api.get("/api/v1/hotline/messages", params={"min_seq": after["version"]}, headers=actors.usa)
    rows = {m["id"]: m for m in r.json()["items"]}
    assert (rows[before["id"]]["terms_version"], rows[before["id"]]["ack_due"]) == (1, "2026-03-02T13:00:00+00:00")
    assert (rows[after["id"]]["terms_version"], rows[after["id"]]["ack_due"]) == (2, "2026-03-02T10:00:00+00:00")
    r = await api.get("/api/v1/agreements/US-RU", headers=actors.rus)
    assert [v["version"] for v in r.json()["terms"]] == [1, 2]


async def test_third_party_cannot_list_read_acknowledge_or_stream_the_traffic(
    api: httpx.AsyncClient, actors: Actors, agreement: str, runtime: Runtime,
) -> None:
    sent = await _send(api, actors.usa)
    r = await api.get("/api/v1/hotline/messages", params={"min_seq": sent["version"]}, headers=actors.ukr)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await api.get(f"/api/v1/hotline/messages/{sent['id']}", headers=actors.ukr)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = await api.post(f"/api/v1/hotline/messages/{sent['id']}/acknowledge", json={}, headers=actors.ukr)
    assert r.status_code == 404, r.text
    r = await api.post("/api/v1/hotline/messages", json={"agreement_id": "US-RU", "to_party": "RUS", "precedence": "FLASH",
                                                         "subject": "x", "body": "y"}, headers=actors.ukr)
    assert r.status_code == 404, r.text
    r = await api.get("/api/v1/agreements/US-RU", headers=actors.ukr)
    assert r.status_code == 404
    r = await api.get("/api/v1/hotline/messages", headers=actors.admin)
    assert r.status_code == 403  # admins manage; they do not read the parties' traffic
    r = await api.get(f"/api/v1/hotline/messages/{sent['id']}", headers=actors.auditor)
    assert r.status_code == 200 and r.json()["body"].startswith("Your frigate")
    from adapters.sql.hotline_queries import feed

    assert await feed(runtime.engine, party="UKR", after=0) == []
    assert [row["aggregate_id"] for row in await feed(runtime.engine, party="RUS", after=0)] == [sent["id"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def _served(runtime: Runtime) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class _Events:
    """Server-sent events read from one streaming response, across several waits."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, count: int, *, timeout: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        current: dict[str, Any] = {}

        async def read() -> None:
            async for line in self._lines:
                if line.startswith("id: "):
                    current["id"] = int(line[4:])
                elif line.startswith("event: "):
                    current["event"] = line[7:]
                elif line.startswith("data: "):
                    current["data"] = json.loads(line[6:])
                elif line == "" and "id" in current:
                    events.append(dict(current))
                    current.clear()
                    if len(events) == count:
                        return

        await asyncio.wait_for(read(), timeout)
        return events


async def test_sse_delivers_within_a_second_and_resumes_from_last_event_id(
    api: httpx.AsyncClient, actors: Actors, agreement: str, runtime: Runtime,
) -> None:
    async with _served(runtime) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("GET", "/api/v1/hotline/stream", headers=actors.rus) as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
            live_events = _Events(live)
            await asyncio.sleep(0.3)
            started = time.monotonic()
            first = await _send(api, actors.usa, "FLASH", subject="first")
            [event] = await live_events.next(1, timeout=5)
            assert time.monotonic() - started < 1.0
            assert event["event"] == "parley.hotline.message-sent.v1" and event["data"]["aggregate_id"] == first["id"]
            assert event["data"]["data"]["subject"] == "first"
        # disconnected: two more messages arrive, then the client resumes from the last id it saw
        second = await _send(api, actors.usa, subject="second")
        third = await _send(api, actors.usa, subject="third")
        await api.get("/api/v1/hotline/messages", params={"min_seq": third["version"]}, headers=actors.rus)
        resume = {**actors.rus, "Last-Event-ID": str(event["id"])}
        async with client.stream("GET", "/api/v1/hotline/stream", headers=resume) as again:
            again_events = _Events(again)
            missed = await again_events.next(2, timeout=5)
            assert [e["data"]["aggregate_id"] for e in missed] == [second["id"], third["id"]]
            fourth = await _send(api, actors.usa, subject="fourth")
            [latest] = await again_events.next(1, timeout=5)
            assert latest["data"]["aggregate_id"] == fourth["id"]  # no duplicate of what was replayed


async def test_check_call_streaks_and_request_outcomes_over_a_scripted_month(
    api: httpx.AsyncClient, actors: Actors, agreement: str, runtime: Runtime, clock: ManualClock,
) -> None:
    # RUS answers the 09:00 weekday check calls of four weeks by a fixed pattern; misses are the
    # scheduler's. Pattern per weekday slot (20 slots): 1 = answered, 0 = missed.
    pattern = [1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    (scheduler,) = _schedulers(runtime, clock, 1)
    day, index, version = T0.replace(hour=9), 0, 0
    while index < len(pattern):
        if day.weekday() < 5:
            if pattern[index]:
                clock.set(day + timedelta(minutes=2))
                r = await api.post("/api/v1/agreements/US-RU/check-calls/answer",
                                   json={"slot_start": day.isoformat()}, headers=actors.rus)
                assert r.status_code == 200, r.text
                version = r.json()["version"]
            index += 1
        day += timedelta(days=1)
    clock.set(day)
    report = await scheduler.tick()
    assert report.recorded.count("parley.hotline.check-call-missed.v1") == pattern.count(0)
    assert (await scheduler.tick()).recorded == []  # nothing twice

    last = await runtime.store.last_seq()
    r = await api.get("/api/v1/agreements/US-RU/check-calls", params={"min_seq": last}, headers=actors.usa)
    streaks = r.json()["streaks"]["RUS"]
    assert (streaks["answered"], streaks["missed"]) == (12, 8)
    assert streaks["longest_missed_streak"] == 3 and streaks["current_missed_streak"] == 2
    assert "USA" not in r.json()["streaks"]  # the caller does not answer its own calls

    # a late answer is refused: the window has closed and the miss is recorded
    r = await api.post("/api/v1/agreements/US-RU/check-calls/answer", json={"slot_start": T0.replace(hour=9).isoformat()},
                       headers=actors.rus)
    assert r.status_code == 422 or r.status_code == 409, r.text

    # a call request left unanswered, an explanation answered late
    r = await api.post("/api/v1/hotline/calls", json={"agreement_id": "US-RU", "to_party": "RUS", "purpose": "Talk"},
                       headers=actors.usa)
    call = r.json()["id"]
    r = await api.post("/api/v1/hotline/explanations", json={"agreement_id": "US-RU", "to_party": "RUS", "subject": "Drill",
                                                              "question": "Why?"}, headers=actors.usa)
    explanation = r.json()["id"]
    await api.get("/api/v1/hotline/calls", params={"min_seq": r.json()["version"]}, headers=actors.usa)  # projected
    clock.advance(hours=49)
    report = await scheduler.tick()
    assert {"parley.hotline.call-no-response.v1", "parley.hotline.explanation-not-replied.v1"} <= set(report.recorded)
    r = await api.post(f"/api/v1/hotline/explanations/{explanation}/reply", json={"text": "A drill."}, headers=actors.rus)
    assert r.status_code == 200, r.text
    r = await api.get(f"/api/v1/hotline/explanations/{explanation}", params={"min_seq": r.json()["version"]}, headers=actors.usa)
    assert (r.json()["status"], r.json()["response_late"]) == ("replied", True)
    r = await api.get(f"/api/v1/hotline/calls/{call}", params={"min_seq": await runtime.store.last_seq()}, headers=actors.rus)
    assert r.json()["status"] == "no_response" and r.json()["no_response_at"] is not None

