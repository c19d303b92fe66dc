"""Composition root: settings in, wired objects out. The only place that knows every adapter.

`Runtime.open(settings)` starts the embedded nats-server when no `PARLEY_NATS_URL` is given,
connects, makes sure the stream exists with the designed configuration, opens and migrates the
database, and builds the application service and the projector. `close()` undoes all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters import nats_access
from adapters.clock import SystemClock
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.keystore import published_keys, signer_for
from adapters.jetstream.connect import connect
from adapters.jetstream.lease import Lease, projector_lease_name
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from adapters.settings import Settings
from adapters.sql.engine import create_engine
from adapters.sql.idempotency import IdempotencyStore
from adapters.sql.inspection_ledger import SqlQuotaLedger
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from adapters.sql.read_model_states import ReadModelStates
from adapters.sql.statement_pool import StatementPool
from adapters.sql.tokens import TokenStore
from adapters.token_cache import Revocations, TokenCache
from core.application import Application
from core.ports import Clock

NATS_URL_FILE = "nats.url"
log = structlog.get_logger("parley.runtime")
#: How long each step of `Runtime.close()` may take.
CLOSE_SECONDS = 10.0


@dataclass(kw_only=True)
class Runtime:
    settings: Settings
    nc: Any
    store: JetStreamEventStore
    engine: AsyncEngine
    app: Application
    projector: Projector
    tokens: TokenStore
    idempotency: IdempotencyStore
    embedded: EmbeddedNatsServer | None = None
    #: PostgreSQL: psycopg's pool for the statements of every write (adapters/sql/statement_pool.py).
    statements: StatementPool | None = None
    #: Why the in-process projector stopped, if it did (reported by /readyz).
    projector_failure: str | None = None

    @classmethod
    async def open(cls, settings: Settings, *, clock: Clock | None = None, embedded_ok: bool = True) -> "Runtime":
        settings.home.mkdir(parents=True, exist_ok=True)
        embedded: EmbeddedNatsServer | None = None
        url = settings.nats_url or _running_embedded_url(settings.home)
        access = nats_access.from_settings(settings) if settings.nats_url else None
        if url is None:
            if not embedded_ok:
                raise RuntimeError("no NATS server: set PARLEY_NATS_URL or start `parley up`")
            embedded = EmbeddedNatsServer(store_dir=nats_access.embedded_store(settings.home), port=settings.nats_port)
            await embedded.start()
            url = embedded.url
            access = nats_access.from_embedded(embedded.credentials)
            (settings.home / NATS_URL_FILE).write_text(url)
        elif access is None:
            access = nats_access.from_running_embedded(settings.home)
        try:
            nc = await connect(cluster_urls(url), name="parley", auth=access.app, tls=access.tls)
            spec = StreamSpec(name=settings.stream, subject_prefix=settings.subject_prefix, replicas=settings.stream_replicas)
            await _ensure_stream(nc, url, access, spec)
            store = JetStreamEventStore(nc=nc, spec=spec)
            db_url = settings.resolved_database_url
            await migrate(db_url)
            engine = create_engine(db_url)
        except BaseException:
            if embedded is not None:
                await embedded.stop()
            raise
        projector = Projector(engine=engine, store=store, writer_process_from=settings.writer_process_from)
        # Quota use at an inspection reply comes from the read models once they have caught up
        # with the stream (else from a fold of the stream): see adapters/sql/inspection_ledger.py.
        ledger = SqlQuotaLedger(engine=engine, projection=projector, store=store)
        # Cold commands on incidents start from the read models' state (OCC catches a lag).
        app = Application(store=store, clock=clock or SystemClock(), states=ReadModelStates(engine), ledger=ledger)
        # party/system keys held here sign events (issue 6); a party whose published key is not
        # held here signs on its clients, so its unsigned writes are refused
        app.handler.signer = signer_for(settings, published=published_keys(app.handler))
        # Verified tokens are reused for a few seconds; revocations reach every process over NATS.
        cache = TokenCache(nc, settings.subject_prefix, ttl=settings.token_cache_seconds)
        await cache.start()
        tokens = TokenStore(engine, cache=cache, revocations=Revocations(nc, settings.subject_prefix))
        statements = StatementPool.for_engine(engine)
        if statements is not None:
            await statements.open()
        return cls(
            settings=settings, nc=nc, store=store, engine=engine, app=app,
            projector=projector, tokens=tokens,
            idempotency=IdempotencyStore(engine, statements=statements), embedded=embedded, statements=statements,
        )

    async def run_projector(self, stop: "asyncio.Event", *, lease_seconds: float | None = None) -> None:
        """Follow the stream until `stop`; a failure is logged and kept for /readyz, never silent.
        With `lease_seconds`, only while this process holds the projector lease (of several
        processes one projects, the others stand by to take over: adapters/jetstream/lease.py)."""
        try:
            if lease_seconds is None:
                await self.projector.follow(stop)
            else:
                await self.projector_lease(ttl=lease_seconds).hold(self.projector.follow, stop)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported, not swallowed
            self.projector_failure = f"{type(error).__name__}: {error}"
            log.error("projector stopped", error=self.projector_failure)

    def projector_lease(self, *, ttl: float) -> Lease:
        """The lease that makes one projector active per stream and read-model database."""
        name = projector_lease_name(self.settings.stream, self.projector.name, self.settings.resolved_database_url)
        return Lease(self.nc, name=name, ttl=ttl, replicas=self.settings.stream_replicas)

    async def close(self) -> None:
        # Each step bounded: shutting down must finish even when NATS or the database hangs.
        if self.tokens.cache is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.tokens.cache.stop(), CLOSE_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.store.close(), CLOSE_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.drain(), CLOSE_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.engine.dispose(), CLOSE_SECONDS)
        if self.statements is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.statements.close(), CLOSE_SECONDS)
        if self.embedded is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.settings.home / NATS_URL_FILE).unlink()
            await self.embedded.stop()


async def _ensure_stream(nc: Any, url: str, access: nats_access.NatsAccess, spec: StreamSpec) -> None:
    """Create or check the stream: as the admin when one is configured, else as the application."""
    if access.admin is None:
        await ensure_stream(nc.jetstream(), spec)
        return
    admin = await connect(cluster_urls(url), name="parley-admin", auth=access.admin, tls=access.tls)
    try:
        await ensure_stream(admin.jetstream(), spec)
    finally:
        await admin.close()


def cluster_urls(url: str) -> list[str]:
    """`PARLEY_NATS_URL` may list several servers, comma-separated (`nats://n1:4222,nats://n2:4222`):
    the first connection then succeeds while any of them is up (the cluster also advertises the rest)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def _running_embedded_url(home: Path) -> str | None:
    """The URL of an embedded server a running `parley up` left in PARLEY_HOME, if it still answers."""
    path = home / NATS_URL_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=0.5):
            return url
    except OSError:
        return None
