"""PostgreSQL crashes (pg_ctl stop -m immediate) and restarts while the projector is projecting
a stream that keeps growing, with an API process on the same database.

While the database is down, the API answers 503 + Retry-After (problem+json) and `/readyz` says
why; the projector stays up and retries. Once PostgreSQL is back both recover by themselves:
the read models end equal to a clean rebuild of the stream (nothing lost, nothing twice).
This PostgreSQL is the test's own (initdb in a temp dir, a free port), never the shared one.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.sql.migrate import migrate
from tests.e2e.cli_process import free_port
from tests.e2e.conftest import bearer
from tests.faults.processes import (
    Appender, CheckpointProbe, ParleyProcess, PrivatePostgres, clean_rebuild, digest_of, parley_env, wait_http_ok,
)
from tests.integration.sql_fixtures import generated_history

EVENTS = 6000
RESTART_AT = 2000
DOWN_SECONDS = 3.0


async def test_postgres_restarted_during_projection_loses_nothing_and_the_api_says_503_meanwhile(
    private_postgres: PrivatePostgres, private_nats: EmbeddedNatsServer, private_store: JetStreamEventStore,
    stream_spec: StreamSpec, tmp_path: Path,
) -> None:
    url = private_postgres.url
    await migrate(url)
    history = generated_history(EVENTS).events
    appender = Appender(private_store)
    for stored in history[:RESTART_AT + 1000]:  # a backlog the projector is busy with at the restart
        await appender.append(stored)

    env = dict(nats=private_nats, database_url=url, spec=stream_spec)
    port = free_port()
    api = ParleyProcess(("serve",), parley_env(home=tmp_path / "api", PARLEY_HTTP_PORT=str(port), **env),
                        tmp_path / "api.log").start()
    projector: ParleyProcess | None = None
    probe = CheckpointProbe(url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{base}/healthz", api)
        admin = bearer((tmp_path / "api" / "admin.token").read_text().strip())
        projector = ParleyProcess(("project",), parley_env(home=tmp_path / "projector",
                                                           PARLEY_PROJECTOR_LEASE_SECONDS="1", **env),
                                  tmp_path / "projector.log").start()

        async def ingest_rest() -> None:
            for stored in history[RESTART_AT + 1000:]:
                await appender.append(stored)
                await asyncio.sleep(0.0005)

        writer = asyncio.create_task(ingest_rest())
        deadline = time.monotonic() + 120
        while (checkpoint := await probe.read()) < RESTART_AT:
            assert projector.alive(), projector.output()
            assert time.monotonic() < deadline, f"the projector never reached {RESTART_AT}:\n{projector.output()}"
            await asyncio.sleep(0.02)

        private_postgres.stop("immediate")  # a crash: in-flight transactions are cut off
        crashed_at = checkpoint
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            down_until = time.monotonic() + DOWN_SECONDS
            answers = []
            while time.monotonic() < down_until:
                answers.append(await client.get("/api/v1/parties", headers=admin))
                await asyncio.sleep(0.3)
            ready = await client.get("/readyz")
            assert projector.alive(), f"the projector died with the database:\n{projector.output()}"
            private_postgres.start()

            assert answers and all(r.status_code == 503 for r in answers), [(r.status_code, r.text) for r in answers]
            assert all(r.headers.get("retry-after") and r.headers["content-type"] == "application/problem+json"
                       for r in answers)
            assert ready.status_code == 503 and "unavailable" in ready.json()["checks"]["database"]

            deadline = time.monotonic() + 30  # the API recovers by itself
            while (r := await client.get("/api/v1/parties", headers=admin)).status_code != 200:
                assert r.status_code == 503, r.text
                assert time.monotonic() < deadline, "the API did not recover after PostgreSQL came back"
                await asyncio.sleep(0.2)

        await asyncio.wait_for(writer, 120)
        deadline = time.monotonic() + 120
        while await probe.read() < EVENTS:
            assert projector.alive(), projector.output()
            assert time.monotonic() < deadline, f"the projector did not resume:\n{projector.output()}"
            await asyncio.sleep(0.2)
    finally:
        for process in (projector, api):
            if process is not None:
                process.stop()
        await probe.close()

    assert crashed_at < EVENTS
    reference = await clean_rebuild(private_store, f"sqlite:///{tmp_path / 'reference.db'}")
    assert await digest_of(url) == reference
