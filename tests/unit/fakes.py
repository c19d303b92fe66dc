"""Fakes of the ports for unit tests: real behaviour, in memory, no servers.

`MemoryEventStore` passes the same contract suite as the JetStream store
(`tests/integration/contracts/event_store.py`), so core tests written against it hold for
production too. It mirrors JetStream where callers could notice: per-aggregate expected
sequences, deduplication of a retry whose first attempt was stored (an id stored elsewhere is
refused), one sequence for the whole log, and recorded times at microsecond resolution.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator, Callable, Sequence

from core.envelope import Event
from core.errors import Conflict, Invalid
from core.ports import AggregateRef, StoredEvent

#: Same rule as the JetStream store: an aggregate's type and id are single subject tokens.
_TOKEN = re.compile(r"[^.*>\s\x00-\x1f\x7f]+")
_MICROSECOND = timedelta(microseconds=1)


class MemoryEventStore:
    """`core.ports.EventStore` in a list. `clock` stands in for the server's recording time."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log: list[StoredEvent] = []
        self._by_aggregate: dict[tuple[str, str], list[StoredEvent]] = defaultdict(list)
        self._seq_of_id: dict[str, int] = {}
        self._appended = asyncio.Condition()

    async def append(self, ref: AggregateRef, events: Sequence[Event], *, expected_seq: int) -> int:
        key = _key(ref)
        if expected_seq < 0:
            raise Invalid(f"expected sequence {expected_seq} is negative")
        for event in events:
            if event.aggtype != ref.type or event.subject != ref.id:
                raise Invalid(f"event {event.id} does not belong to {ref.type} {ref.id}")
        seq = expected_seq
        if not events and self._last_of(key) != expected_seq:
            raise self._conflict(ref, expected_seq)
        for event in events:
            seq = self._append_one(ref, event, expected=seq)
        if events:
            async with self._appended:
                self._appended.notify_all()
        return seq

    def _append_one(self, ref: AggregateRef, event: Event, *, expected: int) -> int:
        history = self._by_aggregate[_key(ref)]
        if self._last_of(_key(ref)) != expected:
            following = next((s for s in history if s.seq > expected), None)
            if following is not None and following.event.id == event.id:
                return following.seq  # a retry of an append that was stored
            raise self._conflict(ref, expected)
        if event.id in self._seq_of_id:  # like a Nats-Msg-Id duplicate the JetStream store refuses
            raise Invalid(f"event id {event.id} is already used by the event at stream sequence {self._seq_of_id[event.id]}")
        stored = StoredEvent(seq=len(self._log) + 1, recorded=self._next_recorded(), event=event)
        self._log.append(stored)
        history.append(stored)
        self._seq_of_id[event.id] = stored.seq
        return stored.seq

    async def load(self, ref: AggregateRef) -> list[StoredEvent]:
        return list(self._by_aggregate.get(_key(ref), []))

    async def last_subject_seq(self, ref: AggregateRef) -> int:
        return self._last_of(_key(ref))

    async def get(self, seq: int) -> StoredEvent | None:
        return self._log[seq - 1] if 1 <= seq <= len(self._log) else None

    async def read(self, *, after: int = 0, until: int | None = None) -> AsyncIterator[StoredEvent]:
        end = len(self._log) if until is None else min(until, len(self._log))
        for stored in self._log[max(after, 0) : max(end, 0)]:
            yield stored

    async def follow(self, *, after: int = 0) -> AsyncIterator[StoredEvent]:
        """Every event after `after`, then new ones as they are appended; never ends."""
        position = max(after, 0)
        while True:
            while position < len(self._log):
                position += 1
                yield self._log[position - 1]
            async with self._appended:
                await self._appended.wait_for(lambda: position < len(self._log))

    async def last_seq(self) -> int:
        return len(self._log)

    async def seq_at(self, moment: datetime) -> int:
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        return sum(1 for stored in self._log if stored.recorded <= moment)

    def _last_of(self, key: tuple[str, str]) -> int:
        history = self._by_aggregate.get(key)
        return history[-1].seq if history else 0

    def _next_recorded(self) -> datetime:
        """The clock at microsecond resolution, strictly increasing like a stream's order."""
        now = self._clock().astimezone(UTC)  # datetimes already stop at microseconds
        if self._log and now <= self._log[-1].recorded:
            now = self._log[-1].recorded + _MICROSECOND
        return now

    def _conflict(self, ref: AggregateRef, expected: int) -> Conflict:
        current = self._last_of(_key(ref))
        return Conflict(
            f"{ref.type} {ref.id} changed since it was read (expected {expected}, now {current})",
            current_seq=current,
        )


def _key(ref: AggregateRef) -> tuple[str, str]:
    for label, value in (("type", ref.type), ("id", ref.id)):
        if not _TOKEN.fullmatch(value):
            raise Invalid(f"aggregate {label} {value!r} must be one subject token")
    return ref.type, ref.id


class MemoryDueWork:
    """`core.ports.DueWork` computed by folding every hotline aggregate in a `MemoryEventStore`
    (what the SQL read models answer in production)."""

    def __init__(self, store: MemoryEventStore) -> None:
        self._store = store

    def _states(self, decider: Any) -> list[Any]:
        from core.events import decode
        from core.decider import Fact

        states: list[Any] = []
        for (aggtype, _), history in self._store._by_aggregate.items():
            if aggtype != decider.type or not history:
                continue
            state = decider.initial
            for stored in history:
                state = decider.evolve(state, decode(stored.event), Fact.of(stored.event, seq=stored.seq))
            states.append(state)
        return states

    async def overdue_messages(self, *, now: datetime) -> list[tuple[str, str]]:
        from core.hotline import messages

        out: list[tuple[str, str]] = []
        for m in self._states(messages.DECIDER):
            if m.acknowledged_at is None and m.ack_missed_at is None and m.ack_due <= now:
                out.append((m.id, "acknowledgement"))
            if m.answer_required and m.answered_at is None and m.answer_missed_at is None and m.answer_due <= now:
                out.append((m.id, "answer"))
        return out

    async def overdue_call_requests(self, *, now: datetime) -> list[str]:
        from core.hotline import calls

        return [c.id for c in self._states(calls.DECIDER) if c.status is calls.Status.REQUESTED and c.respond_due <= now]

    async def overdue_explanations(self, *, now: datetime) -> list[tuple[str, str]]:
        from core.hotline import explanations as x

        out: list[tuple[str, str]] = []
        for e in self._states(x.DECIDER):
            if e.status is x.Status.REQUESTED and e.reply_due <= now:
                out.append((e.id, "reply"))
            if e.status is x.Status.MEETING_REQUESTED and e.meeting_missed_at is None and e.meeting_due and e.meeting_due <= now:
                out.append((e.id, "meeting"))
        return out

    async def agreement_ids(self) -> list[str]:
        from core.agreements import agreement

        return [a.id for a in self._states(agreement.DECIDER)]

    async def recorded_check_calls(self, agreement_id: str, *, since: datetime) -> set[tuple[str, str]]:
        from core.hotline import check_calls

        out: set[tuple[str, str]] = set()
        for s in self._states(check_calls.DECIDER):
            if s.agreement_id == agreement_id and s.slot_start >= since:
                out |= {(s.id, p) for p in (*s.answered, *s.missed)}
        return out

    async def overdue_inspections(self, *, now: datetime) -> list[tuple[str, str]]:
        from core.inspections.decider import DECIDER

        return [(v.id, deadline) for v in self._states(DECIDER) for deadline in v.overdue(now)]
