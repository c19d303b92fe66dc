"""Fixtures of the fault suite: private servers a test may stop, kill and restart.

The suite runs in CI with the rest (`testpaths` in pyproject.toml). Each test owns its NATS
server(s), and its PostgreSQL when it restarts one; the shared session server is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from tests.faults.processes import PrivatePostgres, postgres_binaries
from tests.integration.sql_fixtures import PG_ENV


@pytest.fixture
def private_nats(nats_server_factory) -> EmbeddedNatsServer:  # noqa: ANN001
    """A nats-server of this test's own (it may be stopped and restarted on the same port)."""
    return nats_server_factory()


@pytest.fixture
async def app_nc(private_nats: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    """A connection as the application's user (the one the deploy configs restrict)."""
    nc = await connect(private_nats.app_url, name="parley-faults")
    yield nc
    await nc.close()


@pytest.fixture
async def private_store(app_nc: NATS, stream_spec: StreamSpec) -> AsyncIterator[JetStreamEventStore]:
    await ensure_stream(app_nc.jetstream(), stream_spec)
    store = JetStreamEventStore(nc=app_nc, spec=stream_spec)
    yield store
    await store.close()


@pytest.fixture
def read_model_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL (a fresh schema on PARLEY_TEST_DATABASE_URL) when configured, else SQLite:
    the fault tests are slow, so each runs once, on the most production-like database at hand."""
    if os.environ.get(PG_ENV):
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path}/read-models.db"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own on a free port (initdb + pg_ctl in a temp dir)."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are not installed; "
                    "this test must restart a PostgreSQL of its own and will not touch a shared one")
    server = PrivatePostgres(binaries)
    try:
        server.start()
        yield server
    finally:
        server.destroy()
