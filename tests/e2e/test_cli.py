"""The `parley` CLI against a real nats-server and database: tokens, import, digest, replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.stream import StreamSpec
from tests.e2e.cli_process import environment, parley


@pytest.fixture
def env(tmp_path: Path, nats_server: EmbeddedNatsServer, stream_spec: StreamSpec, database_url: str) -> dict[str, str]:
    return environment(
        PARLEY_HOME=str(tmp_path / "home"), PARLEY_NATS_URL=nats_server.app_url, PARLEY_DATABASE_URL=database_url,
        PARLEY_STREAM=stream_spec.name, PARLEY_SUBJECT_PREFIX=stream_spec.subject_prefix,
    )


def ok(result) -> str:  # noqa: ANN001
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_token_create_prints_the_secret_alone_on_the_last_line(env: dict[str, str]) -> None:
    ok(parley("party", "add", "USA", "United States", env=env))
    ok(parley("party", "officer", "USA", "usa-duty", "LCDR Smith", env=env))
    out = ok(parley("token", "create", "--role", "officer", "--party", "USA", "--officer", "usa-duty", env=env))
    last = out.strip().splitlines()[-1]
    assert last.startswith("prl_") and " " not in last
    listed = ok(parley("token", "list", env=env))
    assert last not in listed and '"party": "USA"' in listed
    token_id = json.loads(listed.strip().splitlines()[-1])["id"]
    assert "revoked" in ok(parley("token", "revoke", token_id, env=env))


def test_cli_errors_are_one_readable_line_and_a_nonzero_exit(env: dict[str, str]) -> None:
    ok(parley("party", "add", "USA", "United States", env=env))
    again = parley("party", "add", "USA", "United States", env=env)
    assert again.returncode == 1
    assert again.stderr.strip() == "error: party USA is already registered (as 'United States')"
    missing = parley("token", "create", "--role", "officer", "--party", "USA", "--officer", "ghost", env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: party USA has no officer ghost"
    bad_code = parley("party", "add", "usa", "lowercase", env=env)
    assert bad_code.returncode == 1 and "Traceback" not in bad_code.stderr and len(bad_code.stderr.strip().splitlines()) == 1


IMPORT = [
    {"command": "register_party", "code": "IND", "name": "India"},
    {"command": "register_party", "code": "PAK", "name": "Pakistan"},
    {"command": "register_officer", "party": "IND", "id": "ind-dgmo", "name": "DGMO duty officer"},
    {"command": "report_incident", "party": "IND", "officer": "ind-dgmo", "id": "ind-2020-0001",
     "time": "2020-01-03T08:00:00Z", "parties": ["PAK"],
     "account": {"kind": "ceasefire_violation", "severity": 3, "started_at": "2020-01-03T05:10:00Z",
                 "ended_at": "2020-01-03T06:00:00Z", "place": "Poonch sector", "initiator": "PAK"}},
    {"command": "report_incident", "party": "IND", "officer": "ind-dgmo", "parties": ["XXX"],
     "account": {"kind": "ceasefire_violation", "severity": 3, "started_at": "2020-01-04T05:10:00Z",
                 "ended_at": "2020-01-04T06:00:00Z", "place": "Poonch"}},
    {"command": "acknowledge_incident", "party": "PAK", "officer": "pak-dgmo", "incident": "ind-2020-0001",
     "time": "2020-01-03T12:00:00Z"},
    {"command": "register_officer", "party": "PAK", "id": "pak-dgmo", "name": "DGMO duty officer"},
    {"command": "acknowledge_incident", "party": "PAK", "officer": "pak-dgmo", "incident": "ind-2020-0001",
     "time": "2020-01-03T12:00:00Z"},
]


def test_import_reports_bad_lines_by_number_and_appends_nothing_for_them(env: dict[str, str], tmp_path: Path) -> None:
    lines = [json.dumps(item) for item in IMPORT]
    lines.insert(2, "{not json")
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = parley("import", str(path), env=env)
    assert result.returncode == 1
    assert "line 3: not valid JSON" in result.stderr
    assert "line 6: unknown party: XXX" in result.stderr
    assert "line 7: party PAK has no officer pak-dgmo" in result.stderr
    assert "imported 6 command(s), 3 line(s) refused" in result.stdout
    ok(parley("project", "--once", env=env))
    first = ok(parley("digest", env=env)).strip()
    assert len(first) == 64
    # the backfilled times are in the events, flagged as such
    replay_db = f"sqlite:///{tmp_path / 'replay.db'}"
    replayed = ok(parley("replay", "--database-url", replay_db, env=env)).strip().splitlines()
    assert replayed[-1] == first
    assert "replayed up to sequence 6" in "\n".join(replayed)
    partial = ok(parley("replay", "--database-url", f"sqlite:///{tmp_path / 'partial.db'}", "--until-seq", "3", env=env))
    assert partial.strip().splitlines()[-1] != first
    refused = parley("replay", "--database-url", replay_db, env=env)
    assert refused.returncode == 1 and "already holds projected data" in refused.stderr
