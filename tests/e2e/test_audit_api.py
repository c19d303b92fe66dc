"""Signed events, checkpoints, proofs and a witness, through the API of a whole Parley."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import httpx

from adapters.integrity.keys_admin import create_key
from adapters.integrity.settings import AuditSettings
from adapters.integrity.stream_check import verify_stream
from adapters.integrity.wiring import audit_log, ensure_system_key, key_directory, open_notary
from adapters.integrity.http_check import verify_over_http
from adapters.integrity.witness import WitnessError, witness_once
from adapters.runtime import Runtime
from core.envelope import Event, seal
from core.identity import Principal, Role
from core.ports import AggregateRef
from core.integrity.checkpoint import open_checkpoint, parse_checkpoint
from core.integrity.merkle import event_leaf_hash, verify_consistency, verify_inclusion
from tests.e2e.conftest import Actors, account

import pytest

ADMIN = Principal(actor="tests", role=Role.ADMIN)


async def _report(api: httpx.AsyncClient, actors: Actors) -> None:
    r = await api.post("/api/v1/incidents", json={"parties": ["USA", "RUS"], "account": account()}, headers=actors.usa)
    assert r.status_code == 201, r.text


async def _stored(api: httpx.AsyncClient, actors: Actors) -> list[dict]:
    r = await api.get("/api/v1/events", params={"after": 0, "limit": 1000}, headers=actors.auditor)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_officer_events_are_signed_and_proofs_verify_against_the_checkpoint(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, tmp_path: Path
) -> None:
    r = await api.get("/api/v1/audit/checkpoint", headers=actors.auditor)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")

    await ensure_system_key(runtime)
    await create_key(runtime.app, key_directory(runtime), holder="USA", origin=AuditSettings().origin(runtime.settings), by=ADMIN)
    await _report(api, actors)
    items = await _stored(api, actors)
    report = items[-1]
    assert report["event"]["party"] == "USA" and report["event"]["signature"].startswith("USA ")

    notary = open_notary(runtime)
    await notary.start()
    await notary.tree.catch_up()
    await notary.publish()
    r = await api.get("/api/v1/audit/checkpoint", headers=actors.usa)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    system_key = key_directory(runtime).active("system")
    first = open_checkpoint(r.text, system_key.verifier).checkpoint
    assert first.size == report["seq"]

    r = await api.get("/api/v1/audit/proofs/inclusion", params={"seq": report["seq"]}, headers=actors.auditor)
    assert r.status_code == 200, r.text
    proof = r.json()
    leaf = event_leaf_hash(report["seq"], report["event"]["hash"])
    assert base64.b64decode(proof["leaf_hash"]) == leaf
    verify_inclusion(report["seq"] - 1, first.size, leaf, [base64.b64decode(h) for h in proof["hashes"]], first.root)

    # the witness (USA) co-signs the first checkpoint, then a later one after a consistency proof
    usa_key = tmp_path / "usa.key"
    usa_key.write_text((key_directory(runtime).path / "USA.key").read_text())
    state = tmp_path / "witness.json"
    result = await witness_once(api="", token=actors.usa["Authorization"].split()[1], key_file=usa_key,
                                state_file=state, log_key=system_key.verifier.encode(), client=api)
    assert result.endswith(f"at size {first.size} as USA (first checkpoint seen)")

    await _report(api, actors)
    await notary.tree.catch_up()
    await notary.publish()
    r = await api.get("/api/v1/audit/proofs/consistency", params={"first": first.size, "second": first.size + 1}, headers=actors.rus)
    assert r.status_code == 200, r.text
    hashes = [base64.b64decode(h) for h in r.json()["hashes"]]
    second = parse_checkpoint((await api.get("/api/v1/audit/checkpoint", headers=actors.rus)).text).checkpoint
    verify_consistency(first.size, second.size, hashes, first.root, second.root)
    result = await witness_once(api="", token=actors.usa["Authorization"].split()[1], key_file=usa_key,
                                state_file=state, log_key=None, client=api)
    assert result.endswith(f"at size {second.size} as USA (consistent with size {first.size})")
    assert json.loads(state.read_text())["size"] == second.size
    again = await witness_once(api="", token=actors.usa["Authorization"].split()[1], key_file=usa_key,
                               state_file=state, log_key=None, client=api)
    assert again.endswith(f"at size {second.size}; nothing new")

    verified = await verify_stream(runtime.nc, runtime.store, audit_log(runtime))
    assert verified.problems == []
    assert verified.checkpoints == 4  # two checkpoints, each also co-signed by USA
    over_http = await verify_over_http(api, token=actors.auditor["Authorization"].split()[1])
    assert over_http.problems == [] and over_http.checkpoints == 4 and over_http.events == verified.events

    # an event forged straight onto the stream (bypassing the API): a fresh hash, but no USA signature
    forged = Event.from_dict(report["event"])
    forged = seal(replace(forged, id="forged-1", aggversion=forged.aggversion + 1, data={**forged.data, "parties": ["USA"]}),
                  prevhash=forged.hash)
    subject = runtime.store.spec.subject_for(AggregateRef(type=forged.aggtype, id=forged.subject))
    ack = await runtime.nc.jetstream().publish(subject, forged.to_json(), stream=runtime.store.spec.name)
    for result in (await verify_stream(runtime.nc, runtime.store, audit_log(runtime)),
                   await verify_over_http(api, token=actors.auditor["Authorization"].split()[1])):
        assert [(p.seq, p.what) for p in result.problems] == [(ack.seq, "unsigned, although USA had a published signing key")]


async def test_proof_requests_out_of_range_are_problems(api: httpx.AsyncClient, actors: Actors) -> None:
    r = await api.get("/api/v1/audit/proofs/consistency", params={"first": 5, "second": 2}, headers=actors.auditor)
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    r = await api.get("/api/v1/audit/proofs/inclusion", params={"seq": 1, "size": 10_000}, headers=actors.auditor)
    assert r.status_code == 404 and "fewer than 10000" in r.json()["detail"]
    r = await api.get("/api/v1/audit/proofs/inclusion", params={"seq": 1, "size": 1})
    assert r.status_code == 401


async def test_a_cosignature_by_a_party_without_a_key_is_refused(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, tmp_path: Path
) -> None:
    await ensure_system_key(runtime)
    notary = open_notary(runtime)
    await notary.start()
    await notary.tree.catch_up()
    signed = await notary.publish()
    from core.integrity.notes import SignerKey

    forged = signed.cosign(SignerKey.generate("RUS")).encode()
    r = await api.post("/api/v1/audit/cosignatures", content=forged, headers={**actors.rus, "Content-Type": "text/plain"})
    assert r.status_code in (400, 422), r.text
    assert "no valid signature by a published key of RUS" in r.json()["detail"]


async def test_a_witness_refuses_a_checkpoint_signed_by_another_log_key(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, tmp_path: Path
) -> None:
    await ensure_system_key(runtime)
    notary = open_notary(runtime)
    await notary.start()
    await notary.tree.catch_up()
    await notary.publish()
    from core.integrity.notes import SignerKey

    key = tmp_path / "usa.key"
    key.write_text(SignerKey.generate("USA").encode())
    other = SignerKey.generate(AuditSettings().origin(runtime.settings)).verifier.encode()
    with pytest.raises(WitnessError, match="does not verify"):
        await witness_once(api="", token=actors.usa["Authorization"].split()[1], key_file=key,
                           state_file=tmp_path / "w.json", log_key=other, client=api)
    assert not (tmp_path / "w.json").exists()


async def test_an_evidence_bundle_from_the_api_verifies_offline_and_a_changed_byte_does_not(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, tmp_path: Path
) -> None:
    import io
    import zipfile

    from tests.e2e.cli_process import environment, parley

    await ensure_system_key(runtime)
    for code in ("USA", "RUS"):
        await create_key(runtime.app, key_directory(runtime), holder=code, origin=AuditSettings().origin(runtime.settings), by=ADMIN)
    r = await api.post("/api/v1/incidents", json={"parties": ["USA", "RUS"], "account": account()}, headers=actors.usa)
    assert r.status_code == 201, r.text
    incident_id = r.json()["id"]
    await _report(api, actors)  # another incident: not in the bundle

    r = await api.get(f"/api/v1/audit/evidence/{incident_id}", headers=actors.usa)
    assert r.status_code == 403
    r = await api.get(f"/api/v1/audit/evidence/{incident_id}", headers=actors.auditor)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    events = [json.loads(archive.read(n)) for n in names if n.startswith("events/")]
    assert {(e["aggtype"], e["subject"]) for e in events} >= {("incident", incident_id), ("party", "USA"), ("party", "RUS"), ("key", "system")}
    assert all(not (e["aggtype"] == "incident" and e["subject"] != incident_id) for e in events)
    bundle_path = tmp_path / "bundle.zip"
    bundle_path.write_bytes(r.content)

    offline = environment(PARLEY_HOME=str(tmp_path / "empty"))  # no NATS, no database
    result = parley("verify-bundle", str(bundle_path), env=offline)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("everything verifies")
    assert f"incident {incident_id}: {len(events)} events" in result.stdout

    report_name = next(n for n in names if n.startswith("events/") and json.loads(archive.read(n))["subject"] == incident_id)
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(changed, "w") as out:
        for name in names:
            data = archive.read(name)
            out.writestr(name, data.replace(b'"severity":4', b'"severity":3') if name == report_name else data)
    result = parley("verify-bundle", str(changed), env=offline)
    assert result.returncode == 1
    assert f"PROBLEM log {report_name}: changed: its SHA-256 differs from the manifest" in result.stdout
    assert "hash does not match" in result.stdout


async def test_a_witness_refuses_a_log_that_does_not_extend_what_it_cosigned(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, tmp_path: Path
) -> None:
    await ensure_system_key(runtime)
    await create_key(runtime.app, key_directory(runtime), holder="USA", origin=AuditSettings().origin(runtime.settings), by=ADMIN)
    notary = open_notary(runtime)
    await notary.start()
    await notary.tree.catch_up()
    await notary.publish()
    size = notary.certified
    await _report(api, actors)
    await notary.tree.catch_up()
    await notary.publish()
    key = tmp_path / "usa.key"
    key.write_text((key_directory(runtime).path / "USA.key").read_text())
    state = tmp_path / "w.json"
    # what this witness co-signed earlier: size `size` with another root (the log was rewritten since)
    remembered = {"log_key": key_directory(runtime).active("system").verifier.encode(), "size": size,  # type: ignore[union-attr]
                  "root": base64.b64encode(bytes(32)).decode()}
    state.write_text(json.dumps(remembered))
    with pytest.raises(WitnessError, match=f"is NOT consistent with the one co-signed at size {size}"):
        await witness_once(api="", token=actors.usa["Authorization"].split()[1], key_file=key,
                           state_file=state, log_key=None, client=api)
    assert json.loads(state.read_text()) == remembered
    r = await api.get("/api/v1/audit/checkpoints", headers=actors.auditor)
    assert [item["kind"] for item in r.json()["items"]] == ["checkpoint", "checkpoint"]  # nothing co-signed
