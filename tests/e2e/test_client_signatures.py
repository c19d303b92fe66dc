"""Client-signed writes over HTTP: prepare, sign with the party's own key, submit; and `parley verify`.

The USA officer's client holds `USA_CLIENT`, a key the server never holds; it is published in the
log like any party key. Time is a `ManualClock`, so the signing window can be crossed on purpose.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from adapters.cli.main import app as cli
from adapters.clock import ManualClock
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.client_keys import publish_public_key
from adapters.integrity.evidence import from_zip
from adapters.integrity.keys_admin import create_key
from adapters.integrity.settings import AuditSettings
from adapters.integrity.stream_check import verify_stream
from adapters.integrity.wiring import ensure_system_key, key_directory
from adapters.jetstream.stream import StreamSpec
from adapters.runtime import Runtime
from core.envelope import Event, canonical_json, seal
from core.identity import Principal, Role
from core.integrity import keys as k
from core.integrity.bundle import verify_bundle
from core.integrity.client_signing import sign_prepared, signatures_header
from core.integrity.notes import SignerKey
from core.integrity.signatures import EventSignature, signature_valid, signed_bytes
from core.integrity.verification import LogVerifier
from tests.e2e.cli_process import environment, parley
from tests.e2e.conftest import Actors, account

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
ADMIN = Principal(actor="tests", role=Role.ADMIN)
USA_CLIENT = SignerKey.generate("USA")
INCIDENTS = "/api/v1/incidents"
REPORT = {"parties": ["USA", "RUS"], "account": account()}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def _client_key(runtime: Runtime) -> None:
    """USA signs its own events: its public key is published, the server holds no USA key."""
    await publish_public_key(runtime.app, key_directory(runtime), holder="USA", key=USA_CLIENT.verifier, by=ADMIN)


async def _prepare(api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    r = await api.post(path, json=body, headers={**headers, "Parley-Sign": "prepare"})
    assert r.status_code == 200, r.text
    return r.json()


def _signed(prepared: dict[str, Any], key: SignerKey = USA_CLIENT) -> dict[str, str]:
    """The submit headers of a prepare response, signed with `key` on the client's side."""
    return {**prepared["submit_headers"], "Parley-Signature": signatures_header(sign_prepared(prepared, key))}


async def _events(runtime: Runtime) -> list[dict[str, Any]]:
    return [stored.event.to_dict() async for stored in runtime.store.read()]


async def test_prepare_answers_the_events_to_sign_and_appends_nothing(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await _client_key(runtime)
    before = await runtime.store.last_seq()
    prepared = await _prepare(api, INCIDENTS, REPORT, {**actors.usa, "Idempotency-Key": "report-1"})
    assert await runtime.store.last_seq() == before  # nothing appended
    assert prepared["prepared"] is True and prepared["appended"] is False
    assert prepared["holder"] == "USA" and [key["key_id"] for key in prepared["keys"]] == [USA_CLIENT.verifier.id_hex]
    [item] = prepared["events"]
    event = item["event"]
    assert event["type"] == "parley.incident.reported.v1" and event["party"] == "USA" and "signature" not in event
    assert event["time"] == "2025-06-02T08:00:00.000000Z" and event["aggversion"] == 1 and "prevhash" not in event
    assert event["subject"] == event["id"] == prepared["aggregate_id"]  # a new record takes its first event's id
    assert base64.b64decode(item["signed_bytes"]) == signed_bytes(event)
    assert hashlib.sha256(signed_bytes(event)).hexdigest() == event["hash"]
    assert item["key_name"] == "USA" and prepared["sign_before"] == "2025-06-02T08:05:00.000000Z"
    assert prepared["submit_headers"] == {"Parley-Event-Id": event["id"], "Parley-Event-Time": event["time"],
                                          "Parley-Event-Hash": event["hash"]}
    r = await api.get(f"{INCIDENTS}/{event['id']}", headers=actors.usa)
    assert r.status_code == 404
    # the prepare recorded no Idempotency-Key: the submit with the same key appends
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, "Idempotency-Key": "report-1", **_signed(prepared)})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == event["id"] and r.headers["Location"] == f"{INCIDENTS}/{event['id']}"


async def test_an_unsigned_write_of_a_party_that_signs_on_its_clients_is_refused_and_appends_nothing(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await _client_key(runtime)
    before = await runtime.store.last_seq()
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, "Idempotency-Key": "unsigned-1"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    detail = r.json()["detail"]
    assert f"USA signs its own events (its published key {USA_CLIENT.verifier.id_hex} is not held by this server)" in detail
    assert "prepare it, sign it with USA's key and submit it" in detail
    assert await runtime.store.last_seq() == before
    # RUS publishes no key: its officers' writes are stored unsigned, as before
    r = await api.post(INCIDENTS, json=REPORT | {"parties": ["RUS", "USA"]}, headers=actors.rus)
    assert r.status_code == 201, r.text
    assert await runtime.store.last_seq() == before + 1
    # the same write, prepared, signed on the client and submitted (same Idempotency-Key: the refusal kept none)
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, "Idempotency-Key": "unsigned-1", **_signed(prepared)})
    assert r.status_code == 201, r.text


async def test_a_client_signed_submit_appends_the_prepared_event_with_the_partys_signature_not_the_servers(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await create_key(runtime.app, key_directory(runtime), holder="USA", origin=AuditSettings().origin(runtime.settings), by=ADMIN)
    server_key = key_directory(runtime).active("USA")
    assert server_key is not None
    # a second USA key, held only by the party's client (the server's stays valid too)
    await runtime.app.handler.execute(k.DECIDER, "USA", k.PublishKey(
        holder="USA", verifier_key=USA_CLIENT.verifier.encode(), by=ADMIN, at=T0))
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    before = await runtime.store.last_seq()
    headers = {**actors.usa, "Idempotency-Key": "signed-1", **_signed(prepared)}
    r = await api.post(INCIDENTS, json=REPORT, headers=headers)
    assert r.status_code == 201, r.text
    assert await runtime.store.last_seq() == before + 1
    [stored] = [e for e in await _events(runtime) if e["aggtype"] == "incident"]
    assert {k: v for k, v in stored.items() if k != "signature"} == prepared["events"][0]["event"]
    signature = EventSignature.parse(stored["signature"])
    assert signature.key_id == USA_CLIENT.verifier.id and signature_valid(stored, signature, USA_CLIENT.verifier)
    assert signature.signature != server_key.sign(signed_bytes(stored))  # not what the server would have signed
    assert r.json()["event_ids"] == [stored["id"]]

    # a retried submit with the same key returns the original result and appends nothing
    again = await api.post(INCIDENTS, json=REPORT, headers=headers)
    assert again.status_code == 201 and again.json() == r.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await runtime.store.last_seq() == before + 1
    # the same submit without the key: the event id is taken, nothing is appended twice
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **_signed(prepared)})
    assert r.status_code in (409, 422) and r.headers["content-type"] == "application/problem+json", r.text
    assert await runtime.store.last_seq() == before + 1

    # ordinary writes are still signed by the server with its USA key; the whole history verifies
    r = await api.post(f"{INCIDENTS}/{stored['id']}/acknowledge", json={}, headers=actors.rus)
    assert r.status_code == 200, r.text
    result = await verify_stream(runtime.nc, runtime.store, None)
    assert result.ok, [str(p) for p in result.problems]


