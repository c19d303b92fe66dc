"""Filing and following an incident over HTTP, down to the bytes on the stream."""

from __future__ import annotations

import hashlib
import json

import httpx
import rfc8785
from cloudevents.core.formats.json import JSONFormat

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


async def _report(api: httpx.AsyncClient, actors: Actors, **overrides: object) -> dict[str, object]:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account(**overrides)}, headers=actors.usa)
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'
    assert r.headers["Location"] == f"/api/v1/incidents/{r.json()['id']}"
    return r.json()


async def test_filed_incident_is_on_the_stream_with_msg_id_hash_and_cloudevents_shape(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    written = await _report(api, actors)
    raw = await runtime.store.get_raw(written["version"])
    assert raw is not None
    assert raw.subject == f"{runtime.settings.subject_prefix}.ev.incident.{written['id']}"
    envelope = json.loads(raw.data)
    assert raw.msg_id == envelope["id"] == written["event_ids"][0]
    body = {k: v for k, v in envelope.items() if k not in ("hash", "signature")}
    assert envelope["hash"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    assert envelope["party"] == "USA" and envelope["actor"] == "usa-duty"
    assert envelope["type"] == "parley.incident.reported.v1" and envelope["aggversion"] == 1
    assert "prevhash" not in envelope
    event = JSONFormat().read(None, raw.data)
    assert event.get_id() == envelope["id"]
    assert event.get_type() == "parley.incident.reported.v1"
    assert event.get_extension("hash") == envelope["hash"]


async def test_both_accounts_are_kept_side_by_side_and_the_timeline_is_ordered(api: httpx.AsyncClient, actors: Actors) -> None:
    incident = (await _report(api, actors))["id"]
    r = await api.post(f"/api/v1/incidents/{incident}/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    counter = account(severity=2, initiator="USA", position=None, place="Black Sea", narrative="Routine identification.")
    r = await api.post(f"/api/v1/incidents/{incident}/counter-account", json={"account": counter}, headers=actors.rus)
    assert r.status_code == 200, r.text
    version = r.json()["version"]

    r = await api.get(f"/api/v1/incidents/{incident}", params={"min_seq": version}, headers=actors.ukr)
    assert r.status_code == 404, r.text  # a third party does not see it (docs/security.md)
    r = await api.get(f"/api/v1/incidents/{incident}", params={"min_seq": version}, headers=actors.auditor)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["status"] == "counter_account_filed"
    assert r.headers["ETag"] == f'"{version}"'
    by_party = {a["party"]: a for a in detail["accounts"]}
    assert by_party["USA"]["severity"] == 4 and by_party["USA"]["initiator"] == "RUS"
    assert by_party["RUS"]["severity"] == 2 and by_party["RUS"]["initiator"] == "USA"
    assert by_party["RUS"]["place"] == "Black Sea"

    r = await api.get(f"/api/v1/incidents/{incident}/timeline", headers=actors.usa)
    types = [item["type"] for item in r.json()["items"]]
    assert types == [
        "parley.incident.reported.v1", "parley.incident.acknowledged.v1", "parley.incident.counter-account-filed.v1",
    ]


async def test_full_lifecycle_through_dispute_review_and_resolution(api: httpx.AsyncClient, actors: Actors) -> None:
    incident = (await _report(api, actors))["id"]
    steps = [
        (actors.rus, "acknowledge", {}, "acknowledged"),
        (actors.rus, "counter-account", {"account": account(severity=1, initiator="USA")}, "counter_account_filed"),
        (actors.usa, "amend", {"account": account(severity=5), "reason": "radar track reviewed"}, "counter_account_filed"),
        (actors.usa, "dispute", {"disputed_fields": ["severity", "initiator"], "statement": "Unsafe by any standard."}, "disputed"),
        (actors.rus, "review", {"forum": "INCSEA annual review 2024"}, "under_review"),
        (actors.usa, "resolve", {"finding": "Both sides agree to keep 500 ft separation."}, "resolved"),
    ]
    for who, action, body, status in steps:
        r = await api.post(f"/api/v1/incidents/{incident}/{action}", json=body, headers=who)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["status"] == status
    r = await api.get(f"/api/v1/incidents/{incident}", params={"min_seq": r.json()["version"]}, headers=actors.usa)
    detail = r.json()
    usa = next(a for a in detail["accounts"] if a["party"] == "USA")
    assert usa["version"] == 2 and usa["severity"] == 5
    assert detail["status"] == "resolved"


async def test_clarification_is_asked_of_and_answered_by_the_other_party(api: httpx.AsyncClient, actors: Actors) -> None:
    incident = (await _report(api, actors))["id"]
    r = await api.post(f"/api/v1/incidents/{incident}/clarifications", json={"to_party": "RUS", "question": "Which unit?"}, headers=actors.usa)
    assert r.status_code == 200, r.text
    cid = r.json()["clarification_id"]
    r = await api.post(f"/api/v1/incidents/{incident}/clarifications/{cid}/answer", json={"answer": "Su-27 pair"}, headers=actors.usa)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = await api.post(f"/api/v1/incidents/{incident}/clarifications/{cid}/answer", json={"answer": "Su-27 pair"}, headers=actors.rus)
    assert r.status_code == 200, r.text


async def test_list_filters_and_cursor_pagination(api: httpx.AsyncClient, actors: Actors) -> None:
    ids = [(await _report(api, actors, severity=1 + i % 5))["id"] for i in range(5)]
    r = await api.post("/api/v1/incidents", json={"parties": ["UKR"], "account": account(kind="border_incident", initiator="UKR")}, headers=actors.rus)
    last = r.json()["version"]
    r = await api.get("/api/v1/incidents", params={"party": "UKR", "min_seq": last}, headers=actors.auditor)
    assert [i["id"] for i in r.json()["items"]] == [r.json()["items"][0]["id"]] and len(r.json()["items"]) == 1
    r = await api.get("/api/v1/incidents", params={"party": "UKR"}, headers=actors.usa)
    assert r.json()["items"] == []  # USA is not involved in the RUS–UKR incident
    r = await api.get("/api/v1/incidents", params={"kind": "unsafe_encounter_air"}, headers=actors.usa)
    assert sorted(i["id"] for i in r.json()["items"]) == sorted(ids)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/incidents", params=params, headers=actors.auditor)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == 6 and len(set(seen)) == 6


async def test_raw_event_feed_returns_stream_events_in_order(api: httpx.AsyncClient, actors: Actors) -> None:
    await _report(api, actors)
    r = await api.get("/api/v1/events", params={"after": 0, "limit": 1000}, headers=actors.auditor)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["seq"] for i in items] == list(range(1, len(items) + 1))
    assert items[-1]["event"]["type"] == "parley.incident.reported.v1"
    second = await api.get("/api/v1/events", params={"after": 3, "limit": 2}, headers=actors.auditor)
    assert [i["seq"] for i in second.json()["items"]] == [4, 5]
