"""One way to open a NATS connection for Parley processes.

A Parley process is long-lived and NATS is its system of record, so once connected it
reconnects forever (with capped, jittered exponential backoff, so a restarting cluster is not
stampeded) and never gives up on its own. The *first* connection is different: a CLI command or a
service starting against a wrong URL should fail fast with a readable error, so it is bounded
by `connect_timeout`. Connection trouble is logged once per kind and then summarised, not
repeated on every attempt.

Credentials (user/password or an nkeys `.creds` file) and TLS come in as `NatsAuth` and
`NatsTls`; credentials written into a URL (`nats://user:pass@host`) also work, and are
blanked out of every message this module writes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import nats
from nats.aio.client import Client as NATS

from core.errors import Unavailable

log = logging.getLogger(__name__)
_URL_SECRET = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True, kw_only=True)
class NatsAuth:
    """How to prove who we are: a user and password, or an nkeys/JWT credentials file."""

    user: str | None = None
    password: str | None = None
    creds_file: Path | None = None

    def __repr__(self) -> str:
        return f"NatsAuth(user={self.user!r}, password={'***' if self.password else None}, creds_file={self.creds_file!r})"

    def options(self) -> dict[str, Any]:
        if self.creds_file is not None:
            return {"user_credentials": str(self.creds_file)}
        if self.user is not None:
            return {"user": self.user, "password": self.password or ""}
        return {}


@dataclass(frozen=True, kw_only=True)
class NatsTls:
    """TLS towards NATS: the CA that signed the server's certificate, and an optional client
    certificate and key for servers that verify clients (mutual TLS)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        return context


def redact_url(url: str) -> str:
    """`nats://user:secret@host` → `nats://***@host`: safe to print or log."""
    return _URL_SECRET.sub("***@", url)


async def connect(
    url: str | Sequence[str],
    *,
    name: str,
    connect_timeout: float = 10.0,
    reconnect_base: float = 0.1,
    reconnect_cap: float = 5.0,
    auth: NatsAuth | None = None,
    tls: NatsTls | None = None,
) -> NATS:
    """Connect to `url` (one URL or a list for a cluster) as client `name`.

    Raises `Unavailable` if no server answers within `connect_timeout` seconds.
    """
    servers = [url] if isinstance(url, str) else list(url)
    quiet = _QuietLog(name)
    security: dict[str, Any] = dict((auth or NatsAuth()).options())
    if tls is not None:
        security["tls"] = tls.context()
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

    refused = asyncio.Event()
    refusal: list[BaseException] = []  # the server's own answer, not the connection reset after it

    async def on_error(err: BaseException) -> None:
        # Wrong or missing credentials will not get better by retrying: fail the first
        # connection at once instead of waiting out `connect_timeout`.
        if not nc.is_connected and "authorization violation" in str(err).lower():
            refusal.append(err)
            refused.set()
        await quiet.error(err)

    attempt = asyncio.ensure_future(
        nc.connect(
            servers=servers,
            name=name,
            connect_timeout=min(connect_timeout, 2.0),
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=reconnect_base,
            reconnect_to_server_handler=backoff,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            closed_cb=on_close,
            **security,
        )
    )
    gave_up = asyncio.ensure_future(refused.wait())
    try:
        done, _ = await asyncio.wait({attempt, gave_up}, timeout=connect_timeout, return_when=asyncio.FIRST_COMPLETED)
        if attempt not in done:
            attempt.cancel()
            raise asyncio.TimeoutError()
        attempt.result()
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as err:
        await _abandon(nc)
        reason = quiet.last or err
        where = ", ".join(redact_url(server) for server in servers)
        if refused.is_set():
            raise Unavailable(
                f"NATS at {where} refused the credentials ({redact_url(str(refusal[0] if refusal else reason))}); "
                "check PARLEY_NATS_USER / PARLEY_NATS_PASSWORD / PARLEY_NATS_CREDS"
            ) from err
        raise Unavailable(
            f"could not connect to NATS at {where} within {connect_timeout:g}s "
            f"({type(reason).__name__}: {redact_url(str(reason))})"
        ) from err
    finally:
        gave_up.cancel()
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
        kind = f"{type(err).__name__}: {redact_url(str(err))}"
        now = time.monotonic()
        logged_at, suppressed = self._seen.get(kind, (0.0, -1))
        if suppressed >= 0 and now - logged_at < self._interval:
            self._seen[kind] = (logged_at, suppressed + 1)
            return
        more = f" (and {suppressed} more times)" if suppressed > 0 else ""
        log.warning("nats %s: %s%s", self._name, kind, more)
        self._seen[kind] = (now, 0)
