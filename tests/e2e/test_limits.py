"""Hostile sizes and values are refused with 4xx problem+json and append nothing: field
lengths, list sizes, attachment counts, coordinates, times in the future, query and header sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account, bearer

SHA = "ab" * 32
FUTURE = (datetime.now(UTC) + timedelta(days=1)).isoformat()

BAD_ACCOUNTS = [
    ("narrative over 20 000 characters", account(narrative="x" * 20_001), "narrative"),
    ("51 units", account(units=[f"unit {i}" for i in range(51)]), "units"),
    ("unit name over 200 characters", account(units=["u" * 201]), "units"),
    ("51 sources", account(sources=[f"s{i}" for i in range(51)]), "sources"),
    ("51 attachments", account(attachments=[{"sha256": f"{i:064x}", "media_type": "image/png"} for i in range(51)]), "attachments"),
    ("attachment hash not hex", account(attachments=[{"sha256": "z" * 64, "media_type": "image/png"}]), "sha256"),
    ("latitude 91", account(position={"lat": 91, "lon": 0}), "lat"),
    ("longitude -181", account(position={"lat": 0, "lon": -181}), "lon"),
    ("uncertainty negative", account(position={"lat": 0, "lon": 0, "uncertainty_m": -1}), "uncertainty"),
    ("ends in the future", account(ended_at=FUTURE), "future"),
    ("severity 6", account(severity=6), "severity"),
    ("casualties negative", account(casualties=-1), "casualties"),
]


@pytest.mark.parametrize(("case", "bad", "words"), BAD_ACCOUNTS, ids=[c[0] for c in BAD_ACCOUNTS])
async def test_hostile_accounts_are_refused(api: httpx.AsyncClient, actors: Actors, runtime: Runtime, case: str, bad: dict, words: str) -> None:
    before = await runtime.store.last_seq()
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": bad}, headers=actors.usa)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.json()["detail"].lower()
    assert await runtime.store.last_seq() == before


async def test_list_sizes_query_and_header_limits(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    before = await runtime.store.last_seq()
    r = await api.post("/api/v1/incidents", json={"parties": [f"P{i:02d}" for i in range(11)], "account": account()}, headers=actors.usa)
    assert r.status_code == 422 and "parties" in r.json()["detail"]
    for params in ({"limit": 501}, {"limit": 0}, {"cursor": "c" * 501}, {"party": "P" * 17}, {"min_seq": -1}):
        r = await api.get("/api/v1/incidents", params=params, headers=actors.usa)
        assert r.status_code == 422, (params, r.text)
    r = await api.get(f"/api/v1/incidents/{'i' * 65}", headers=actors.usa)
    assert r.status_code == 422
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()},
                       headers={**actors.usa, "Idempotency-Key": "k" * 201})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    assert await runtime.store.last_seq() == before
    r = await api.get("/healthz", headers={"X-Correlation-Id": "<script>" + "x" * 200})
    assert r.headers["x-correlation-id"] != "<script>" + "x" * 200 and len(r.headers["x-correlation-id"]) == 36


async def test_only_importers_set_times_and_never_in_the_future(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    r = await api.post("/api/v1/tokens", json={"role": "importer", "party": "USA", "officer_id": "usa-duty"}, headers=actors.admin)
    importer = bearer(r.json()["token"])
    body = {"parties": ["RUS"], "account": account()}
    before = await runtime.store.last_seq()
    r = await api.post("/api/v1/incidents", json={**body, "time": "2024-05-01T12:00:00Z"}, headers=actors.usa)
    assert r.status_code == 403 and "importer" in r.json()["detail"]
    r = await api.post("/api/v1/incidents", json={**body, "time": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, headers=importer)
    assert r.status_code == 422 and "future" in r.json()["detail"]
    r = await api.post("/api/v1/incidents", json={**body, "time": "2024-05-01T12:00"}, headers=importer)
    assert r.status_code == 422  # no time zone
    assert await runtime.store.last_seq() == before
    skewed = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # within the allowed clock skew
    r = await api.post("/api/v1/incidents", json={**body, "time": skewed}, headers=importer)
    assert r.status_code == 201, r.text
    r = await api.post("/api/v1/incidents", json={**body, "time": "2024-05-01T12:00:00Z"}, headers=importer)
    assert r.status_code == 201, r.text
