"""Ports: what the core needs from the outside world, as `typing.Protocol`s.

Adapters implement them (`adapters/jetstream` for the event store, `adapters/clock.py` for the
clock); tests use fakes. Every implementation of `EventStore` passes the one contract suite in
`tests/integration/contracts/event_store.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Protocol, Sequence

from core.envelope import Event

if TYPE_CHECKING:
    from core.inspections.quota import QuotaUse


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


class Signer(Protocol):
    """Signs sealed events for the party (or the system) that asserts them (`core.integrity`).

    The command handler calls it on every sealed event before the append; an implementation that
    holds no key for the event's party returns the event unchanged (it stays unsigned)."""

    def sign(self, event: Event) -> Event:
        """`event` with its `signature` set, or unchanged when no key of its holder is held."""
        ...

    async def admit(self, events: Sequence[Event]) -> None:
        """Raise `Invalid` when one of the signed `events` stayed unsigned although its party signs
        its own events (a key of the party is published and this server does not hold it): stored,
        it would be an unsigned fact in the party's name that `parley verify` reports. The party's
        officers prepare, sign and submit instead (`core.integrity.client_signing`)."""
        ...


# --- deadlines ---------------------------------------------------------------------------------

class DueWork(Protocol):
    """What the scheduler asks the read models: records whose deadline passed without the fact
    that meets it and without a recorded miss. The answers may lag the stream; the deciders
    check again on fresh state, so a lagging answer costs a no-op, never a wrong event."""

    async def overdue_messages(self, *, now: datetime) -> list[tuple[str, str]]:
        """(message id, "acknowledgement" | "answer")."""
        ...

    async def overdue_call_requests(self, *, now: datetime) -> list[str]:
        ...

    async def overdue_explanations(self, *, now: datetime) -> list[tuple[str, str]]:
        """(request id, "reply" | "meeting")."""
        ...

    async def agreement_ids(self) -> list[str]:
        ...

    async def recorded_check_calls(self, agreement_id: str, *, since: datetime) -> set[tuple[str, str]]:
        """(slot id, party) of every answered or missed check call starting at or after `since`."""
        ...

    async def overdue_inspections(self, *, now: datetime) -> list[tuple[str, str]]:
        """(inspection id, deadline) for each clock `core.inspections.state.Visit.overdue` names:
        "notice" | "reply" | "entry" | "flight_plan" | "duration" | "reasons"."""
        ...


# --- inspections -------------------------------------------------------------------------------

class QuotaLedger(Protocol):
    """The receiving party's quota use at a moment, for a reply decision
    (`core.inspections.ledger.StreamLedger` folds it from the event store)."""

    async def quota_use(self, *, agreement_id: str, kind: str, receiving_party: str, requesting_party: str,
                        year: int, as_of: datetime, excluding: str | None = None) -> "QuotaUse":
        ...


# --- where commands may start from -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class AggregateSnapshot:
    """An aggregate's folded state as a read model last saw it, and where that history ended:
    the stream sequence, `aggversion` and `hash` of its last event (the next event's prevhash)."""

    state: object
    version: int
    last_seq: int
    last_hash: str | None


class StateSource(Protocol):
    """Aggregate states kept elsewhere (the SQL read models), so a command on an aggregate this
    process has not seen need not fold its whole history from the stream.

    An answer may be stale (the read model lags the stream) but must be internally consistent:
    the state is exactly the fold of the aggregate's events up to `last_seq`. The command handler
    trusts it only as far as the append's expected-sequence check (OCC) proves it; a conflict or
    a refusal decided on it makes the handler reload from the event store."""

    async def snapshot(self, ref: AggregateRef) -> AggregateSnapshot | None:
        """`ref`'s state as known here; None when unknown (the handler then loads the stream)."""
        ...
