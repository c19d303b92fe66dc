"""An officer of party A cannot file, amend, acknowledge or read as party B — by route, body,
query, header or idempotency-key trick — and a third party learns nothing of a dyad's incident."""

from __future__ import annotations

import json

import httpx

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


async def _incident(api: httpx.AsyncClient, reporter: dict[str, str], other: str, **overrides: object) -> str:
    r = await api.post("/api/v1/incidents", json={"parties": [other], "account": account(**overrides)}, headers=reporter)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_filing_always_happens_as_the_tokens_party(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    before = await runtime.store.last_seq()
    tricks = [
        {"parties": ["RUS"], "account": account(), "party": "RUS"},
        {"parties": ["RUS"], "account": account(), "reporter": "RUS"},
        {"parties": ["RUS"], "account": account(), "by": {"actor": "rus-duty", "role": "officer", "party": "RUS"}},
        {"parties": ["RUS"], "account": {**account(), "party": "RUS"}},
    ]
    for body in tricks:
        r = await api.post("/api/v1/incidents", json=body, headers=actors.usa)
        assert r.status_code == 422 and "extra" in r.json()["detail"].lower(), r.text
    assert await runtime.store.last_seq() == before
    # headers and query parameters that name another party are ignored, not obeyed
    r = await api.post("/api/v1/incidents", params={"party": "RUS", "as": "RUS"},
                       json={"parties": ["RUS", "UKR"], "account": account()},
                       headers={**actors.usa, "X-Party": "RUS", "X-Forwarded-User": "rus-duty", "Forwarded": "for=RUS"})
    assert r.status_code == 201, r.text
    raw = await runtime.store.get_raw(r.json()["version"])
    assert raw is not None
    event = json.loads(raw.data)
    assert event["party"] == "USA" and event["actor"] == "usa-duty"
    assert event["source"] == "/parties/USA/officers/usa-duty"


async def test_a_party_acts_only_on_its_own_account(api: httpx.AsyncClient, actors: Actors) -> None:
    incident = await _incident(api, actors.usa, "RUS")
    # USA cannot acknowledge for RUS: acknowledging as the reporter is refused by the domain
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.usa)
    assert r.status_code == 409 and "USA reported this incident" in r.json()["detail"]
    assert (await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.rus)).status_code == 200
    counter = account(severity=1, initiator="USA", narrative="RUS's own words.")
    r = await api.post(f"/api/v1/incidents/{incident}/counter-account", json={"account": counter}, headers=actors.rus)
    assert r.status_code == 200, r.text
    # USA amends: only USA's account changes; RUS's stays as RUS wrote it
    r = await api.post(f"/api/v1/incidents/{incident}/amend",
                       json={"account": account(narrative="USA amended."), "reason": "typo"}, headers=actors.usa)
    assert r.status_code == 200, r.text
    detail = (await api.get(f"/api/v1/incidents/{incident}", params={"min_seq": r.json()["version"]}, headers=actors.rus)).json()
    accounts = {a["party"]: a for a in detail["accounts"]}
    assert accounts["RUS"]["narrative"] == "RUS's own words." and accounts["USA"]["narrative"] == "USA amended."
    # answering a clarification asked of RUS is refused to USA
    r = await api.post(f"/api/v1/incidents/{incident}/clarifications", json={"to_party": "RUS", "question": "Which unit?"}, headers=actors.usa)
    cid = r.json()["clarification_id"]
    r = await api.post(f"/api/v1/incidents/{incident}/clarifications/{cid}/answer", json={"answer": "none"}, headers=actors.usa)
    assert r.status_code == 403


async def test_a_third_party_cannot_see_or_touch_a_dyads_incident(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    incident = await _incident(api, actors.usa, "RUS")
    await runtime.projector.wait_for(await runtime.store.last_seq(), timeout=10)
    missing = "01aaaaaa-0000-7000-8000-000000000000"
    before = await runtime.store.last_seq()
    for suffix, body in [("acknowledge", {}), ("counter-account", {"account": account()}),
                         ("amend", {"account": account(), "reason": "x"}), ("retract", {"reason": "x"}),
                         ("dispute", {"statement": "x"}), ("clarifications", {"to_party": "USA", "question": "?"}),
                         ("acknowledge", {"party": "RUS"}), ("acknowledge", "not even json"), ("amend", {"account": 5})]:
        hidden = await api.post(f"/api/v1/incidents/{incident}/{suffix}", json=body, headers=actors.ukr)
        absent = await api.post(f"/api/v1/incidents/{missing}/{suffix}", json=body, headers=actors.ukr)
        assert hidden.status_code == absent.status_code == 404, (suffix, hidden.text, absent.text)
        # indistinguishable from an incident that does not exist (bar the id in the sentence)
        assert hidden.json()["detail"].replace(incident, "X") == absent.json()["detail"].replace(missing, "X")
    for path in (f"/api/v1/incidents/{incident}", f"/api/v1/incidents/{incident}/timeline"):
        hidden = await api.get(path, headers=actors.ukr)
        absent = await api.get(path.replace(incident, missing), headers=actors.ukr)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["detail"].replace(incident, "X") == absent.json()["detail"].replace(missing, "X")
        assert (await api.get(path, headers=actors.rus)).status_code == 200
        assert (await api.get(path, headers=actors.auditor)).status_code == 200
    for query in ({}, {"party": "USA"}, {"party": "RUS"}):
        assert (await api.get("/api/v1/incidents", params=query, headers=actors.ukr)).json()["items"] == []
    assert (await api.get("/api/v1/events", headers=actors.ukr)).status_code == 403
    assert (await api.get("/api/v1/parties/USA/officers", headers=actors.ukr)).status_code == 403
    assert await runtime.store.last_seq() == before


async def test_an_idempotency_key_never_replays_another_tokens_response(api: httpx.AsyncClient, actors: Actors) -> None:
    key = {"Idempotency-Key": "shared-key-1"}
    first = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers={**actors.usa, **key})
    assert first.status_code == 201
    second = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers={**actors.ukr, **key})
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]


async def test_a_token_cannot_bind_an_officer_to_another_party(api: httpx.AsyncClient, actors: Actors) -> None:
    r = await api.post("/api/v1/tokens", json={"role": "officer", "party": "USA", "officer_id": "rus-duty"}, headers=actors.admin)
    assert r.status_code == 404 and "USA has no officer rus-duty" in r.json()["detail"]
    r = await api.post("/api/v1/tokens", json={"role": "auditor", "party": "USA"}, headers=actors.admin)
    assert r.status_code == 422
    r = await api.post("/api/v1/tokens", json={"role": "admin"}, headers=actors.usa)
    assert r.status_code == 403
