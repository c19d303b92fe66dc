"""Verified tokens cached per process, revocations announced over NATS (adapters/token_cache.py),
on a real nats-server and both databases. Two `TokenStore`s with their own NATS connections stand
for two API processes sharing one database."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS

from adapters.cli import event_loop
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.tables import api_tokens
from adapters.sql.tokens import TokenStore
from adapters.token_cache import Revocations, TokenCache
from core.identity import Role
from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401

TTL = 1.0


@dataclass
class Process:
    nc: NATS
    tokens: TokenStore


async def _process(nats_url: str, engine: Any, subject_prefix: str, name: str) -> Process:
    nc = await connect(nats_url, name=name)
    cache = TokenCache(nc, subject_prefix, ttl=TTL)
    await cache.start()
    return Process(nc, TokenStore(engine, cache=cache, revocations=Revocations(nc, subject_prefix)))


async def _close(process: Process) -> None:
    assert process.tokens.cache is not None
    await process.tokens.cache.stop()
    await process.nc.close()


@pytest.fixture
async def processes(nats_server: EmbeddedNatsServer, engine: Any, stream_spec: Any) -> AsyncIterator[list[Process]]:
    made = [await _process(nats_server.app_url, engine, stream_spec.subject_prefix, name) for name in ("api-a", "api-b")]
    yield made
    for process in made:
        await _close(process)


async def revoke_silently(engine: Any, token_id: str) -> None:
    """Revoked in the table only, as if no notice could be sent."""
    async with engine.begin() as conn:
        await conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=sa.func.now()))


async def revocation_race(nats_url: str, database_url: str, subject_prefix: str) -> None:
    """The hardest case: b's event loop is busy while the notice and the next request arrive, so
    both are read in the same loop step. A request is started the way uvicorn starts one (a task
    created in the socket's `data_received`), so it runs before nats-py's reader has parsed the
    notice: only `TokenCache.settled` puts the notice first."""
    await migrate(database_url)
    engine = create_engine(database_url)
    made = [await _process(nats_url, engine, subject_prefix, name) for name in ("api-a", "api-b")]
    a, b = made
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[Any] = asyncio.Queue()

    class Requests(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            task = loop.create_task(b.tokens.verify(data.decode()))
            task.add_done_callback(lambda done: answers.put_nowait(done.result()))

    server = await loop.create_server(Requests, "127.0.0.1", 0)
    client = socket.create_connection(server.sockets[0].getsockname()[:2])
    try:
        for round_ in range(20):
            secret, info = await a.tokens.create(role=Role.AUDITOR, party=None, officer_id=None, label=f"r{round_}")
            client.sendall(secret.encode())
            assert await answers.get() == info  # verified by b, and cached there from now on
            client.sendall(secret.encode())
            assert await answers.get() == info
            assert await a.tokens.revoke(info.id)  # the notice is at the server when this returns
            client.sendall(secret.encode())  # b's next request …
            time.sleep(0.05)  # … while b's loop is busy: the notice and the request wait together
            assert await answers.get() is None, f"round {round_}: b accepted a token revoked before the request"
            assert await a.tokens.verify(secret) is None
    finally:
        client.close()
        server.close()
        await server.wait_closed()
        for process in made:
            await _close(process)
        await engine.dispose()


async def test_a_revocation_in_one_process_is_refused_by_the_next_request_to_the_other(
    nats_server: EmbeddedNatsServer, database_url: str, stream_spec: Any,
) -> None:
    await revocation_race(nats_server.app_url, database_url, stream_spec.subject_prefix)


def test_the_same_on_uvloop_as_the_api_processes_run(
    nats_server: EmbeddedNatsServer, database_url: str, stream_spec: Any,
) -> None:
    async def on_uvloop() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        await revocation_race(nats_server.app_url, database_url, stream_spec.subject_prefix)

    event_loop.run(on_uvloop())


async def test_the_cache_is_used_and_bounded_by_its_ttl_when_no_notice_comes(processes: list[Process], engine: Any) -> None:
    _, b = processes
    secret, info = await b.tokens.create(role=Role.OFFICER, party="USA", officer_id="o1")
    assert await b.tokens.verify(secret) == info
    await revoke_silently(engine, info.id)
    assert await b.tokens.verify(secret) == info, "the verification was not cached"
    assert await b.tokens.verify(secret, now=info.created_at) is None, "an explicit `now` must read the table"
    await asyncio.sleep(TTL + 0.1)
    assert await b.tokens.verify(secret) is None, "a cached verification outlived its TTL"


async def test_a_verification_read_before_a_revocation_notice_is_not_cached(processes: list[Process], engine: Any) -> None:
    a, b = processes
    secret, info = await a.tokens.create(role=Role.AUDITOR, party=None, officer_id=None)
    cache = b.tokens.cache
    assert cache is not None
    generation = cache.generation()  # b starts reading the table …
    assert await a.tokens.revoke(info.id)  # … a revokes meanwhile …
    await b.nc.flush()
    await cache.settled()
    cache.put(secret, info, generation)  # … and b's (stale) read arrives after the notice
    assert cache.get(secret) is None


async def test_unknown_and_expired_tokens_are_never_served_from_the_cache(processes: list[Process]) -> None:
    _, b = processes
    secret, info = await b.tokens.create(role=Role.AUDITOR, party=None, officer_id=None)
    assert await b.tokens.verify(secret[:-2] + "xx") is None
    assert await b.tokens.verify(secret) == info
    cache = b.tokens.cache
    assert cache is not None
    expired = replace(info, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    cache.put(secret, expired, cache.generation())
    assert cache.get(secret) is None
