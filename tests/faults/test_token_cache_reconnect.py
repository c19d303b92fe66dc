"""The token cache across a NATS outage (adapters/token_cache.py): revocation notices sent while a
process is cut off never arrive, so the process stops using its cache while disconnected and
drops it on reconnecting. Real nats-server (stopped and restarted), SQLite."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import sqlalchemy as sa

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.tables import api_tokens
from adapters.sql.tokens import TokenStore
from adapters.token_cache import TokenCache
from core.identity import Role


async def test_a_revocation_missed_during_an_outage_is_not_served_from_the_cache(
    private_nats: EmbeddedNatsServer, tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    await migrate(url)
    engine = create_engine(url)
    nc = await connect(private_nats.app_url, name="api-b")
    cache = TokenCache(nc, "tcache", ttl=3600)  # only the outage can make it forget
    await cache.start()
    tokens = TokenStore(engine, cache=cache)
    try:
        kept, kept_info = await tokens.create(role=Role.AUDITOR, party=None, officer_id=None)
        gone, gone_info = await tokens.create(role=Role.AUDITOR, party=None, officer_id=None)
        assert await tokens.verify(kept) == kept_info and await tokens.verify(gone) == gone_info

        async def revoke_unannounced(token_id: str) -> None:
            async with engine.begin() as conn:
                await conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=sa.func.now()))

        await revoke_unannounced(gone_info.id)
        assert await tokens.verify(gone) == gone_info, "not cached: this test would prove nothing"
        await private_nats.stop()
        deadline = time.monotonic() + 10
        while nc.is_connected:
            assert time.monotonic() < deadline, "the client never noticed the outage"
            await asyncio.sleep(0.05)
        assert await tokens.verify(gone) is None, "used the cache while cut off from revocation notices"
        assert await tokens.verify(kept) == kept_info

        await revoke_unannounced(kept_info.id)  # a revocation whose notice this process never gets
        await private_nats.start()
        deadline = time.monotonic() + 30
        while not nc.is_connected:
            assert time.monotonic() < deadline, "the client did not reconnect"
            await asyncio.sleep(0.05)
        assert await tokens.verify(kept) is None, "the cache survived the reconnection"
    finally:
        await cache.stop()
        await nc.close()
        await engine.dispose()
