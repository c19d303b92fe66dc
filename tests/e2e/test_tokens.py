"""Token lifecycle: created with an expiry and a role/party scope, shown once, stored hashed,
listed without secrets, revoked with effect on the very next request, in another API process too."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.runtime import Runtime
from adapters.settings import Settings
from adapters.sql.tables import api_tokens
from core.identity import Role
from tests.e2e.cli_process import PARLEY, environment, free_port
from tests.e2e.conftest import Actors, altered, bearer


async def test_a_token_is_shown_once_stored_hashed_and_listed_without_secret(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    r = await api.post("/api/v1/tokens", json={"role": "observer", "party": "USA", "officer_id": "usa-duty",
                                               "label": "watch floor", "expires_in_days": 7}, headers=actors.admin)
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith(f"prl_{created['id']}_")
    assert created["role"] == "observer" and created["party"] == "USA" and created["officer_id"] == "usa-duty"
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    listed = (await api.get("/api/v1/tokens", headers=actors.admin)).json()["items"]
    mine = [t for t in listed if t["id"] == created["id"]]
    assert mine and "token" not in mine[0] and "secret_hash" not in mine[0]
    assert secret.split("_", 2)[2] not in str(listed)

    async with runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == created["id"]))).one()
    assert secret.split("_", 2)[2] not in str(tuple(row)) and len(row.secret_hash) == 64

    # scoped: an observer reads its party's records and can write nothing
    assert (await api.get("/api/v1/incidents", headers=bearer(secret))).status_code == 200
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": {}}, headers=bearer(secret))
    assert r.status_code == 403 and r.json()["type"].endswith("/access-denied")


async def test_an_expired_token_is_refused(runtime: Runtime, api: httpx.AsyncClient) -> None:
    secret, info = await runtime.tokens.create(role=Role.AUDITOR, party=None, officer_id=None, expires_in=timedelta(days=1))
    assert await runtime.tokens.verify(secret) is not None
    assert await runtime.tokens.verify(secret, now=datetime.now(UTC) + timedelta(days=1, seconds=1)) is None
    past, _ = await runtime.tokens.create(role=Role.AUDITOR, party=None, officer_id=None, expires_in=timedelta(days=1),
                                          now=datetime.now(UTC) - timedelta(days=2))
    r = await api.get("/api/v1/incidents", headers=bearer(past))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_a_wrong_secret_for_a_real_token_id_is_refused(runtime: Runtime, api: httpx.AsyncClient) -> None:
    secret, info = await runtime.tokens.create(role=Role.ADMIN, party=None, officer_id=None)
    forged = f"prl_{info.id}_{'A' * 43}"
    assert (await api.get("/api/v1/tokens", headers=bearer(forged))).status_code == 401
    assert (await api.get("/api/v1/tokens", headers=bearer(secret))).status_code == 200


#: The second process's token cache lifetime: far beyond `NOTICE_WITHIN`, so a refusal in time
#: proves the NATS notice, not the cache's expiry.
NOTICE_ONLY_CACHE_SECONDS = 120
#: How long a revocation notice may take to reach the other process (milliseconds when idle; the
#: suite runs on two busy workers).
NOTICE_WITHIN = 3.0


async def refused_soon(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    """The first answer to `secret` that is not 200, asked until `NOTICE_WITHIN` has passed.

    The revocation is committed and announced (the NATS server has the notice) before the revoke
    returns, but the server hands the notice to the other process asynchronously, so a request
    sent at that very moment may still find the token cached there (adapters/token_cache.py)."""
    deadline = time.monotonic() + NOTICE_WITHIN
    while True:
        r = await client.get("/api/v1/parties", headers=bearer(secret))
        if r.status_code != 200 or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.01)


@pytest.fixture
def second_process(settings: Settings, nats_server: EmbeddedNatsServer, tmp_path: Path, runtime: Runtime):  # noqa: ANN201
    """`parley serve` in its own process, on the same NATS stream and database as `runtime`."""
    port = free_port()
    env = environment(
        PARLEY_HOME=str(tmp_path / "second"), PARLEY_NATS_URL=nats_server.app_url,
        PARLEY_DATABASE_URL=settings.resolved_database_url, PARLEY_STREAM=settings.stream,
        PARLEY_SUBJECT_PREFIX=settings.subject_prefix, PARLEY_HTTP_PORT=str(port),
        # cached verifications outlive every test here: only a revocation notice can end one
        PARLEY_TOKEN_CACHE_SECONDS=str(NOTICE_ONLY_CACHE_SECONDS),
    )
    log_path = tmp_path / "second.log"
    log = open(log_path, "w")  # a file, not a pipe: nobody reads while the server logs
    process = subprocess.Popen([str(PARLEY), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the second API process did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_a_revoked_token_fails_on_the_next_request_in_a_second_api_process(
    api: httpx.AsyncClient, actors: Actors, second_process: str
) -> None:
    r = await api.post("/api/v1/tokens", json={"role": "auditor", "label": "to revoke"}, headers=actors.admin)
    token_id, secret = r.json()["id"], r.json()["token"]
    async with httpx.AsyncClient(base_url=second_process) as other:
        assert (await other.get("/api/v1/parties", headers=bearer(secret))).status_code == 200
        r = await api.delete(f"/api/v1/tokens/{token_id}", headers=actors.admin)
        assert r.status_code == 204
        r = await refused_soon(other, secret)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert "revoked" in r.json()["detail"]
    listed = {t["id"]: t for t in (await api.get("/api/v1/tokens", headers=actors.admin)).json()["items"]}
    assert listed[token_id]["revoked_at"] is not None
    assert (await api.delete(f"/api/v1/tokens/{token_id}", headers=actors.admin)).status_code == 404


async def test_a_stream_ticket_issued_by_one_api_process_opens_the_stream_on_another(
    api: httpx.AsyncClient, actors: Actors, second_process: str
) -> None:
    r = await api.post("/api/v1/session/stream-ticket", headers=actors.usa)
    assert r.status_code == 201 and r.json()["expires_in"] == 60
    ticket = r.json()["ticket"]
    async with httpx.AsyncClient(base_url=second_process, timeout=10) as other:
        async with other.stream("GET", "/api/v1/hotline/stream", params={"ticket": ticket}) as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
        r = await other.get("/api/v1/hotline/stream", params={"ticket": altered(ticket)})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


async def test_parley_token_revoke_reaches_an_api_process_that_cached_the_token(
    api: httpx.AsyncClient, actors: Actors, second_process: str, settings: Settings, nats_server: EmbeddedNatsServer,
    tmp_path: Path,
) -> None:
    """API processes reuse verified tokens (adapters/token_cache.py); the CLI announces its
    revocation over NATS like the API does, so the cached token is refused as soon as the notice
    arrives (long before the cache entry would expire)."""
    r = await api.post("/api/v1/tokens", json={"role": "auditor", "label": "revoked by the CLI"}, headers=actors.admin)
    token_id, secret = r.json()["id"], r.json()["token"]
    env = environment(
        PARLEY_HOME=str(tmp_path / "cli"), PARLEY_NATS_URL=nats_server.app_url,
        PARLEY_DATABASE_URL=settings.resolved_database_url, PARLEY_STREAM=settings.stream,
        PARLEY_SUBJECT_PREFIX=settings.subject_prefix,
    )
    async with httpx.AsyncClient(base_url=second_process) as other:
        assert (await other.get("/api/v1/parties", headers=bearer(secret))).status_code == 200  # now cached there
        revoked = subprocess.run([str(PARLEY), "token", "revoke", token_id], env=env, capture_output=True, text=True, timeout=60)
        assert revoked.returncode == 0 and f"revoked {token_id}" in revoked.stdout, revoked.stderr
        assert "warning" not in revoked.stderr, revoked.stderr
        r = await refused_soon(other, secret)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]

    # Without NATS the revocation still stands, and the command says how long caches may keep it.
    r = await api.post("/api/v1/tokens", json={"role": "auditor", "label": "revoked offline"}, headers=actors.admin)
    offline = {**env, "PARLEY_NATS_URL": "nats://127.0.0.1:1"}
    revoked = subprocess.run([str(PARLEY), "token", "revoke", r.json()["id"]], env=offline, capture_output=True,
                             text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    assert "warning: running API processes were not told" in revoked.stderr and " 5 s" in revoked.stderr
    assert (await api.get("/api/v1/parties", headers=bearer(r.json()["token"]))).status_code == 401
