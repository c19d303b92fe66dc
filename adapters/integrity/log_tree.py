"""The Merkle tree of the live stream, kept in memory and extended on demand.

The notary and the proof routes both need the tree up to the stream's end. Building it means
reading every event once (about 64 bytes of memory per event); after that only new events are
read. An event whose stored hash does not match its content, or a missing sequence, stops it
with `IntegrityError`: the tree never certifies a history that does not verify.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

from adapters.jetstream.store import JetStreamEventStore
from core.errors import IntegrityError
from core.integrity.merkle import MerkleTree, event_leaf_hash
from core.integrity.verification import event_hash


class LogTree:
    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.tree = MerkleTree()
        self._lock = asyncio.Lock()

    @property
    def size(self) -> int:
        return self.tree.size

    async def catch_up(self, *, until: int | None = None) -> int:
        """Read events after the tree's size up to `until` (default: the stream's end)."""
        async with self._lock:
            if until is not None and until <= self.tree.size:
                return self.tree.size
            async with aclosing(self.store.read_raw(after=self.tree.size, until=until)) as messages:
                async for message in messages:
                    self.add(message.seq, message.subject, message.data)
            return self.tree.size

    def add(self, seq: int, subject: str, data: bytes) -> None:
        if seq != self.tree.size + 1:
            raise IntegrityError(f"sequence {self.tree.size + 1} is missing from the stream (next is {seq}); not certifying")
        try:
            event = json.loads(data)
            claimed = str(event["hash"])
        except (ValueError, KeyError, TypeError) as err:
            raise IntegrityError(f"seq {seq} {subject}: not a Parley event ({err}); not certifying") from err
        if event_hash(event) != claimed:
            raise IntegrityError(f"seq {seq} {subject}: hash does not match the content; not certifying")
        self.tree.append_hash(event_leaf_hash(seq, claimed))