async def test_wrong_keys_and_tampered_signatures_are_refused_with_a_reason_and_nothing_appended(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await _client_key(runtime)
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    before = await runtime.store.last_seq()
    stranger = SignerKey.generate("USA")
    good = _signed(prepared)
    raw = bytearray(base64.b64decode(good["Parley-Signature"].split(" ")[1]))
    raw[-1] ^= 1
    tampered = f"USA {base64.b64encode(bytes(raw)).decode()}"
    rus_signature = EventSignature(name="RUS", key_id=SignerKey.generate("RUS").verifier.id, signature=bytes(64)).encode()
    cases = {
        signatures_header(sign_prepared(prepared, stranger)): f"is not a published, unretired key of USA (valid now: USA+{USA_CLIENT.verifier.id_hex})",
        tampered: f"does not verify with USA key {USA_CLIENT.verifier.id_hex}",
        rus_signature: "signed with a key named 'RUS'; events of USA must be signed with a key of USA",
        "USA not-base64!": "Parley-Signature cannot be read",
        f"{good['Parley-Signature']}, {good['Parley-Signature']}": "must name the same number of events",
    }
    for value, reason in cases.items():
        r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **good, "Parley-Signature": value})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert reason in r.json()["detail"], r.json()["detail"]
    missing = {name: value for name, value in good.items() if name != "Parley-Event-Hash"}
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **missing})
    assert r.status_code == 422 and "Parley-Event-Hash missing" in r.json()["detail"]
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **good, "Parley-Sign": "prepare"})
    assert r.status_code == 422 and "a prepare (Parley-Sign: prepare) carries no" in r.json()["detail"]
    # RUS has no published key: it cannot prepare an event to sign
    r = await api.post(INCIDENTS, json=REPORT | {"parties": ["RUS", "USA"]}, headers={**actors.rus, "Parley-Sign": "prepare"})
    assert r.status_code == 422 and "RUS has no published signing key" in r.json()["detail"]
    assert await runtime.store.last_seq() == before
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **good})
    assert r.status_code == 201, r.text  # the untouched submit still goes through


async def test_a_record_changed_between_prepare_and_submit_is_a_conflict_and_a_new_prepare_succeeds(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock
) -> None:
    await _client_key(runtime)
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **_signed(prepared)})
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    amend = {"account": account(severity=5), "reason": "radar track re-analysed"}
    clock.advance(seconds=30)
    prepared = await _prepare(api, f"{INCIDENTS}/{incident}/amend", amend, actors.usa)
    [reported] = [e for e in await _events(runtime) if e["aggtype"] == "incident"]
    assert prepared["events"][0]["event"]["prevhash"] == reported["hash"]
    r = await api.post(f"{INCIDENTS}/{incident}/acknowledge", json={}, headers=actors.rus)  # the record moves on
    assert r.status_code == 200, r.text
    before = await runtime.store.last_seq()
    headers = {**actors.usa, "Idempotency-Key": "amend-1", **_signed(prepared)}
    r = await api.post(f"{INCIDENTS}/{incident}/amend", json=amend, headers=headers)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json", r.text
    assert "changed since you prepared" in r.json()["detail"] and "prepare again" in r.json()["detail"]
    assert await runtime.store.last_seq() == before
    # prepare again and sign the new event; the Idempotency-Key of the refused submit is free again
    prepared = await _prepare(api, f"{INCIDENTS}/{incident}/amend", amend, actors.usa)
    r = await api.post(f"{INCIDENTS}/{incident}/amend", json=amend, headers={**headers, **_signed(prepared)})
    assert r.status_code == 200, r.text
    assert await runtime.store.last_seq() == before + 1


async def test_a_pinned_time_outside_the_signing_window_is_refused(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: ManualClock
) -> None:
    await _client_key(runtime)
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    before = await runtime.store.last_seq()
    clock.advance(minutes=5, seconds=1)
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **_signed(prepared)})
    assert r.status_code == 422 and "more than 5 minutes old" in r.json()["detail"], r.text
    future = {**_signed(prepared), "Parley-Event-Time": "2025-06-02T08:07:00.000000Z"}  # server time is 08:05:01
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **future})
    assert r.status_code == 422 and "is in the future" in r.json()["detail"], r.text
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **_signed(prepared), "Parley-Event-Time": "yesterday"})
    assert r.status_code == 422 and "is not an RFC 3339 time" in r.json()["detail"]
    assert await runtime.store.last_seq() == before
    # a time the client moved (and signed itself) changes the event: refused as not the prepared one
    clock.set(T0)
    moved = dict(prepared, events=[dict(prepared["events"][0])])
    event = dict(moved["events"][0]["event"], time="2025-06-02T07:58:00.000000Z")
    event["hash"] = hashlib.sha256(signed_bytes(event)).hexdigest()
    moved["events"][0] = {"event": event}
    headers = {**_signed(prepared), "Parley-Event-Time": event["time"], "Parley-Event-Hash": event["hash"],
               "Parley-Signature": signatures_header(sign_prepared(moved, USA_CLIENT))}
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **headers})
    assert r.status_code == 201, r.text  # within the window, the client may sign a slightly earlier time …
    r = await api.post(f"{INCIDENTS}/{event['id']}/amend", json={"account": account(), "reason": "x"}, headers={
        **actors.usa, "Parley-Sign": "prepare"})
    assert r.status_code == 200, r.text
    late = r.json()
    early = "2025-06-02T07:57:00.000000Z"  # … but never before the record's last event (07:58)
    r = await api.post(f"{INCIDENTS}/{event['id']}/amend", json={"account": account(), "reason": "x"},
                       headers={**actors.usa, **_signed(late), "Parley-Event-Time": early})
    assert r.status_code == 422 and "lies before the last event of incident" in r.json()["detail"], r.text


