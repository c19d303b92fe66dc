"""One way to open a NATS connection for Parley processes.

A Parley process is long-lived and NATS is its system of record, so once connected it
reconnects forever (with capped, jittered exponential backoff, so a restarting cluster is not
stampeded) and never gives up on its own. The *first* connection is different: a CLI command or a
service starting against a wrong URL should fail fast with a readable error, so it is bounded
by `connect_timeout`. Connection trouble is logged once per kind and then summarised, not
repeated on every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Sequence

import nats
from nats.aio.client import Client as NATS

from core.errors import Unavailable

log = logging.getLogger(__name__)


async def connect(
    url: str | Sequence[str],
    *,
    name: str,
    connect_timeout: float = 10.0,
    reconnect_base: float = 0.1,
    reconnect_cap: float = 5.0,
) -> NATS:
    """Connect to `url` (one URL or a list for a cluster) as client `name`.

    Raises `Unavailable` if no server answers within `connect_timeout` seconds.
    """
    servers = [url] if isinstance(url, str) else list(url)
    quiet = _QuietLog(name)
    nc = NATS()

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):  # closing on purpose also "disconnects"
            log.warning("nats %s: disconnected; reconnecting", name)

    async def on_reconnect() -> None:
        log.info("nats %s: reconnected to %s", name, nc.connected_url.netloc if nc.connected_url else "?")

    async def on_close() -> None:
        log.info("nats %s: connection closed", name)

    def backoff(pool: list[Any], _info: dict[str, Any]) -> tuple[Any, float]:
        """Try the least-failed server next, after base·2^failures (capped), ±50% jitter."""
        server = min(pool, key=lambda s: s.reconnects)
        delay = min(reconnect_cap, reconnect_base * 2 ** min(server.reconnects, 16))
        return server, delay * random.uniform(0.5, 1.5)

    try:
        await asyncio.wait_for(
            nc.connect(
                servers=servers,
                name=name,
                connect_timeout=min(connect_timeout, 2.0),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=reconnect_base,
                reconnect_to_server_handler=backoff,
                error_cb=quiet.error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                closed_cb=on_close,
            ),
            timeout=connect_timeout,
        )
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as err:
        await _abandon(nc)
        reason = quiet.last or err
        raise Unavailable(
            f"could not connect to NATS at {', '.join(servers)} within {connect_timeout:g}s "
            f"({type(reason).__name__}: {reason})"
        ) from err
    return nc


async def _abandon(nc: NATS) -> None:
    try:
        await nc.close()
    except Exception:  # the half-open client may be in any state; nothing more to do
        pass


class _QuietLog:
    """Logs each kind of connection error once, then at most one summary per `interval`."""

    def __init__(self, name: str, *, interval: float = 60.0) -> None:
        self._name = name
        self._interval = interval
        self._seen: dict[str, tuple[float, int]] = {}
        self.last: BaseException | None = None

    async def error(self, err: BaseException) -> None:
        self.last = err
        kind = f"{type(err).__name__}: {err}"
        now = time.monotonic()
        logged_at, suppressed = self._seen.get(kind, (0.0, -1))
        if suppressed >= 0 and now - logged_at < self._interval:
            self._seen[kind] = (logged_at, suppressed + 1)
            return
        more = f" (and {suppressed} more times)" if suppressed > 0 else ""
        log.warning("nats %s: %s%s", self._name, kind, more)
        self._seen[kind] = (now, 0)
