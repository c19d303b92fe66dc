"""Schemathesis against a live `parley serve --projector` process: every operation of
/openapi.json, fed generated (valid and invalid) input with the tokens of several roles, never
answers 5xx, always answers 4xx with problem+json, and conforms to its own documented schema.

Bounded (`MAX_EXAMPLES` per operation, derandomised) so the whole module runs in well under 90 s.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
import zlib
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from tests.e2e.cli_process import PARLEY, environment, free_port

MAX_EXAMPLES = 3


def _wait_healthy(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("parley serve did not start")


@pytest.fixture(scope="module")
def live(nats_server: EmbeddedNatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A live API with parties USA, RUS, UKR and tokens of an admin, an officer, an observer and an auditor."""
    home: Path = tmp_path_factory.mktemp("fuzz")
    token = uuid.uuid4().hex[:10]
    stream = f"F{token}"
    port = free_port()
    env = environment(
        PARLEY_HOME=str(home / "home"), PARLEY_NATS_URL=nats_server.app_url, PARLEY_STREAM=stream,
        PARLEY_SUBJECT_PREFIX=f"f{token}", PARLEY_HTTP_PORT=str(port), PARLEY_RATE_LIMIT_PER_SECOND="0",
    )
    log = open(home / "serve.log", "w")  # a file, not a pipe: nobody reads while the server logs
    process = subprocess.Popen([str(PARLEY), "serve", "--projector"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, home / "serve.log")
        admin = {"Authorization": f"Bearer {(home / 'home' / 'admin.token').read_text().strip()}"}
        with httpx.Client(base_url=url, headers=admin) as client:
            for code in ("USA", "RUS", "UKR"):
                assert client.post("/api/v1/parties", json={"code": code, "name": code}).status_code == 201
                r = client.post(f"/api/v1/parties/{code}/officers", json={"id": f"{code.lower()}-duty", "name": "duty"})
                assert r.status_code == 201, r.text
            tokens = {"admin": admin}
            for role, body in (("officer", {"party": "USA", "officer_id": "usa-duty"}),
                               ("observer", {"party": "RUS", "officer_id": "rus-duty"}), ("auditor", {})):
                r = client.post("/api/v1/tokens", json={"role": role, **body})
                assert r.status_code == 201, r.text
                tokens[role] = {"Authorization": f"Bearer {r.json()['token']}"}
            officer = {**tokens["officer"]}
            incident = client.post("/api/v1/incidents", headers=officer, json={"parties": ["RUS"], "account": {
                "kind": "unsafe_encounter_air", "severity": 3, "started_at": "2024-05-01T10:00:00Z",
                "ended_at": "2024-05-01T10:10:00Z", "place": "Black Sea"}})
            assert incident.status_code == 201, incident.text
        yield {"url": url, "tokens": tokens, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

        async def drop() -> None:
            nc = await connect(nats_server.admin_url, name="fuzz-cleanup")
            try:
                await nc.jetstream().delete_stream(stream)
            except Exception:  # noqa: BLE001 - best effort: the stream may not exist
                pass
            await nc.close()

        asyncio.run(drop())


ROLES = ("admin", "officer", "observer", "auditor", None)


def check_case(case: schemathesis.Case, live: dict[str, object]) -> None:
    tokens: dict[str, dict[str, str]] = live["tokens"]  # type: ignore[assignment]
    # a role chosen by the case itself, so each operation is tried with several (and with none)
    role = ROLES[zlib.crc32(repr((case.method, case.path, case.body, case.query, case.path_parameters)).encode()) % len(ROLES)]
    headers = {**(case.headers or {}), **(tokens[role] if role else {})}
    response = case.call(base_url=str(live["url"]), headers=headers, timeout=30)
    assert response.status_code < 500, f"{role}: {case.as_curl_command()} -> {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type == "application/problem+json", (role, response.status_code, response.text[:300])
        body = response.json()
        assert body["status"] == response.status_code and body["type"].startswith("https://") and body["detail"]
    case.validate_response(
        response,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


def test_no_server_errors_and_problem_json_on_every_4xx(live: dict[str, object]) -> None:
    """Every operation, valid and invalid input; failures of all operations are reported at once."""
    api = schemathesis.openapi.from_url(f"{live['url']}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            def run(case: schemathesis.Case) -> None:
                check_case(case, live)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as error:  # noqa: BLE001 - collected and reported below
                failures.append(f"{operation.label} ({mode.value}): {type(error).__name__}: {str(error)[:600]}")
    assert operations >= 20
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n\n".join(failures)
