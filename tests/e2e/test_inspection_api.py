"""Inspections over HTTP with an injected clock — real nats-server, SQLite and PostgreSQL, the
projector running: the scripted year of quotas, late replies by the terms in force, quota status
as of a past date, out-of-order transitions, visibility, notifications."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator

import httpx
import pytest

from adapters.clock import ManualClock
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.runtime import Runtime
from adapters.settings import Settings
from adapters.sql.hotline_queries import SqlDueWork
from core.application import Application
from core.ports import AggregateRef
from core.scheduler import Scheduler
from tests.e2e.conftest import Actors, bearer

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AREA = {"type": "Polygon", "coordinates": [[[30.0, 50.0], [31.0, 50.0], [31.0, 51.0], [30.0, 51.0], [30.0, 50.0]]]}
QUIET = {"hotline": {"check_calls": {"enabled": False}}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def runtime(settings: Settings, nats_server: EmbeddedNatsServer, clock: ManualClock) -> AsyncIterator[Runtime]:
    runtime = await Runtime.open(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run_projector(stop))
    yield runtime
    stop.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await runtime.close()
    admin = await connect(nats_server.admin_url, name="parley-tests-cleanup")
    with contextlib.suppress(Exception):
        await admin.jetstream().delete_stream(settings.stream)
    await admin.close()


@pytest.fixture
async def parties(api: httpx.AsyncClient, actors: Actors) -> dict[str, dict[str, str]]:
    """Officers of USA, RUS, UKR (from `actors`), GBR, FRA (bound by VD) and CHN (not bound)."""
    out = {"USA": actors.usa, "RUS": actors.rus, "UKR": actors.ukr}
    for code in ("GBR", "FRA", "CHN"):
        r = await api.post("/api/v1/parties", json={"code": code, "name": code}, headers=actors.admin)
        assert r.status_code == 201, r.text
        r = await api.post(f"/api/v1/parties/{code}/officers", json={"id": f"{code.lower()}-1", "name": "duty"},
                           headers=actors.admin)
        assert r.status_code == 201, r.text
        r = await api.post("/api/v1/tokens", json={"role": "officer", "party": code, "officer_id": f"{code.lower()}-1"},
                           headers=actors.admin)
        assert r.status_code == 201, r.text
        out[code] = bearer(r.json()["token"])
    r = await api.post("/api/v1/agreements", json={"id": "VD", "name": "Vienna Document",
                                                   "parties": ["USA", "RUS", "UKR", "GBR", "FRA"], "terms": QUIET},
                       headers=actors.admin)
    assert r.status_code == 201, r.text
    return out


async def _request(api: httpx.AsyncClient, headers: dict[str, str], clock: ManualClock, *, to: str = "RUS",
                   kind: str = "inspection", **extra: Any) -> dict[str, Any]:
    body = {"agreement_id": "VD", "kind": kind, "to_party": to, "reasons": "Armour concentration",
            "area": AREA, "point_of_entry": "Kursk airport", "team_size": 4,
            "expected_arrival": (clock.now() + timedelta(hours=30)).isoformat(), **extra}
    r = await api.post("/api/v1/inspections", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _post(api: httpx.AsyncClient, inspection_id: str, action: str, headers: dict[str, str],
                expect: int = 200, **body: Any) -> dict[str, Any]:
    r = await api.post(f"/api/v1/inspections/{inspection_id}/{action}", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


async def test_a_scripted_year_of_quotas_grounds_and_quota_status_as_of(
    api: httpx.AsyncClient, actors: Actors, parties: dict[str, dict[str, str]], clock: ManualClock,
) -> None:
    rus = parties["RUS"]
    first = await _request(api, parties["USA"], clock)
    accepted = await _post(api, first["id"], "accept", rus)
    assert accepted["recorded"]["quota"]["used"] == 0 and accepted["recorded"]["quota"]["quota"] == 3
    after_first = clock.advance(hours=1)

    early = await _request(api, parties["UKR"], clock)
    refused = await _post(api, early["id"], "refuse", rus, ground="quota_exhausted")
    assert refused["recorded"]["unsubstantiated"] is True and refused["recorded"]["quota"]["used"] == 1

    again = await _request(api, parties["USA"], clock)
    capped = await _post(api, again["id"], "refuse", rus, ground="same_requester_cap")
    assert capped["recorded"]["ground_held"] is True and capped["recorded"]["unsubstantiated"] is False

    clock.set(datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    for code in ("GBR", "FRA"):
        visit = await _request(api, parties[code], clock)
        await _post(api, visit["id"], "accept", rus)
    fourth = await _request(api, parties["UKR"], clock)
    refused = await _post(api, fourth["id"], "refuse", rus, ground="quota_exhausted")
    assert refused["recorded"]["ground_held"] is True and refused["recorded"]["quota"]["used"] == 3

    r = await api.get("/api/v1/quotas/RUS/2026", params={"as_of": after_first.isoformat(), "min_seq": refused["version"]},
                      headers=parties["UKR"])
    assert r.status_code == 200, r.text
    then = next(row for row in r.json()["items"] if row["kind"] == "inspection")
    assert (then["used"], then["remaining"], then["by_requester"]) == (1, 2, {"USA": 1})
    r = await api.get("/api/v1/quotas/RUS/2026", headers=actors.auditor)
    now = next(row for row in r.json()["items"] if row["kind"] == "inspection")
    assert (now["used"], now["remaining"], now["quota_exhausted"], now["unsubstantiated_refusals"]) == (3, 0, True, 1)
    r = await api.get("/api/v1/inspections", params={"unsubstantiated": "true"}, headers=rus)
    assert [row["id"] for row in r.json()["items"]] == [early["id"]]
    r = await api.get("/api/v1/quotas/RUS/2026", headers=parties["CHN"])
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_reply_at_25h_is_late_by_the_terms_in_force_and_missed_once(
    api: httpx.AsyncClient, actors: Actors, parties: dict[str, dict[str, str]], clock: ManualClock, runtime: Runtime,
) -> None:
    visit = await _request(api, parties["USA"], clock)
    clock.set(T0 + timedelta(hours=25))
    r = await api.get(f"/api/v1/inspections/{visit['id']}", params={"min_seq": visit["version"]}, headers=actors.auditor)
    assert r.status_code == 200 and r.json()["reply_due"] == "2026-03-03T08:00:00+00:00", r.text
    schedulers = [Scheduler(app=Application(store=runtime.store, clock=clock), due=SqlDueWork(runtime.engine), clock=clock)
                  for _ in range(2)]
    await asyncio.gather(*(s.tick() for s in schedulers))
    await asyncio.gather(*(s.tick() for s in schedulers))
    reply = await _post(api, visit["id"], "accept", parties["RUS"])
    assert reply["recorded"]["late"] is True
    types = [s.event.type for s in await runtime.store.load(AggregateRef(type="inspection", id=visit["id"]))]
    assert types.count("parley.inspection.deadline-missed.v1") == 1
    r = await api.get(f"/api/v1/inspections/{visit['id']}", params={"min_seq": reply["version"]}, headers=parties["USA"])
    row = r.json()
    assert row["reply_late"] is True and row["reply_missed_at"] == "2026-03-03T08:00:00+00:00"
    assert [e["type"].split(".")[2] for e in row["timeline"]] == ["requested", "deadline-missed", "accepted"]


async def test_out_of_order_and_wrong_party_are_rejected_with_a_reason_and_append_nothing(
    api: httpx.AsyncClient, actors: Actors, parties: dict[str, dict[str, str]], clock: ManualClock,
) -> None:
    visit = await _request(api, parties["USA"], clock)
    accepted = await _post(api, visit["id"], "accept", parties["RUS"])
    problem = await _post(api, visit["id"], "complete", parties["USA"], expect=409)
    assert "it is accepted, not started" in problem["detail"]
    await _post(api, visit["id"], "team-entered", parties["RUS"])
    await _post(api, visit["id"], "start", parties["USA"])
    done = await _post(api, visit["id"], "complete", parties["USA"])
    problem = await _post(api, visit["id"], "report", parties["RUS"], expect=409, findings="All in order")
    assert "only the inspecting party, USA, may submit the report" in problem["detail"]
    r = await api.get(f"/api/v1/inspections/{visit['id']}", params={"min_seq": done["version"]}, headers=parties["RUS"])
    assert r.json()["status"] == "completed" and r.headers["ETag"] == f'"{done["version"]}"'
    assert done["version"] > accepted["version"]
    invalid = await _post(api, visit["id"], "refuse", parties["RUS"], expect=422, ground="bored")
    assert invalid["status"] == 422
    r = await api.post("/api/v1/inspections", json={"agreement_id": "VD", "kind": "inspection", "to_party": "RUS",
                                                    "reasons": "x", "area": AREA, "point_of_entry": "X", "team_size": 5,
                                                    "expected_arrival": (clock.now() + timedelta(hours=2)).isoformat()},
                       headers=parties["USA"])
    assert r.status_code == 422 and "at most 4 members" in r.json()["detail"]


async def test_visits_are_visible_to_their_two_parties_and_auditors_only(
    api: httpx.AsyncClient, actors: Actors, parties: dict[str, dict[str, str]], clock: ManualClock,
) -> None:
    visit = await _request(api, parties["USA"], clock)
    params = {"min_seq": visit["version"]}
    for headers, status in ((parties["USA"], 200), (parties["RUS"], 200), (actors.auditor, 200),
                            (parties["UKR"], 404), (parties["CHN"], 404), (actors.admin, 403)):
        r = await api.get(f"/api/v1/inspections/{visit['id']}", params=params, headers=headers)
        assert r.status_code == status, (headers, r.text)
    r = await api.get("/api/v1/inspections", params=params, headers=parties["UKR"])
    assert r.json()["items"] == []
    r = await api.post(f"/api/v1/inspections/{visit['id']}/accept", json={}, headers=parties["UKR"])
    assert r.status_code == 404


async def test_activity_notice_under_42_days_is_late_and_units_set_the_evaluation_quota(
    api: httpx.AsyncClient, actors: Actors, parties: dict[str, dict[str, str]], clock: ManualClock,
) -> None:
    start = clock.now() + timedelta(days=30)
    r = await api.post("/api/v1/notifications/activities", json={
        "agreement_id": "VD", "title": "Zapad", "start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat(),
        "area": AREA, "scale": {"troops": 13000, "tanks": 300}}, headers=parties["RUS"])
    assert r.status_code == 201, r.text
    assert r.json()["recorded"]["late"] is True and r.json()["recorded"]["notifiable"] == ["troops", "tanks"]
    r = await api.post("/api/v1/notifications/units", json={"agreement_id": "VD", "year": 2026, "units": 300},
                       headers=parties["RUS"])
    assert r.status_code == 201, r.text
    r = await api.get("/api/v1/notifications", params={"min_seq": r.json()["version"], "late": "true"}, headers=parties["UKR"])
    assert [row["title"] for row in r.json()["items"]] == ["Zapad"]
    r = await api.get("/api/v1/notifications", headers=parties["CHN"])
    assert r.json()["items"] == []
    r = await api.get("/api/v1/quotas/RUS/2026", headers=parties["USA"])
    evaluation = next(row for row in r.json()["items"] if row["kind"] == "evaluation_visit")
    assert (evaluation["quota"], evaluation["per_requester_cap"], evaluation["reported_units"]) == (5, 1, 300)
