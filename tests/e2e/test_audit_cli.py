"""`parley keys`, `notary --once` and `verify` as a user runs them, against a real nats-server."""

from __future__ import annotations

import json
import stat
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.audit_stream import AuditSpec
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from tests.e2e.cli_process import environment, parley


@pytest.fixture
def env(tmp_path: Path, nats_server: EmbeddedNatsServer, stream_spec: StreamSpec) -> dict[str, str]:
    """SQLite only: these commands do not depend on the read-model database."""
    return environment(
        PARLEY_HOME=str(tmp_path / "home"), PARLEY_NATS_URL=nats_server.app_url,
        PARLEY_STREAM=stream_spec.name, PARLEY_SUBJECT_PREFIX=stream_spec.subject_prefix,
        PARLEY_AUDIT_ORIGIN="parley.test/cli",
    )


def ok(result) -> str:  # noqa: ANN001
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_keys_notary_and_verify_from_the_command_line(
    env: dict[str, str], tmp_path: Path, nats_client: NATS, stream_spec: StreamSpec
) -> None:
    out = ok(parley("keys", "create", "system", env=env))
    assert out.startswith("system: key ") and "published at sequence 1" in out
    assert out.strip().splitlines()[-1].startswith("parley.test/cli+")
    private = tmp_path / "home" / "keys" / "system.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700

    refused = parley("keys", "create", "USA", env=env)
    assert refused.returncode == 1 and refused.stderr.strip() == "error: party USA is not registered; register it before giving it a key"
    ok(parley("party", "add", "USA", "United States", env=env))
    ok(parley("keys", "create", "USA", env=env))
    rotated = ok(parley("keys", "create", "USA", env=env))
    assert "retired key" in rotated

    note = ok(parley("notary", "--once", env=env))
    assert note.startswith("parley.test/cli\n5\n") and "\n\n\u2014 parley.test/cli " in note

    listed = [json.loads(line) for line in ok(parley("keys", "list", env=env)).strip().splitlines()]
    assert [(e["seq"], e["type"], e["holder"]) for e in listed] == [
        (1, "parley.key.published.v1", "system"), (3, "parley.key.published.v1", "USA"),
        (4, "parley.key.published.v1", "USA"), (5, "parley.key.retired.v1", "USA"),
    ]
    verified = ok(parley("verify", "--quiet", env=env))
    assert verified.strip() == "5 events up to sequence 5, 4 signed, 3 aggregates, 1 checkpoints: everything verifies"

    # an edited copy of the history (as restored from a doctored backup) fails, naming the event
    copy = StreamSpec(name=f"T{uuid.uuid4().hex[:12]}", subject_prefix=f"t{uuid.uuid4().hex[:12]}")
    js = nats_client.jetstream()
    await js.add_stream(replace(copy.config(), deny_delete=False))
    await js.add_stream(AuditSpec.beside(copy).config())
    source = JetStreamEventStore(nc=nats_client, spec=stream_spec)
    async for message in source.read_raw():
        data = message.data.replace(b'"name":"United States"', b'"name":"United Statez"')
        await js.publish(copy.subject_prefix + message.subject[len(stream_spec.subject_prefix):], data, stream=copy.name)
    await source.close()
    await js.publish(AuditSpec.beside(copy).checkpoint_subject, note.encode(), stream=AuditSpec.beside(copy).name)
    tampered = parley("verify", "--quiet", env={**env, "PARLEY_STREAM": copy.name, "PARLEY_SUBJECT_PREFIX": copy.subject_prefix})
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    lines = tampered.stdout.strip().splitlines()
    assert lines[0] == f"PROBLEM seq 2 {copy.subject_prefix}.ev.party.USA: hash does not match the content " + lines[0].split("content ", 1)[1]
    assert any(line.startswith(f"PROBLEM seq 2 {copy.subject_prefix}.ev.party.USA: signature by system key") for line in lines)
    assert lines[-1].endswith("problem(s)")
    for name in (copy.name, AuditSpec.beside(copy).name):
        await js.delete_stream(name)

    missing = parley("verify", env={**env, "PARLEY_STREAM": "NOPE"})
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: there is no stream NOPE on this NATS server (PARLEY_STREAM)"
