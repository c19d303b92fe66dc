"""Logs: JSON lines with the request's correlation id, every denial with who, what and why, and
never a secret (API tokens, NATS passwords, database passwords), checked by capturing them."""

from __future__ import annotations

import io
import json
import logging
from typing import Any, Iterator

import httpx
import pytest
import structlog

from adapters import logs
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    logs.configure(fmt="json", level="info", stream=buffer)
    yield buffer
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_parley", False):
            root.removeHandler(handler)
    structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


async def test_every_denial_is_logged_with_who_what_and_why_and_no_secret(
    api: httpx.AsyncClient, actors: Actors, runtime: Runtime, nats_server: EmbeddedNatsServer, captured: io.StringIO
) -> None:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.usa)
    incident = r.json()["id"]
    bogus = "prl_abcdef012345_THIS-IS-A-GUESSED-SECRET-VALUE"
    attempts = [
        ("GET", "/api/v1/incidents", {}, 401, "token is required"),
        ("GET", "/api/v1/incidents", {"Authorization": f"Bearer {bogus}"}, 401, "unknown, expired or revoked"),
        ("POST", "/api/v1/parties", actors.usa, 403, "needs the role admin"),
        ("GET", f"/api/v1/incidents/{incident}", actors.ukr, 404, "not involved"),
        ("POST", f"/api/v1/incidents/{incident}/retract", actors.rus, 403, "only the reporting party"),
    ]
    for method, path, headers, status, _ in attempts:
        body = {"reason": "x"} if path.endswith("retract") else ({"code": "FRA", "name": "France"} if method == "POST" else None)
        response = await api.request(method, path, json=body, headers={**headers, "X-Correlation-Id": f"corr-{status}-{len(path)}"})
        assert response.status_code == status, response.text
        assert response.headers["x-correlation-id"] == f"corr-{status}-{len(path)}"
    # the module's own loggers and the standard library's go the same way:
    logging.getLogger("adapters.jetstream.connect").warning(
        "nats parley: could not reach nats://parley:%s@127.0.0.1:4222", nats_server.credentials.app.password
    )
    structlog.get_logger("parley.test").info(
        "started", database_url="postgresql://parley:db-pass-123@db/parley", nats_password="hunter2-nats", token=secret_of(actors.admin)
    )

    records = lines(captured)
    denied = [e for e in records if e["event"] == "denied"]
    for (method, path, headers, status, why), entry in zip(attempts, denied, strict=True):
        assert entry["status"] == status and entry["method"] == method and entry["path"] == path
        assert why in entry["why"]
        assert entry["correlation_id"] == f"corr-{status}-{len(path)}"
        assert entry["level"] == "warning" and entry["timestamp"]
    assert denied[0]["token_id"] is None
    assert denied[2]["role"] == "officer" and denied[2]["party"] == "USA" and denied[2]["token_id"]
    assert denied[3]["party"] == "UKR"
    requests = [e for e in records if e["event"] == "request"]
    assert requests and all(e.get("correlation_id") for e in requests)

    text = captured.getvalue()
    secrets = [secret_of(h).split("_", 2)[2] for h in (actors.admin, actors.usa, actors.rus, actors.ukr, actors.auditor)]
    secrets += ["THIS-IS-A-GUESSED-SECRET-VALUE", nats_server.credentials.app.password, "db-pass-123", "hunter2-nats"]
    for secret in secrets:
        assert secret not in text
    assert "postgresql://parley:***@db/parley" in text and "nats://parley:***@127.0.0.1:4222" in text


def test_console_format_is_readable_text() -> None:
    buffer = io.StringIO()
    logs.configure(fmt="console", stream=buffer)
    try:
        structlog.get_logger("parley.test").info("hello", password="pw-should-vanish", correlation_id="abc")
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_parley", False):
                logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()
    out = buffer.getvalue()
    assert "hello" in out and "correlation_id=abc" in out and "pw-should-vanish" not in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_redaction_of_free_text() -> None:
    assert logs.redact_text("Bearer prl_0a1b2c_S3CR3T") == "Bearer ***"
    assert logs.redact_text("token prl_0a1b2c_S3CR3T used") == "token prl_0a1b2c_*** used"
    assert logs.redact_text("nats://u:p@h:1 and postgresql://x:y@db/z") == "nats://u:***@h:1 and postgresql://x:***@db/z"
