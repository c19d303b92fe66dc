"""Ports: what the core needs from the outside world, as `typing.Protocol`s.

Adapters implement them (`adapters/jetstream` for the event store, `adapters/clock.py` for the
clock); tests use fakes. Every implementation of `EventStore` passes the one contract suite in
`tests/integration/contracts/event_store.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Protocol, Sequence

from core.envelope import Event


@dataclass(frozen=True, kw_only=True)
class AggregateRef:
    """Names one aggregate; the event store maps it to one subject (`<prefix>.ev.<type>.<id>`)."""

    type: str
    id: str


@dataclass(frozen=True, kw_only=True)
class StoredEvent:
    """An event as read back: its stream sequence and the store's own recording time."""

    seq: int
    recorded: datetime
    event: Event


class EventStore(Protocol):
    async def append(
        self, ref: AggregateRef, events: Sequence[Event], *, expected_seq: int
    ) -> int:
        """Append `events` to `ref`'s subject if its last stream sequence is `expected_seq`
        (0 = the aggregate has no events yet). Returns the stream sequence of the last event.
        A retried append of the same event ids is deduplicated and returns the original
        sequence. Raises `Conflict` on a sequence mismatch and `Unavailable` when unreachable."""
        ...

    async def load(self, ref: AggregateRef) -> list[StoredEvent]:
        """All events of one aggregate in order (empty when it does not exist)."""
        ...

    async def last_subject_seq(self, ref: AggregateRef) -> int:
        """Stream sequence of the aggregate's last event, 0 when it has none."""
        ...

    def read(self, *, after: int = 0, until: int | None = None) -> AsyncIterator[StoredEvent]:
        """Events of the whole stream with `after < seq <= until` in order, ending at `until`
        or at the stream's last sequence as it was when reading started."""
        ...

    async def last_seq(self) -> int:
        """The stream's last sequence (0 when empty)."""
        ...

    async def seq_at(self, moment: datetime) -> int:
        """The last sequence recorded at or before `moment` (0 when none)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...
