"""Leases in a NATS KV bucket: one active instance of a singleton process, taken over when it dies.

Several projector (scheduler, notary) processes may run for availability, but only one of each
should work at a time. Each holds a *lease*: one key in the KV bucket `parley_leases` whose value
is the holder's identity. Every write is a compare-and-set on the key's revision (the server's
`Nats-Expected-Last-Subject-Sequence`), and carries a per-message TTL (`Nats-TTL`, NATS ≥ 2.11):

- **acquire**: the key is absent (never written, expired, or released) → write it expecting the
  revision we saw. Two contenders racing for a free key: the server accepts exactly one write.
- **renew**: every `ttl / 3` seconds the holder rewrites the key expecting its own revision.
- **death**: a holder that stops renewing (SIGKILL, partition, a frozen VM) loses the key when its
  last write's TTL runs out — the *server's* clock decides, so the hosts' clocks never need to
  agree. A standby polling every `ttl / 4` then takes it.
- **loss**: the holder also keeps its own deadline, `ttl` after it *sent* its last successful
  write (never later than the server's), and stops working when it passes without a renewal.

A lease is an efficiency measure and a courtesy, not a proof: a paused holder may still finish
the batch it had started after its lease went to someone else. Work that must never be done twice
needs its own fence — the projector has one (the checkpoint compare-and-set in the batch's
transaction); others can write `Lease.revision` (it only grows) next to their effects.

Use `Lease.hold(work, stop)`: it waits for the lease, runs `work(quit)` while holding it (`quit`
is set when the lease is lost or `stop` is set), releases it when `work` returns, and goes back to
waiting if the lease was lost. Needs permission to publish to `$KV.parley_leases.>` and to use the
JetStream API for the `KV_parley_leases` stream (create, info, direct get).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import re
import socket
import uuid
from typing import Awaitable, Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

log = logging.getLogger(__name__)

#: The bucket every Parley lease lives in (its stream is `KV_parley_leases`).
LEASE_BUCKET = "parley_leases"

#: How long a dead holder blocks its successor. Shorter means faster take-over but more
#: renewals (one write per ttl/3) and more false take-overs when a holder merely stalls.
DEFAULT_TTL_SECONDS = 10.0

#: JetStream error codes for a failed expected-last-subject-sequence check.
_WRONG_LAST_SEQUENCE = (10071, 10164)
#: JetStream error code for "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058
_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")
_NOT_KEY = re.compile(r"[^-_=.a-zA-Z0-9]")

#: Failures that mean "NATS cannot answer right now": retried, never fatal.
TRANSIENT = (nats.errors.Error, asyncio.TimeoutError, OSError)

Work = Callable[[asyncio.Event], Awaitable[None]]


class LeaseUnusable(RuntimeError):
    """The lease bucket exists but cannot hold leases (e.g. created without per-message TTLs)."""


def lease_key(*parts: str) -> str:
    """A valid KV key from free-form parts (`projector`, a stream name, …), joined by dots."""
    return ".".join(_NOT_KEY.sub("_", part) or "_" for part in parts)


def projector_lease_name(stream: str, projector: str, database_url: str) -> str:
    """The projector's lease: one per stream, projector name and read-model database.

    The database is part of the name because two databases fed from one stream (a blue/green
    upgrade, a reporting copy) each need their own active projector. It is identified by a hash
    of its URL without the password, so the lease name reveals nothing.
    """
    identity = re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", database_url)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return lease_key("projector", stream, projector, digest)


def default_holder() -> str:
    """`host/pid/random`: unique per process start, readable in `nats kv get`."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Lease:
    """One named lease in `bucket`, tried and held by this process under `holder`."""

    def __init__(
        self,
        nc: NATS,
        *,
        name: str,
        ttl: float = DEFAULT_TTL_SECONDS,
        holder: str | None = None,
        replicas: int = 1,
        bucket: str = LEASE_BUCKET,
    ) -> None:
        if not _KEY.fullmatch(name) or name.startswith(".") or name.endswith("."):
            raise ValueError(f"lease name {name!r} is not a valid KV key (use lease_key())")
        if ttl < 1:
            raise ValueError("a lease TTL must be at least 1 s (NATS message TTLs are whole seconds)")
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = float(math.ceil(ttl))
        self._replicas = replicas
        self._bucket = bucket
        self._stream = f"KV_{bucket}"
        self._subject = f"$KV.{bucket}.{name}"
        self._js: JetStreamContext = nc.jetstream(timeout=min(self.ttl / 3, 2.0))
        self._ready = False
        self._direct = False
        self._revision: int | None = None
        self._valid_until = 0.0

    # --- state --------------------------------------------------------------------------------

    @property
    def revision(self) -> int | None:
        """The revision of our last write while we hold the lease: a fencing token (it grows)."""
        return self._revision if self.held else None

    @property
    def held(self) -> bool:
        """True while our last confirmed write is younger than `ttl` (by our own clock)."""
        return self._revision is not None and _now() < self._valid_until

    async def current(self) -> tuple[str | None, int]:
        """(holder or None when free, revision to expect when writing)."""
        await self._ensure_bucket()
        try:
            msg = await self._js.get_msg(self._stream, subject=self._subject, direct=self._direct)
        except NotFoundError:
            return None, 0
        if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE"):
            return None, msg.seq or 0
        return (msg.data or b"").decode(errors="replace"), msg.seq or 0

    # --- one step each ------------------------------------------------------------------------

    async def acquire(self) -> bool:
        """Take the lease if it is free (or already ours); False if someone else holds it."""
        holder, revision = await self.current()
        if holder is not None and holder != self.holder:
            return False
        return await self._write(expected=revision)

    async def renew(self) -> bool:
        """Extend our lease; False when it is no longer ours."""
        if self._revision is None:
            return False
        if await self._write(expected=self._revision):
            return True
        # Our previous write may have been stored with its acknowledgement lost: then the key
        # still names us, at a revision we did not see. Adopt it rather than give up the lease.
        holder, revision = await self.current()
        return holder == self.holder and await self._write(expected=revision)

    async def release(self) -> None:
        """Give the lease up at once (a delete marker, only if it is still ours); best effort."""
        revision, self._revision = self._revision, None
        if revision is None:
            return
        with contextlib.suppress(*TRANSIENT):
            await self._js.publish(
                self._subject, b"", headers={"KV-Operation": "DEL", "Nats-Expected-Last-Subject-Sequence": str(revision)}
            )
            log.info("lease %s: released by %s", self.name, self.holder)

    # --- the loop -----------------------------------------------------------------------------

    async def hold(self, work: Work, stop: asyncio.Event) -> None:
        """Run `work(quit)` whenever we hold the lease, until `stop` is set or `work` returns
        by itself. `quit` is set when the lease is lost or `stop` is set; `work` must return
        soon after. An exception from `work` releases the lease and propagates."""
        standing_by_for: str | None = None
        while not stop.is_set():
            try:
                acquired = await self.acquire()
            except LeaseUnusable:
                raise
            except TRANSIENT as error:
                log.warning("lease %s: cannot reach NATS (%s: %s); retrying", self.name, type(error).__name__, error)
                acquired = False
            if not acquired:
                with contextlib.suppress(*TRANSIENT):
                    holder, _ = await self.current()
                    if holder is not None and holder != standing_by_for:
                        log.info("lease %s: held by %s; standing by", self.name, holder)
                        standing_by_for = holder
                await _wait(stop, self.ttl / 4)
                continue
            standing_by_for = None
            log.info("lease %s: acquired by %s (revision %s)", self.name, self.holder, self._revision)
            quit = asyncio.Event()
            keeper = asyncio.create_task(self._keep(quit, stop), name=f"lease-{self.name}")
            try:
                await work(quit)
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                lost = not self.held
                await self.release()
            if not lost and not stop.is_set():
                return  # the work is done: nothing more to hold the lease for
            if lost and not stop.is_set():
                log.warning("lease %s: lost by %s; work stopped, standing by", self.name, self.holder)

    async def _keep(self, quit: asyncio.Event, stop: asyncio.Event) -> None:
        """Renew every ttl/3 until `stop`; set `quit` when the lease is lost or `stop` is set."""
        try:
            while True:
                await _wait(stop, self.ttl / 3)
                if stop.is_set():
                    return
                renewed: bool | None
                try:
                    renewed = await self.renew()
                except TRANSIENT as error:
                    log.warning("lease %s: renewal failed (%s); retrying", self.name, type(error).__name__)
                    renewed = None
                if renewed is False or not self.held:
                    self._revision = None
                    return
        finally:
            quit.set()

    # --- internals ----------------------------------------------------------------------------

    async def _write(self, *, expected: int) -> bool:
        sent = _now()
        try:
            ack = await self._js.publish(
                self._subject, self.holder.encode(),
                headers={"Nats-Expected-Last-Subject-Sequence": str(expected)}, msg_ttl=self.ttl,
            )
        except APIError as error:
            if error.err_code in _WRONG_LAST_SEQUENCE:
                return False
            if "ttl" in (error.description or "").lower():
                raise LeaseUnusable(f"KV bucket {self._bucket} refuses message TTLs: {error.description}") from error
            raise
        self._revision = ack.seq
        self._valid_until = sent + self.ttl
        return True

    async def _ensure_bucket(self) -> None:
        """Create the bucket (history 1, per-message TTLs allowed) or check the existing one."""
        if self._ready:
            return
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            try:
                await self._js.create_key_value(
                    bucket=self._bucket, history=1, replicas=self._replicas, direct=True,
                    description="Parley leases: one active projector, scheduler, notary",
                )
            except APIError as error:
                if error.err_code != _STREAM_NAME_IN_USE:
                    raise
            info = await self._js.stream_info(self._stream)  # ours, or a concurrent creator's
        if not info.config.allow_msg_ttl:
            raise LeaseUnusable(
                f"KV bucket {self._bucket} was created without per-message TTLs (allow_msg_ttl); "
                f"delete it (`nats kv del {self._bucket}`, it holds only leases) and restart"
            )
        self._direct = bool(info.config.allow_direct)
        self._ready = True


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
