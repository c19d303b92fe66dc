"""Bad input gets a 4xx problem+json with a useful detail, and appends nothing."""

from __future__ import annotations

import httpx
import pytest

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


async def _reported(api: httpx.AsyncClient, actors: Actors) -> str:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.usa)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _problem(r: httpx.Response, status: int, *, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert words.lower() in body["detail"].lower(), body["detail"]
    assert "Traceback" not in r.text


BAD_REPORTS = [
    ("malformed json", b'{"parties": ["RUS"], "account": {', 400, "not valid json"),
    ("wrong type", b'{"parties": "RUS", "account": 5}', 422, "parties"),
    ("severity out of range", None, 422, "severity"),
    ("unknown party", None, 422, "unknown party: ZZZ"),
    ("end before start", None, 422, "before it starts"),
    ("party smuggled in body", None, 422, "extra"),
]


@pytest.mark.parametrize(("case", "raw", "status", "words"), BAD_REPORTS, ids=[c[0] for c in BAD_REPORTS])
async def test_bad_report_is_refused_with_a_problem_and_appends_nothing(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, case: str, raw: bytes | None, status: int, words: str
) -> None:
    bodies = {
        "severity out of range": {"parties": ["RUS"], "account": account(severity=9)},
        "unknown party": {"parties": ["ZZZ"], "account": account(initiator="unknown")},
        "end before start": {"parties": ["RUS"], "account": account(ended_at="2024-05-01T09:00:00Z")},
        "party smuggled in body": {"parties": ["RUS"], "account": account(), "party": "RUS"},
    }
    before = await runtime.store.last_seq()
    if raw is not None:
        r = await api.post("/api/v1/incidents", content=raw, headers={**actors.usa, "Content-Type": "application/json"})
    else:
        r = await api.post("/api/v1/incidents", json=bodies[case], headers=actors.usa)
    _problem(r, status, words=words)
    assert await runtime.store.last_seq() == before


async def test_ten_megabyte_body_is_refused_with_413(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    before = await runtime.store.last_seq()
    huge = b'{"parties": ["RUS"], "account": {"narrative": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    r = await api.post("/api/v1/incidents", content=huge, headers={**actors.usa, "Content-Type": "application/json"})
    _problem(r, 413, words="exceeds")
    assert await runtime.store.last_seq() == before


async def test_out_of_order_transition_is_refused_with_a_reason(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    incident = await _reported(api, actors)
    before = await runtime.store.last_seq()
    r = await api.post(f"/api/v1/incidents/{incident}/counter-account", json={"account": account()}, headers=actors.rus)
    _problem(r, 409, words="must acknowledge the incident before filing")
    r = await api.post(f"/api/v1/incidents/{incident}/resolve", json={"finding": "x"}, headers=actors.rus)
    _problem(r, 409, words="must be under review")
    assert await runtime.store.last_seq() == before


async def test_a_party_not_involved_cannot_act_and_cannot_pose_as_another(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    incident = await _reported(api, actors)
    before = await runtime.store.last_seq()
    # a third party is told nothing, not even that the incident exists (docs/security.md)
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.ukr)
    _problem(r, 404, words="has not been reported")
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={"party": "RUS"}, headers=actors.ukr)
    _problem(r, 404, words="has not been reported")
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={"party": "USA"}, headers=actors.usa)
    _problem(r, 422, words="extra")
    assert await runtime.store.last_seq() == before


async def test_missing_or_wrong_token_gets_401_and_wrong_role_403(api: httpx.AsyncClient, actors: Actors) -> None:
    _problem(await api.get("/api/v1/incidents"), 401, words="token is required")
    _problem(await api.get("/api/v1/incidents", headers={"Authorization": "Bearer prl_nope_nope"}), 401, words="unknown")
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.auditor)
    _problem(r, 403, words="officer")
    r = await api.post("/api/v1/parties", json={"code": "FRA", "name": "France"}, headers=actors.usa)
    _problem(r, 403, words="admin")


async def test_only_importers_may_backfill_time(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    before = await runtime.store.last_seq()
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account(), "time": "2024-05-01T12:00:00Z"}, headers=actors.usa)
    _problem(r, 403, words="only an importer")
    assert await runtime.store.last_seq() == before


async def test_unknown_incident_and_bad_if_match(api: httpx.AsyncClient, actors: Actors) -> None:
    _problem(await api.get("/api/v1/incidents/nope", headers=actors.usa), 404, words="does not exist")
    r = await api.post("/api/v1/incidents/nope/acknowledge", json={}, headers=actors.rus)
    _problem(r, 404, words="has not been reported")
    incident = await _reported(api, actors)
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers={**actors.rus, "If-Match": "yesterday"})
    _problem(r, 422, words="If-Match")
