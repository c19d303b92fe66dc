"""Optimistic concurrency (If-Match → 409) and idempotent retries (Idempotency-Key)."""

from __future__ import annotations

import asyncio

import httpx

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


async def test_two_writers_with_the_same_if_match_one_wins_one_gets_409(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.usa)
    incident, version = r.json()["id"], r.json()["version"]
    before = await runtime.store.last_seq()
    ask = api.post(f"/api/v1/incidents/{incident}/clarifications", json={"to_party": "RUS", "question": "Which unit?"},
                   headers={**actors.usa, "If-Match": f'"{version}"'})
    ack = api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers={**actors.rus, "If-Match": f'"{version}"'})
    results = await asyncio.gather(ask, ack)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.headers["content-type"] == "application/problem+json"
    assert loser.json()["type"].endswith("/conflict") and "reload" in loser.json()["detail"]
    assert await runtime.store.last_seq() == before + 1


async def test_stale_if_match_is_refused_and_appends_nothing(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.usa)
    incident, version = r.json()["id"], r.json()["version"]
    assert (await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.rus)).status_code == 200
    before = await runtime.store.last_seq()
    r = await api.post(f"/api/v1/incidents/{incident}/amend", json={"account": account(severity=5), "reason": "x"},
                       headers={**actors.usa, "If-Match": f'"{version}"'})
    assert r.status_code == 409 and r.json()["current_version"] == version + 1
    assert await runtime.store.last_seq() == before


async def test_same_idempotency_key_twice_yields_one_event_and_the_same_answer(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = {"parties": ["RUS"], "account": account()}
    headers = {**actors.usa, "Idempotency-Key": "usa-2024-001"}
    first = await api.post("/api/v1/incidents", json=body, headers=headers)
    before = await runtime.store.last_seq()
    second = await api.post("/api/v1/incidents", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await runtime.store.last_seq() == before


async def test_concurrent_requests_with_one_idempotency_key_append_once(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = {"parties": ["RUS"], "account": account()}
    headers = {**actors.usa, "Idempotency-Key": "burst-1"}
    before = await runtime.store.last_seq()
    results = await asyncio.gather(*(api.post("/api/v1/incidents", json=body, headers=headers) for _ in range(5)))
    ids = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(ids) == 1
    assert await runtime.store.last_seq() == before + 1


async def test_reusing_an_idempotency_key_for_another_request_is_refused(api: httpx.AsyncClient, actors: Actors) -> None:
    headers = {**actors.usa, "Idempotency-Key": "k-1"}
    assert (await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=headers)).status_code == 201
    r = await api.post("/api/v1/incidents", json={"parties": ["UKR"], "account": account(initiator="UKR")}, headers=headers)
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
