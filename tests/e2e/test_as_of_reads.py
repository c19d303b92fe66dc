"""`?as_of=` / `?as_of_seq=` on every read route: the answer equals what the live route answered
when the stream stood at the cut — real nats-server, SQLite and PostgreSQL, the projector running.

Each test takes a snapshot of live answers at a moment T (after some history), appends more
history (amendments, acknowledgements, new records, new parties), checks that the live answers
moved on, and that `as_of=T` (and `as_of_seq=<the echoed cut>`) gives the snapshot back exactly.
T is a wall-clock instant: `as_of` compares with JetStream's recorded time of each append. The
injected clock (business time) is set to T at the snapshot, so clock-dependent answers (overdue
messages, upcoming check calls) are computed at the same moment both times.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.clock import ManualClock
from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account

START = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
AREA = {"type": "Polygon", "coordinates": [[[30.0, 50.0], [31.0, 50.0], [31.0, 51.0], [30.0, 51.0], [30.0, 50.0]]]}
Reads = list[tuple[str, dict[str, Any], dict[str, str]]]  # (path, params, headers)


@pytest.fixture
def clock() -> ManualClock:
    """Business time starts two hours before the wall clock and moves only when a test says so."""
    return ManualClock(START)


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def _cut(runtime: Runtime, clock: ManualClock) -> datetime:
    """T: after everything so far is recorded and projected, before anything that follows."""
    assert await runtime.projector.wait_for(await runtime.store.last_seq(), timeout=10)
    await asyncio.sleep(0.02)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.02)
    clock.set(moment)
    return moment


async def _snapshot(api: httpx.AsyncClient, reads: Reads) -> list[httpx.Response]:
    out = []
    for path, params, headers in reads:
        r = await api.get(path, params=params, headers=headers)
        assert r.status_code == 200, f"{path}: {r.text}"
        out.append(r)
    return out


async def _assert_as_of(api: httpx.AsyncClient, runtime: Runtime, reads: Reads, before: list[httpx.Response],
                        moment: datetime) -> None:
    """Live answers have moved on; as of `moment` (and as of the echoed sequence) they have not."""
    assert await runtime.projector.wait_for(await runtime.store.last_seq(), timeout=10)
    for (path, params, headers), then in zip(reads, before):
        now = await api.get(path, params=params, headers=headers)
        assert now.status_code == 200, f"{path}: {now.text}"
        assert now.json() != then.json(), f"{path} {params}: the later history did not change the live answer"
        r = await api.get(path, params={**params, "as_of": moment.isoformat()}, headers=headers)
        assert r.status_code == 200, f"{path}: {r.text}"
        assert r.json() == then.json(), f"{path} {params} as of {moment}"
        assert r.headers["Parley-As-Of"] == moment.isoformat()
        assert r.headers.get("ETag") == then.headers.get("ETag"), path
        seq = r.headers["Parley-As-Of-Seq"]
        by_seq = await api.get(path, params={**params, "as_of_seq": seq}, headers=headers)
        assert by_seq.status_code == 200 and by_seq.json() == then.json(), f"{path} as of sequence {seq}"
        assert by_seq.headers["Parley-As-Of-Seq"] == seq and "Parley-As-Of" not in by_seq.headers


async def _report(api: httpx.AsyncClient, headers: dict[str, str], **overrides: object) -> str:
    body = await _ok(await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account(**overrides)},
                                    headers=headers), 201)
    return str(body["id"])


async def test_parties_incidents_timeline_and_event_feed_read_as_they_stood(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock,
) -> None:
    first = await _report(api, actors.usa, severity=4)
    await _ok(await api.post(f"/api/v1/incidents/{first}/acknowledge", json={}, headers=actors.rus))
    clock.advance(minutes=5)
    second = await _report(api, actors.usa, severity=2, kind="unsafe_encounter_sea")
    clock.advance(minutes=5)
    third = await _report(api, actors.usa, severity=3)
    moment = await _cut(runtime, clock)

    page_one = await _ok(await api.get("/api/v1/incidents", params={"limit": 2}, headers=actors.usa))
    assert page_one["next_cursor"] is not None
    reads: Reads = [
        ("/api/v1/parties", {}, actors.usa),
        ("/api/v1/parties/USA", {}, actors.rus),
        ("/api/v1/parties/USA/officers", {}, actors.usa),
        ("/api/v1/incidents", {}, actors.usa),
        ("/api/v1/incidents", {}, actors.auditor),
        ("/api/v1/incidents", {"limit": 2}, actors.usa),
        ("/api/v1/incidents", {"limit": 2, "cursor": page_one["next_cursor"]}, actors.rus),
        ("/api/v1/incidents", {"status": "reported"}, actors.usa),
        ("/api/v1/incidents", {"kind": "unsafe_encounter_sea"}, actors.usa),
        (f"/api/v1/incidents/{first}", {}, actors.usa),
        (f"/api/v1/incidents/{first}/timeline", {}, actors.rus),
        (f"/api/v1/incidents/{second}", {}, actors.rus),
        ("/api/v1/events", {"after": 0, "limit": 1000}, actors.auditor),
    ]
    before = await _snapshot(api, reads)

    # later history: a new officer and party, every incident changes, a new one (newest first)
    await _ok(await api.post("/api/v1/parties/USA/officers", json={"id": "usa-2", "name": "Second"}, headers=actors.admin), 201)
    await _ok(await api.post("/api/v1/parties", json={"code": "GBR", "name": "United Kingdom"}, headers=actors.admin), 201)
    clock.advance(minutes=5)
    await _ok(await api.post(f"/api/v1/incidents/{first}/counter-account", json={"account": account(severity=1, initiator="USA")},
                             headers=actors.rus))
    await _ok(await api.post(f"/api/v1/incidents/{first}/amend", json={"account": account(severity=5), "reason": "radar"},
                             headers=actors.usa))
    await _ok(await api.post(f"/api/v1/incidents/{second}/acknowledge", json={}, headers=actors.rus))
    await _ok(await api.post(f"/api/v1/incidents/{second}/amend", json={
        "account": account(kind="unsafe_encounter_air", severity=2), "reason": "it was an aircraft"}, headers=actors.usa))
    await _ok(await api.post(f"/api/v1/incidents/{third}/retract", json={"reason": "duplicate"}, headers=actors.usa))
    await _report(api, actors.usa, severity=1)

    await _assert_as_of(api, runtime, reads, before, moment)


async def test_hotline_agreements_and_check_calls_read_as_they_stood(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock,
) -> None:
    slot = START + timedelta(minutes=10)
    terms = {"hotline": {"check_calls": {"times": [slot.strftime("%H:%M")], "weekdays": [0, 1, 2, 3, 4, 5, 6],
                                         "timezone": "UTC", "answer_window": "PT5M", "caller": "USA"}}}
    await _ok(await api.post("/api/v1/agreements", json={"id": "US-RU", "name": "INCSEA", "parties": ["USA", "RUS"],
                                                         "terms": terms}, headers=actors.admin), 201)
    await _ok(await api.post("/api/v1/agreements", json={"id": "RU-UA", "name": "other", "parties": ["RUS", "UKR"],
                                                         "terms": {"hotline": {"check_calls": {"enabled": False}}}},
                             headers=actors.admin), 201)
    flash = await _ok(await api.post("/api/v1/hotline/messages", json={
        "agreement_id": "US-RU", "to_party": "RUS", "precedence": "FLASH", "subject": "Approach", "body": "Alter course."},
        headers=actors.usa), 201)
    await _ok(await api.post(f"/api/v1/hotline/messages/{flash['id']}/delivered", json={}, headers=actors.rus))
    routine = await _ok(await api.post("/api/v1/hotline/messages", json={
        "agreement_id": "US-RU", "to_party": "USA", "precedence": "ROUTINE", "subject": "Exercise", "body": "Notice.",
        "answer_required": True}, headers=actors.rus), 201)
    call = await _ok(await api.post("/api/v1/hotline/calls", json={"agreement_id": "US-RU", "to_party": "RUS",
                                                                   "purpose": "Talk"}, headers=actors.usa), 201)
    why = await _ok(await api.post("/api/v1/hotline/explanations", json={
        "agreement_id": "US-RU", "to_party": "RUS", "subject": "Drill", "question": "Why?"}, headers=actors.usa), 201)
    clock.set(slot + timedelta(minutes=2))
    await _ok(await api.post("/api/v1/agreements/US-RU/check-calls/answer", json={"slot_start": slot.isoformat()},
                             headers=actors.rus))
    moment = await _cut(runtime, clock)

    reads: Reads = [
        ("/api/v1/agreements", {}, actors.usa),
        ("/api/v1/agreements", {}, actors.auditor),
        ("/api/v1/agreements/US-RU", {}, actors.rus),
        ("/api/v1/agreements/US-RU/check-calls", {}, actors.usa),
        ("/api/v1/hotline/messages", {}, actors.usa),
        ("/api/v1/hotline/messages", {"box": "inbox"}, actors.rus),
        ("/api/v1/hotline/messages", {"overdue": "true"}, actors.rus),
        ("/api/v1/hotline/messages", {"limit": 1}, actors.auditor),
        (f"/api/v1/hotline/messages/{flash['id']}", {}, actors.usa),
        (f"/api/v1/hotline/messages/{routine['id']}", {}, actors.usa),
        ("/api/v1/hotline/calls", {}, actors.rus),
        (f"/api/v1/hotline/calls/{call['id']}", {}, actors.usa),
        ("/api/v1/hotline/explanations", {"status": "requested"}, actors.usa),
        (f"/api/v1/hotline/explanations/{why['id']}", {}, actors.rus),
    ]
    before = await _snapshot(api, reads)
    assert [m["id"] for m in before[6].json()["items"]] == [flash["id"]]  # overdue at T: FLASH, 10 min

    clock.advance(minutes=5)
    await _ok(await api.post(f"/api/v1/hotline/messages/{flash['id']}/acknowledge", json={}, headers=actors.rus))
    await _ok(await api.post(f"/api/v1/hotline/messages/{routine['id']}/answer", json={"body": "Noted."}, headers=actors.usa))
    await _ok(await api.post("/api/v1/hotline/messages", json={
        "agreement_id": "US-RU", "to_party": "RUS", "precedence": "PRIORITY", "subject": "Later", "body": "Later."},
        headers=actors.usa), 201)
    await _ok(await api.post(f"/api/v1/hotline/calls/{call['id']}/decline", json={"reason": "busy"}, headers=actors.rus))
    await _ok(await api.post(f"/api/v1/hotline/explanations/{why['id']}/reply", json={"text": "A drill."}, headers=actors.rus))
    await _ok(await api.post("/api/v1/agreements/US-RU/contacts", json={"party": "RUS", "primary": "rus-duty",
                                                                         "alternate": "rus-alt"}, headers=actors.admin))
    await _ok(await api.post("/api/v1/agreements", json={"id": "US-UA", "name": "new", "parties": ["USA", "UKR"],
                                                         "terms": {"hotline": {"check_calls": {"enabled": False}}}},
                             headers=actors.admin), 201)
    tomorrow = slot + timedelta(days=1)
    clock.set(tomorrow + timedelta(minutes=1))
    await _ok(await api.post("/api/v1/agreements/US-RU/check-calls/answer", json={"slot_start": tomorrow.isoformat()},
                             headers=actors.rus))
    clock.set(moment)  # the live `upcoming` and `overdue` answers are computed at T again: only history moved

    await _assert_as_of(api, runtime, [r for r in reads if r[0] != "/api/v1/agreements" or r[2] != actors.usa],
                        [b for r, b in zip(reads, before) if r[0] != "/api/v1/agreements" or r[2] != actors.usa], moment)
    # USA's agreement list changed only by a new agreement; RUS–UKR's stays invisible to USA either way
    r = await api.get("/api/v1/agreements", params={"as_of": moment.isoformat()}, headers=actors.usa)
    assert r.json() == before[0].json() and [a["id"] for a in r.json()["items"]] == ["US-RU"]


async def test_inspections_and_notifications_read_as_they_stood(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock,
) -> None:
    await _ok(await api.post("/api/v1/agreements", json={"id": "VD", "name": "Vienna Document", "parties": ["USA", "RUS", "UKR"],
                                                         "terms": {"hotline": {"check_calls": {"enabled": False}}}},
                             headers=actors.admin), 201)

    async def request(by: dict[str, str], to: str) -> str:
        body = {"agreement_id": "VD", "kind": "inspection", "to_party": to, "reasons": "Armour", "area": AREA,
                "point_of_entry": "airport", "team_size": 4,
                "expected_arrival": (clock.now() + timedelta(hours=30)).isoformat()}
        return str((await _ok(await api.post("/api/v1/inspections", json=body, headers=by), 201))["id"])

    visit = await request(actors.usa, "RUS")
    await _ok(await api.post(f"/api/v1/inspections/{visit}/accept", json={}, headers=actors.rus))
    other = await request(actors.ukr, "RUS")
    start = clock.now() + timedelta(days=60)
    notice = await _ok(await api.post("/api/v1/notifications/activities", json={
        "agreement_id": "VD", "title": "Zapad", "start": start.isoformat(), "end": (start + timedelta(days=3)).isoformat(),
        "area": AREA, "scale": {"troops": 13000}}, headers=actors.rus), 201)
    moment = await _cut(runtime, clock)

    reads: Reads = [
        ("/api/v1/inspections", {}, actors.usa),
        ("/api/v1/inspections", {}, actors.auditor),
        ("/api/v1/inspections", {"role": "receiving"}, actors.rus),
        ("/api/v1/inspections", {"status": "accepted"}, actors.rus),
        (f"/api/v1/inspections/{visit}", {}, actors.rus),
        (f"/api/v1/inspections/{other}", {}, actors.ukr),
        ("/api/v1/notifications", {}, actors.usa),
        (f"/api/v1/notifications/{notice['id']}", {}, actors.ukr),
    ]
    before = await _snapshot(api, reads)

    clock.advance(hours=1)
    await _ok(await api.post(f"/api/v1/inspections/{visit}/team-entered", json={}, headers=actors.usa))
    await _ok(await api.post(f"/api/v1/inspections/{other}/refuse", json={"ground": "quota_exhausted"}, headers=actors.rus))
    await request(actors.usa, "UKR")
    await _ok(await api.post("/api/v1/notifications/units", json={"agreement_id": "VD", "year": 2026, "units": 300},
                             headers=actors.rus), 201)
    await _ok(await api.post("/api/v1/notifications/activities", json={
        "agreement_id": "VD", "title": "Later", "start": start.isoformat(), "end": (start + timedelta(days=3)).isoformat(),
        "area": AREA, "scale": {"troops": 100}}, headers=actors.usa), 201)

    later = [(p, q, h) for p, q, h in reads if p != f"/api/v1/notifications/{notice['id']}"]  # a notice never changes
    await _assert_as_of(api, runtime, later, [b for r, b in zip(reads, before) if r in later], moment)
    r = await api.get(f"/api/v1/notifications/{notice['id']}", params={"as_of": moment.isoformat()}, headers=actors.ukr)
    assert r.status_code == 200 and r.json() == before[-1].json()


async def test_as_of_refuses_naive_times_shows_nothing_before_history_and_keeps_third_parties_out(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock,
) -> None:
    incident = await _report(api, actors.usa)
    await _ok(await api.post("/api/v1/agreements", json={"id": "US-RU", "name": "INCSEA", "parties": ["USA", "RUS"],
                                                         "terms": {"hotline": {"check_calls": {"enabled": False}}}},
                             headers=actors.admin), 201)
    message = await _ok(await api.post("/api/v1/hotline/messages", json={
        "agreement_id": "US-RU", "to_party": "RUS", "precedence": "ROUTINE", "subject": "s", "body": "b"},
        headers=actors.usa), 201)
    moment = await _cut(runtime, clock)
    created_later = await _report(api, actors.usa)
    assert await runtime.projector.wait_for(await runtime.store.last_seq(), timeout=10)

    # a naive time is refused as RFC 9457 problem+json, on record, list and feed routes alike
    for path, headers in (("/api/v1/incidents", actors.usa), (f"/api/v1/incidents/{incident}", actors.usa),
                          (f"/api/v1/hotline/messages/{message['id']}", actors.rus), ("/api/v1/events", actors.auditor)):
        r = await api.get(path, params={"as_of": "2026-03-01T12:00:00"}, headers=headers)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert "time zone" in r.json()["detail"]
    r = await api.get("/api/v1/incidents", params={"as_of": "9999-12-31T23:00:00-14:00"}, headers=actors.usa)
    assert r.status_code == 422 and "out of range" in r.json()["detail"], r.text  # past year 9999 in UTC

    # before the first event: empty lists, missing records, an empty feed
    dawn = {"as_of": "2000-01-01T00:00:00Z"}
    for path, headers in (("/api/v1/parties", actors.usa), ("/api/v1/incidents", actors.auditor),
                          ("/api/v1/hotline/messages", actors.usa), ("/api/v1/agreements", actors.usa),
                          ("/api/v1/inspections", actors.usa), ("/api/v1/notifications", actors.usa),
                          ("/api/v1/hotline/calls", actors.usa), ("/api/v1/parties/USA/officers", actors.usa)):
        r = await api.get(path, params=dawn, headers=headers)
        assert r.status_code == 200 and r.json()["items"] == [] and r.headers["Parley-As-Of-Seq"] == "0", (path, r.text)
    r = await api.get("/api/v1/events", params=dawn, headers=actors.auditor)
    assert r.json() == {"items": [], "next_after": 0, "last_seq": 0}
    for path, headers in ((f"/api/v1/incidents/{incident}", actors.usa), (f"/api/v1/incidents/{incident}/timeline", actors.rus),
                          ("/api/v1/parties/USA", actors.usa), ("/api/v1/agreements/US-RU", actors.usa),
                          ("/api/v1/agreements/US-RU/check-calls", actors.rus),
                          (f"/api/v1/hotline/messages/{message['id']}", actors.usa)):
        r = await api.get(path, params=dawn, headers=headers)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", (path, r.text)

    # a record created after the cut does not exist as of the cut; it does live
    r = await api.get(f"/api/v1/incidents/{created_later}", params={"as_of": moment.isoformat()}, headers=actors.usa)
    assert r.status_code == 404
    assert (await api.get(f"/api/v1/incidents/{created_later}", headers=actors.usa)).status_code == 200

    # a third party gets the 404 of a missing record, as of any moment
    for params in ({"as_of": moment.isoformat()}, {"as_of_seq": 10_000}, dawn):
        for path in (f"/api/v1/incidents/{incident}", f"/api/v1/incidents/{incident}/timeline",
                     f"/api/v1/hotline/messages/{message['id']}", "/api/v1/agreements/US-RU"):
            r = await api.get(path, params=params, headers=actors.ukr)
            assert r.status_code == 404, (path, params, r.text)
        r = await api.get("/api/v1/hotline/messages", params=params, headers=actors.ukr)
        assert r.status_code == 200 and r.json()["items"] == []
        r = await api.get("/api/v1/incidents", params=params, headers=actors.ukr)
        assert r.status_code == 200 and r.json()["items"] == []

    # both cuts: the earlier wins; a cut past the end of the stream is the end
    last = await runtime.store.last_seq()
    r = await api.get("/api/v1/events", params={"as_of": moment.isoformat(), "as_of_seq": 3}, headers=actors.auditor)
    assert r.headers["Parley-As-Of-Seq"] == "3" and [e["seq"] for e in r.json()["items"]] == [1, 2, 3]
    assert r.json()["last_seq"] == 3
    r = await api.get("/api/v1/events", params={"as_of_seq": last + 100}, headers=actors.auditor)
    assert r.headers["Parley-As-Of-Seq"] == str(last) and r.json()["last_seq"] == last