async def test_route_chosen_record_ids_are_the_same_in_prepare_and_submit(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await _client_key(runtime)
    r = await api.post(INCIDENTS, json=REPORT, headers=actors.rus)
    assert r.status_code == 201, r.text
    path = f"{INCIDENTS}/{r.json()['id']}/clarifications"
    body = {"to_party": "RUS", "question": "What was your heading?"}
    prepared = await _prepare(api, path, body, actors.usa)
    r = await api.post(path, json=body, headers={**actors.usa, **_signed(prepared)})
    assert r.status_code == 200, r.text
    assert r.json()["clarification_id"] == prepared["events"][0]["event"]["id"]
    assert prepared["events"][0]["event"]["data"]["clarification_id"] == r.json()["clarification_id"]


async def test_verify_and_an_evidence_bundle_accept_client_signed_history_and_name_a_tampered_event(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await ensure_system_key(runtime)
    await create_key(runtime.app, key_directory(runtime), holder="USA", origin=AuditSettings().origin(runtime.settings), by=ADMIN)
    await _client_key(runtime)  # rotates USA to a key the server does not hold
    assert key_directory(runtime).active("USA") is None
    prepared = await _prepare(api, INCIDENTS, REPORT, actors.usa)
    r = await api.post(INCIDENTS, json=REPORT, headers={**actors.usa, **_signed(prepared)})
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    result = await verify_stream(runtime.nc, runtime.store, None)
    assert result.ok and result.signed >= 1, [str(p) for p in result.problems]

    stored = [(m.seq, m.subject, m.data) async for m in runtime.store.read_raw(after=0)]
    [(seq, subject, _)] = [(s, subj, d) for s, subj, d in stored if subj.endswith(f".incident.{incident}")]
    other_signature = signatures_header(sign_prepared(prepared, SignerKey.generate("USA")))
    tampered = LogVerifier(subject_prefix=runtime.store.spec.subject_prefix)
    for s, subj, data in stored:
        tampered.add(s, subj, _with_signature(data, other_signature) if s == seq else data)
    assert [(p.seq, p.subject) for p in tampered.problems] == [(seq, subject)]
    assert "which USA never published before this event" in tampered.problems[0].what

    r = await api.get(f"/api/v1/audit/evidence/{incident}", headers=actors.auditor)
    assert r.status_code == 200, r.text
    files = from_zip(r.content)
    report = verify_bundle(files)
    assert report.problems == [], [str(p) for p in report.problems]
    name = next(n for n in files if n.startswith("events/") and files[n] == next(d for s, _, d in stored if s == seq))
    files[name] = _with_signature(files[name], f"USA {base64.b64encode(USA_CLIENT.verifier.id + bytes(64)).decode()}")
    problems = [str(p) for p in verify_bundle(files).problems]
    assert any(f"seq {seq}" in p and "does not verify" in p for p in problems), problems


def _with_signature(data: bytes, signature: str) -> bytes:
    event = json.loads(data)
    event["signature"] = signature
    return canonical_json(event)


def test_the_sign_event_command_signs_a_prepare_response_on_the_clients_machine(tmp_path: Path) -> None:
    event = seal(Event(id="00000000-0000-7000-8000-000000000001", type="parley.incident.reported.v1",
                       source="/parties/USA/officers/usa-duty", subject="x", time="2025-06-02T08:00:00.000000Z",
                       aggtype="incident", aggversion=1, party="USA", actor="usa-duty", data={"a": 1}), prevhash=None)
    prepared = {"events": [{"event": event.to_dict(), "signed_bytes": base64.b64encode(signed_bytes(event)).decode()}],
                "submit_headers": {"Parley-Event-Id": event.id, "Parley-Event-Time": event.time, "Parley-Event-Hash": event.hash}}
    key_file = tmp_path / "usa.key"
    key_file.write_text(USA_CLIENT.encode())
    result = CliRunner().invoke(cli, ["keys", "sign-event", "--key", str(key_file)], input=json.dumps(prepared))
    assert result.exit_code == 0, result.output
    value = result.stdout.strip().splitlines()[-1]
    assert signature_valid(event, EventSignature.parse(value), USA_CLIENT.verifier)
    result = CliRunner().invoke(cli, ["keys", "sign-event", "--key", str(key_file), "--headers"], input=json.dumps(prepared))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-4:] == [f"Parley-Event-Id: {event.id}", f"Parley-Event-Time: {event.time}",
                          f"Parley-Event-Hash: {event.hash}", f"Parley-Signature: {value}"]
    forged = json.loads(json.dumps(prepared))
    forged["events"][0]["event"]["data"] = {"a": 2}
    result = CliRunner().invoke(cli, ["keys", "sign-event", "--key", str(key_file)], input=json.dumps(forged))
    assert result.exit_code != 0 and "hash does not match its content" in result.output


async def test_a_party_key_made_on_the_partys_machine_is_published_without_its_private_half(
    tmp_path: Path, nats_server: EmbeddedNatsServer, stream_spec: StreamSpec, nats_client: NATS
) -> None:
    env = environment(PARLEY_HOME=str(tmp_path / "home"), PARLEY_NATS_URL=nats_server.app_url,
                      PARLEY_STREAM=stream_spec.name, PARLEY_SUBJECT_PREFIX=stream_spec.subject_prefix)
    try:
        for args in (("party", "add", "USA", "United States"), ("keys", "create", "USA")):
            result = parley(*args, env=env)
            assert result.returncode == 0, result.stderr
        server_pub = (tmp_path / "home" / "keys" / "USA.pub").read_text().strip()
        party = environment(PARLEY_HOME=str(tmp_path / "party"))  # the party's machine: no server at all
        generated = parley("keys", "generate", "USA", "--out", str(tmp_path / "usa.key"), env=party)
        assert generated.returncode == 0, generated.stderr
        assert stat.S_IMODE((tmp_path / "usa.key").stat().st_mode) == 0o600
        public = generated.stdout.strip()
        assert public == SignerKey.parse((tmp_path / "usa.key").read_text()).verifier.encode()
        (tmp_path / "usa.pub").write_text(public + "\n")

        result = parley("keys", "create", "USA", "--public", str(tmp_path / "usa.pub"), env=env)
        assert result.returncode == 0, result.stderr
        server_id, client_id = server_pub.split("+")[1], public.split("+")[1]
        assert f"USA: public key {client_id} published" in result.stdout
        assert f"retired key {server_id} held here" in result.stdout
        keys_dir = tmp_path / "home" / "keys"
        assert not (keys_dir / "USA.key").exists() and (keys_dir / "retired" / f"USA-{server_id}.key").exists()
        assert not any("PRIVATE" in f.read_text() and client_id in f.read_text() for f in keys_dir.rglob("*.key"))
        listed = [json.loads(line) for line in parley("keys", "list", env=env).stdout.splitlines()]
        assert [(e["type"], e["key_id"]) for e in listed] == [
            ("parley.key.published.v1", server_id), ("parley.key.published.v1", client_id), ("parley.key.retired.v1", server_id)]
        refused = parley("keys", "create", "system", "--public", str(tmp_path / "usa.pub"), env=env)
        assert refused.returncode != 0 and "the server must hold it" in refused.stderr
    finally:
        with contextlib.suppress(Exception):
            await nats_client.jetstream().delete_stream(stream_spec.name)
