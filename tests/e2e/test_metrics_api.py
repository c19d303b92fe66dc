"""The metrics API end to end: real nats-server, SQLite and PostgreSQL, the projector running, an
injected clock. Figures carry the metrics version, numerator, denominator and record ids; `as_of`
gives what was served then; CSV export; a party sees only its own dyads, auditors all."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator

import httpx
import pytest

from adapters.clock import ManualClock
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.runtime import Runtime
from adapters.settings import Settings
from core.metrics import METRICS_VERSION
from tests.e2e.conftest import Actors, account

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, before the 09:00 check call


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
async def history(api: httpx.AsyncClient, actors: Actors, clock: ManualClock) -> dict[str, Any]:
    """USA and RUS: two FLASH messages (one acknowledged in time, one never), a check call
    answered and one missed, an incident USA reported and RUS acknowledged."""
    body = {"id": "US-RU", "name": "INCSEA hotline", "parties": ["USA", "RUS"], "terms": {
        "hotline": {"check_calls": {"times": ["09:00"], "weekdays": [0, 1, 2, 3, 4], "timezone": "UTC",
                                    "answer_window": "PT5M", "caller": "USA"}}}}
    r = await api.post("/api/v1/agreements", json=body, headers=actors.admin)
    assert r.status_code == 201, r.text
    sent = {}
    for name in ("m1", "m2"):
        r = await api.post("/api/v1/hotline/messages", json={
            "id": name, "agreement_id": "US-RU", "to_party": "RUS", "precedence": "FLASH", "subject": "Approach",
            "body": "Your frigate is closing at 20 kn."}, headers=actors.usa)
        assert r.status_code == 201, r.text
        sent[name] = r.json()
    clock.set(T0 + timedelta(minutes=4))
    r = await api.post("/api/v1/hotline/messages/m1/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    clock.set(datetime(2026, 3, 2, 9, 2, tzinfo=UTC))
    r = await api.post("/api/v1/agreements/US-RU/check-calls/answer", json={"slot_start": "2026-03-02T09:00:00Z"},
                       headers=actors.rus)
    assert r.status_code == 200, r.text
    clock.set(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # Tuesday's 09:00 call went unanswered
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account(
        started_at="2026-03-03T08:00:00Z", ended_at="2026-03-03T08:20:00Z")}, headers=actors.usa)
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    clock.set(datetime(2026, 3, 3, 13, 0, tzinfo=UTC))
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    return {"seq": r.json()["version"], "incident": incident}


async def test_dyad_figures_are_explainable_and_as_of_reproducible(api: httpx.AsyncClient, actors: Actors,
                                                                   history: dict[str, Any]) -> None:
    params = {"window": "2026-03", "as_of": "2026-03-04T00:00:00Z", "min_seq": history["seq"]}
    r = await api.get("/api/v1/metrics/dyads/RUS/USA", params=params, headers=actors.rus)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == METRICS_VERSION and body["window"]["label"] == "2026-03"
    ack = body["p_to_q"]["rates"]["ack_rate"]
    assert (ack["numerator"], ack["denominator"], ack["value"]) == (1, 2, 0.5)
    assert ack["records"] == {"counted": ["m1", "m2"], "met": ["m1"], "breaches": ["m2"]}
    assert ack["breakdown"]["FLASH"]["denominator"] == 2 and ack["version"] == METRICS_VERSION
    latency = body["p_to_q"]["ack_latency"]
    assert (latency["p50_seconds"], latency["p90_unbounded"], latency["records"]["censored"]) == (240.0, True, ["m2"])
    calls = body["p_to_q"]["rates"]["check_call_availability"]
    assert (calls["numerator"], calls["denominator"]) == (1, 2)
    assert body["p_to_q"]["check_call_streaks"]["current"] == 1
    assert body["q_to_p"]["rates"]["ack_rate"]["denominator"] == 0
    assert body["p_to_q"]["quota_reciprocity"] == {"metric": "quota_reciprocity", "version": METRICS_VERSION,
                                                   "party": "RUS", "counterpart": "USA", "year": 2026, "kinds": []}
    assert body["q_to_p"]["rates"]["reporting_timeliness"]["records"]["met"] == [history["incident"]]
    c_rus, c_usa = body["consistency"]["p"], body["consistency"]["q"]
    # RUS: ack ½ (weight 0.15), answers 0/2 (0.10), check calls ½ (0.15) → 100 · 0.15 / 0.40 = 37.5;
    # USA: reporting 1/1 (0.10) → 100
    assert (c_rus["exact"], c_usa["exact"], body["consistency"]["asymmetry_exact"]) == ("75/2", "100", "125/2")
    assert {c["metric"] for c in c_rus["components"] if c["used"]} == {
        "ack_rate", "answer_rate", "check_call_availability"}

    # as of a moment before the FLASH deadlines passed, nothing was due; the answer does not change later
    early = {"window": "2026-03", "as_of": "2026-03-02T07:09:00Z"}
    first = (await api.get("/api/v1/metrics/dyads/RUS/USA", params=early, headers=actors.auditor)).json()
    assert first["p_to_q"]["rates"]["ack_rate"]["denominator"] == 0
    r = await api.post("/api/v1/hotline/messages/m2/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    again = await api.get("/api/v1/metrics/dyads/RUS/USA", params={**early, "min_seq": r.json()["version"]},
                          headers=actors.auditor)
    assert again.json() == first
    later = await api.get("/api/v1/metrics/dyads/RUS/USA", params=params | {"min_seq": r.json()["version"]},
                          headers=actors.rus)
    assert later.json()["p_to_q"]["rates"]["ack_rate"]["records"]["breaches"] == ["m2"]  # late stays late


async def test_party_series_incidents_and_csv(api: httpx.AsyncClient, actors: Actors, history: dict[str, Any]) -> None:
    base = {"as_of": "2026-03-04T00:00:00Z", "min_seq": history["seq"]}
    r = await api.get("/api/v1/metrics/parties/RUS", params={**base, "window": "30d"}, headers=actors.rus)
    assert r.status_code == 200, r.text
    assert r.json()["rates"]["counterparty_responsiveness"]["denominator"] == 0  # 7-day deadline not passed
    assert r.json()["incident_counts"]["ids"] == [history["incident"]]

    r = await api.get("/api/v1/metrics/series/ack_rate", params={**base, "from": "2026-01", "party": "RUS"},
                      headers=actors.rus)
    assert r.status_code == 200, r.text
    assert r.json()["points"] == [{"month": "2026-01", "value": None}, {"month": "2026-02", "value": None},
                                  {"month": "2026-03", "value": 0.5}]

    r = await api.get("/api/v1/metrics/incidents", params={**base, "window": "2026-03"}, headers=actors.usa)
    assert r.status_code == 200, r.text
    assert (r.json()["total"], r.json()["by_ordered_pair"]) == (1, {"RUS->USA": 1})

    r = await api.get("/api/v1/metrics/dyads/RUS/USA", params={**base, "window": "2026-03", "format": "csv"},
                      headers=actors.usa)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    ack = next(x for x in rows if x["metric"] == "ack_rate" and x["party"] == "RUS")
    assert (ack["value"], ack["numerator"], ack["denominator"], ack["version"]) == ("0.5", "1", "2", METRICS_VERSION)
    assert next(x for x in rows if x["metric"] == "ack_latency_p90_seconds" and x["party"] == "RUS")["value"] == "+inf"


async def test_a_third_party_sees_nothing_and_bad_parameters_are_problems(api: httpx.AsyncClient, actors: Actors,
                                                                         history: dict[str, Any]) -> None:
    for path in ("/api/v1/metrics/dyads/RUS/USA", "/api/v1/metrics/parties/RUS"):
        r = await api.get(path, headers=actors.ukr)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
        assert (await api.get(path, headers=actors.auditor)).status_code == 200
    r = await api.get("/api/v1/metrics/parties/RUS", headers=actors.admin)
    assert r.status_code == 403
    r = await api.get("/api/v1/metrics/incidents", params={"party": "RUS", "counterpart": "USA"}, headers=actors.ukr)
    assert r.status_code == 404
    r = await api.get("/api/v1/metrics/parties/UKR", params={"window": "7d"}, headers=actors.ukr)
    assert r.status_code == 422 and "window" in r.json()["detail"]
    r = await api.get("/api/v1/metrics/series/nonsense", params={"from": "2026-01"}, headers=actors.auditor)
    assert r.status_code == 422
    r = await api.get("/api/v1/metrics/dyads/RUS/RUS", headers=actors.rus)
    assert r.status_code == 422
    r = await api.get("/api/v1/metrics/parties/UKR", params={"as_of": "9999-12-31T23:00:00-14:00"}, headers=actors.ukr)
    assert r.status_code == 422 and "outside the calendar" in r.json()["detail"], r.text
    r = await api.get("/api/v1/metrics", headers=actors.rus)
    assert r.json()["version"] == METRICS_VERSION
