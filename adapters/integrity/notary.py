"""The notary: follows the event stream and publishes signed checkpoints of its Merkle tree.

It signs a checkpoint once `every_events` events are uncertified, or `every_seconds` after the
first uncertified event arrived, whichever comes first, with the system key (named like the
checkpoint origin). On start it rebuilds the tree from sequence 1 and checks the last published
checkpoint against it: a history that no longer matches what was certified stops the notary
loudly instead of being certified anew.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import structlog

from adapters.integrity.audit_stream import AuditLog
from adapters.integrity.log_tree import LogTree
from core.errors import IntegrityError
from core.integrity.checkpoint import Checkpoint, SignedCheckpoint, parse_checkpoint, sign_checkpoint
from core.integrity.notes import NoteError, SignerKey

log = structlog.get_logger("parley.notary")


class Notary:
    def __init__(
        self, *, tree: LogTree, audit: AuditLog, key: SignerKey, origin: str, every_events: int = 1000,
        every_seconds: float = 10.0, poll_seconds: float = 0.5, monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if key.name != origin:
            raise ValueError(f"the system key is named {key.name!r}; checkpoints of {origin!r} need a key of that name")
        self.tree = tree
        self.audit = audit
        self.key = key
        self.origin = origin
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.poll_seconds = poll_seconds
        self._monotonic = monotonic
        self.certified = 0
        self.latest: SignedCheckpoint | None = None
        self._pending_since: float | None = None

    async def start(self) -> None:
        """Create the audit stream if needed, build the tree, check the last checkpoint still holds."""
        await self.audit.ensure()
        previous = await self.audit.latest_checkpoint()
        if previous is None:
            return
        try:
            # Not `open_checkpoint`: after a system key rotation the last one carries the old key's
            # signature. Whether it matches the stream is what matters here; `verify` checks signatures.
            signed = parse_checkpoint(previous)
        except NoteError as err:
            raise IntegrityError(f"the last published checkpoint cannot be read: {err}") from err
        if signed.checkpoint.origin != self.origin:
            raise IntegrityError(f"the last checkpoint is of {signed.checkpoint.origin!r}, this notary signs {self.origin!r}")
        size = signed.checkpoint.size
        await self.tree.catch_up(until=size)
        if self.tree.size < size:
            raise IntegrityError(f"the last checkpoint certifies {size} events but the stream holds {self.tree.size}: events were cut")
        if self.tree.tree.root(size) != signed.checkpoint.root:
            raise IntegrityError(f"the stream no longer matches the checkpoint of size {size}: history before it was changed")
        self.certified, self.latest = size, signed

    async def step(self) -> SignedCheckpoint | None:
        """Read what is new and publish a checkpoint if one is due; returns it when published."""
        end = await self.tree.store.last_seq()
        published = None
        while self.tree.size < end:
            before = self.tree.size
            await self.tree.catch_up(until=min(end, self.certified + self.every_events))
            if self.tree.size == before:
                break  # the stream answered less than it reported; try again next step
            if self._pending_since is None:
                self._pending_since = self._monotonic()
            if self.tree.size - self.certified >= self.every_events:
                published = await self.publish()
        if self.tree.size > self.certified and self._pending_since is not None \
                and self._monotonic() - self._pending_since >= self.every_seconds:
            published = await self.publish()
        return published

    async def publish(self) -> SignedCheckpoint:
        size = self.tree.size
        signed = sign_checkpoint(Checkpoint(origin=self.origin, size=size, root=self.tree.tree.root(size)), self.key)
        await self.audit.publish_checkpoint(signed.encode())
        self.certified, self.latest = size, signed
        self._pending_since = self._monotonic() if self.tree.size > size else None
        log.info("checkpoint published", size=size)
        return signed

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        while not stop.is_set():
            await self.step()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass
