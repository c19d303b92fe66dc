"""A read-only view of the event and audit streams, for `parley verify`.

Unlike `Runtime.open` it neither checks the stream's configuration nor touches a database:
an auditor must be able to verify any copy of the history (a restored backup, a stream someone
reconfigured) and report what is wrong with it, rather than refuse to look.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import AsyncIterator

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from adapters import nats_access
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.audit_stream import AuditLog, AuditSpec
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.runtime import _running_embedded_url, cluster_urls
from adapters.settings import Settings


@dataclass
class StreamReader:
    nc: NATS
    store: JetStreamEventStore
    audit: AuditLog


@contextlib.asynccontextmanager
async def open_reader(settings: Settings) -> AsyncIterator[StreamReader]:
    """Connect to PARLEY_NATS_URL, or to the embedded server of a running `parley up`, or start
    the embedded server on PARLEY_HOME's store when nothing runs."""
    embedded: EmbeddedNatsServer | None = None
    url = settings.nats_url or _running_embedded_url(settings.home)
    if settings.nats_url:
        access = nats_access.from_settings(settings)
    elif url is not None:
        access = nats_access.from_running_embedded(settings.home)
    else:
        store_dir = nats_access.embedded_store(settings.home)
        if not store_dir.exists():
            raise ValueError(f"no NATS server to read: set PARLEY_NATS_URL, or PARLEY_HOME to an installation ({settings.home} has none)")
        embedded = EmbeddedNatsServer(store_dir=store_dir, port=None)
        await embedded.start()
        url, access = embedded.url, nats_access.from_embedded(embedded.credentials)
    try:
        nc = await connect(cluster_urls(url), name="parley-verify", auth=access.app, tls=access.tls)
        spec = StreamSpec(name=settings.stream, subject_prefix=settings.subject_prefix)
        try:
            await nc.jetstream().stream_info(spec.name)
        except NotFoundError:
            await nc.close()
            raise ValueError(f"there is no stream {spec.name} on this NATS server (PARLEY_STREAM)") from None
        reader = StreamReader(nc=nc, store=JetStreamEventStore(nc=nc, spec=spec), audit=AuditLog(nc, AuditSpec.beside(spec)))
        try:
            yield reader
        finally:
            with contextlib.suppress(Exception):
                await reader.audit.close()
                await reader.store.close()
            await nc.close()
    finally:
        if embedded is not None:
            await embedded.stop()
