"""The event store contract: what every `core.ports.EventStore` must do, written once.

Subclass `EventStoreContract` in a `Test…` class and provide a `store` fixture that yields a
fresh, empty store; pytest then runs every test here against that implementation (the
in-memory fake in `tests/unit`, JetStream in `tests/integration`).
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.envelope import Event, format_time, hash_is_valid, seal
from core.errors import Conflict, Invalid
from core.ports import AggregateRef, EventStore, StoredEvent


def a_ref(kind: str = "incident") -> AggregateRef:
    return AggregateRef(type=kind, id=uuid.uuid4().hex)


def an_event(ref: AggregateRef, version: int = 1, *, prevhash: str | None = None, **data: Any) -> Event:
    """A sealed event of `ref`, as the application service would append it."""
    return seal(
        Event(
            id=str(uuid.uuid4()),
            type="parley.test.happened.v1",
            source="party/USA/officer-7",
            subject=ref.id,
            time=format_time(datetime.now(UTC)),
            aggtype=ref.type,
            aggversion=version,
            party="USA",
            actor="officer-7",
            correlationid=str(uuid.uuid4()),
            data=data or {"note": f"event {version}"},
        ),
        prevhash=prevhash,
    )


def a_history(ref: AggregateRef, count: int) -> list[Event]:
    """`count` events of `ref`, hash-chained like real history."""
    events: list[Event] = []
    for version in range(1, count + 1):
        events.append(an_event(ref, version, prevhash=events[-1].hash if events else None))
    return events


async def collect(store: EventStore, **bounds: int | None) -> list[StoredEvent]:
    return [stored async for stored in store.read(**bounds)]


class EventStoreContract(abc.ABC):
    """Every test gets the `store` fixture: a fresh, empty `EventStore`."""

    @abc.abstractmethod
    def store(self) -> EventStore:
        """Override with a pytest fixture of the same name."""

    # -- append ------------------------------------------------------------------------------

    async def test_first_append_to_a_new_aggregate_expects_zero_and_returns_its_sequence(
        self, store: EventStore
    ) -> None:
        ref = a_ref()
        seq = await store.append(ref, [an_event(ref)], expected_seq=0)
        assert seq >= 1
        assert await store.last_subject_seq(ref) == seq

    async def test_appending_several_events_returns_the_last_sequence(self, store: EventStore) -> None:
        ref = a_ref()
        events = a_history(ref, 3)
        last = await store.append(ref, events, expected_seq=0)
        loaded = await store.load(ref)
        assert [s.event for s in loaded] == events
        assert loaded[-1].seq == last
        assert [s.seq for s in loaded] == sorted({s.seq for s in loaded})

    async def test_append_with_a_stale_expected_sequence_conflicts_and_stores_nothing(
        self, store: EventStore
    ) -> None:
        ref = a_ref()
        first = await store.append(ref, a_history(ref, 2), expected_seq=0)
        before = await store.last_seq()
        for stale in (0, first - 1, first + 5):
            with pytest.raises(Conflict) as caught:
                await store.append(ref, [an_event(ref, 3)], expected_seq=stale)
            assert caught.value.current_seq == first
            assert str(caught.value)
        assert len(await store.load(ref)) == 2
        assert await store.last_seq() == before

    async def test_append_to_a_missing_aggregate_with_nonzero_expectation_conflicts(
        self, store: EventStore
    ) -> None:
        ref = a_ref()
        with pytest.raises(Conflict) as caught:
            await store.append(ref, [an_event(ref)], expected_seq=3)
        assert caught.value.current_seq == 0
        assert await store.load(ref) == []

    async def test_a_conflicting_writer_loses_and_the_winner_is_kept(self, store: EventStore) -> None:
        ref = a_ref()
        base = await store.append(ref, [an_event(ref)], expected_seq=0)
        winner, loser = an_event(ref, 2), an_event(ref, 2)
        await store.append(ref, [winner], expected_seq=base)
        with pytest.raises(Conflict):
            await store.append(ref, [loser], expected_seq=base)
        assert [s.event.id for s in await store.load(ref)][-1] == winner.id

    async def test_appending_the_same_event_twice_stores_one_copy_at_the_same_sequence(
        self, store: EventStore
    ) -> None:
        ref = a_ref()
        event = an_event(ref)
        seq = await store.append(ref, [event], expected_seq=0)
        assert await store.append(ref, [event], expected_seq=0) == seq  # a retry
        assert [s.event.id for s in await store.load(ref)] == [event.id]

    async def test_retrying_a_multi_event_append_stores_each_event_once(self, store: EventStore) -> None:
        ref = a_ref()
        events = a_history(ref, 3)
        last = await store.append(ref, events, expected_seq=0)
        assert await store.append(ref, events, expected_seq=0) == last
        first_seq = (await store.load(ref))[0].seq
        assert await store.append(ref, events[1:], expected_seq=first_seq) == last
        assert [s.event.id for s in await store.load(ref)] == [e.id for e in events]

    async def test_an_event_id_another_aggregate_already_stored_is_refused_not_swallowed(
        self, store: EventStore
    ) -> None:
        """Ids a client pinned (client-signed writes) may collide on purpose; deduplicating such
        an event silently would report an append that never happened."""
        ref, other = a_ref(), a_ref()
        stored = an_event(ref)
        await store.append(ref, [stored], expected_seq=0)
        clash = seal(replace(an_event(other), id=stored.id), prevhash=None)
        with pytest.raises(Invalid, match="already used"):
            await store.append(other, [clash], expected_seq=0)
        assert await store.load(other) == [] and await store.last_seq() == 1

    async def test_an_empty_append_only_checks_the_expectation(self, store: EventStore) -> None:
        ref = a_ref()
        assert await store.append(ref, [], expected_seq=0) == 0
        seq = await store.append(ref, [an_event(ref)], expected_seq=0)
        assert await store.append(ref, [], expected_seq=seq) == seq
        with pytest.raises(Conflict):
            await store.append(ref, [], expected_seq=0)
        assert len(await store.load(ref)) == 1

    async def test_an_event_of_another_aggregate_is_refused(self, store: EventStore) -> None:
        ref, other = a_ref(), a_ref()
        with pytest.raises(Invalid):
            await store.append(ref, [an_event(other)], expected_seq=0)
        assert await store.load(ref) == [] and await store.last_seq() == 0

    @pytest.mark.parametrize(
        "kind, ident",
        [
            ("incident", ""), ("", "abc"), ("incident", "a.b"), ("inc.ident", "abc"),
            ("incident", "*"), ("incident", ">"), ("incident", "a b"), ("incident", "a\tb"),
            ("in*", "abc"), ("incident", "ab\n"),
        ],
    )  # fmt: skip
    async def test_an_aggregate_that_is_not_one_subject_token_is_invalid(
        self, store: EventStore, kind: str, ident: str
    ) -> None:
        ref = AggregateRef(type=kind, id=ident)
        with pytest.raises(Invalid):
            await store.append(ref, [an_event(ref)], expected_seq=0)
        with pytest.raises(Invalid):
            await store.load(ref)
        with pytest.raises(Invalid):
            await store.last_subject_seq(ref)
        assert await store.last_seq() == 0

    # -- load --------------------------------------------------------------------------------

    async def test_load_returns_the_aggregates_events_in_order_with_sequence_and_recorded_time(
        self, store: EventStore
    ) -> None:
        ref, other = a_ref(), a_ref("hotline")
        events = a_history(ref, 4)
        other_events = a_history(other, 4)
        seq = other_seq = 0
        started = datetime.now(UTC) - timedelta(seconds=1)
        for mine, theirs in zip(events, other_events):  # interleaved on the stream
            seq = await store.append(ref, [mine], expected_seq=seq)
            other_seq = await store.append(other, [theirs], expected_seq=other_seq)
        loaded = await store.load(ref)
        assert [s.event for s in loaded] == events
        assert [s.seq for s in loaded] == [1, 3, 5, 7]
        assert all(s.recorded.tzinfo is not None and s.recorded.utcoffset() == timedelta(0) for s in loaded)
        times = [s.recorded for s in loaded]
        assert times == sorted(times)
        assert started <= times[0] and times[-1] <= datetime.now(UTC) + timedelta(seconds=1)

    async def test_load_of_a_missing_aggregate_is_empty(self, store: EventStore) -> None:
        assert await store.load(a_ref()) == []

    async def test_last_subject_seq_is_zero_then_follows_the_aggregates_last_event(
        self, store: EventStore
    ) -> None:
        ref, other = a_ref(), a_ref()
        assert await store.last_subject_seq(ref) == 0
        seq = await store.append(ref, a_history(ref, 2), expected_seq=0)
        await store.append(other, [an_event(other)], expected_seq=0)
        assert await store.last_subject_seq(ref) == seq
        assert await store.last_subject_seq(other) == seq + 1

    async def test_events_round_trip_byte_for_byte_with_valid_hashes(self, store: EventStore) -> None:
        ref = a_ref()
        event = an_event(ref, text="Zwischenfall bei Ölplattform — 事件 ✓", nested={"a": [1, 2.5, None, True]})
        seq = await store.append(ref, [event], expected_seq=0)
        (loaded,) = await store.load(ref)
        (read,) = await collect(store)
        for stored in (loaded, read):
            assert stored.seq == seq
            assert stored.event.to_json() == event.to_json()
            assert hash_is_valid(stored.event)
        assert loaded.recorded == read.recorded

    # -- read --------------------------------------------------------------------------------

    async def test_read_yields_the_whole_stream_in_order(self, store: EventStore) -> None:
        refs = [a_ref(), a_ref("inspection")]
        appended: list[str] = []
        for ref in refs:
            events = a_history(ref, 3)
            await store.append(ref, events, expected_seq=0)
            appended += [e.id for e in events]
        stored = await collect(store)
        assert [s.seq for s in stored] == list(range(1, 7))
        assert [s.event.id for s in stored] == appended
        assert await store.last_seq() == 6

    async def test_read_respects_after_and_until(self, store: EventStore) -> None:
        ref = a_ref()
        await store.append(ref, a_history(ref, 6), expected_seq=0)

        async def seqs(**bounds: int | None) -> list[int]:
            return [s.seq for s in await collect(store, **bounds)]

        assert await seqs(after=2) == [3, 4, 5, 6]
        assert await seqs(after=2, until=4) == [3, 4]
        assert await seqs(until=1) == [1]
        assert await seqs(after=0, until=100) == [1, 2, 3, 4, 5, 6]
        assert await seqs(after=6) == []
        assert await seqs(after=10) == []
        assert await seqs(after=4, until=4) == []
        assert await seqs(after=5, until=2) == []
        assert await seqs(after=-3, until=2) == [1, 2]

    async def test_read_of_an_empty_stream_yields_nothing(self, store: EventStore) -> None:
        assert await collect(store) == []
        assert await collect(store, after=0, until=10) == []
        assert await store.last_seq() == 0

    async def test_read_ends_at_the_last_sequence_when_reading_started(self, store: EventStore) -> None:
        ref = a_ref()
        last = await store.append(ref, a_history(ref, 3), expected_seq=0)
        seen: list[int] = []
        async with aclosing(store.read()) as events:
            async for stored in events:
                seen.append(stored.seq)
                if stored.seq == 1:  # a write that lands while the replay runs
                    late = a_ref()
                    await store.append(late, [an_event(late)], expected_seq=0)
        assert seen == [1, 2, 3]
        assert await store.last_seq() == last + 1

    async def test_a_reader_may_stop_early(self, store: EventStore) -> None:
        ref = a_ref()
        await store.append(ref, a_history(ref, 5), expected_seq=0)
        async with aclosing(store.read()) as events:
            async for stored in events:
                if stored.seq == 2:
                    break
        assert [s.seq for s in await collect(store, after=3)] == [4, 5]

    # -- seq_at ------------------------------------------------------------------------------

    async def test_seq_at_finds_the_last_sequence_recorded_by_a_moment(self, store: EventStore) -> None:
        ref = a_ref()
        seq = 0
        for event in a_history(ref, 3):
            seq = await store.append(ref, [event], expected_seq=seq)
            await asyncio.sleep(0.003)  # distinct recorded instants
        first, second, third = await store.load(ref)
        assert await store.seq_at(first.recorded - timedelta(seconds=1)) == 0
        assert await store.seq_at(first.recorded - timedelta(microseconds=1)) == 0
        assert await store.seq_at(first.recorded) == first.seq
        assert await store.seq_at(second.recorded) == second.seq
        assert await store.seq_at(second.recorded + (third.recorded - second.recorded) / 2) == second.seq
        assert await store.seq_at(third.recorded - timedelta(microseconds=1)) == second.seq
        assert await store.seq_at(third.recorded) == third.seq
        assert await store.seq_at(datetime.now(UTC) + timedelta(days=1)) == third.seq

    async def test_seq_at_answers_for_moments_far_in_the_past_and_future(self, store: EventStore) -> None:
        ref = a_ref()
        last = await store.append(ref, a_history(ref, 2), expected_seq=0)
        for year in (1, 987, 1969):
            assert await store.seq_at(datetime(year, 6, 1, tzinfo=UTC)) == 0
        for year in (2263, 9999):
            assert await store.seq_at(datetime(year, 6, 1, tzinfo=UTC)) == last
        assert await store.seq_at(datetime.max.replace(tzinfo=UTC)) == last

    async def test_seq_at_on_an_empty_stream_is_zero(self, store: EventStore) -> None:
        assert await store.seq_at(datetime.now(UTC)) == 0

    async def test_seq_at_needs_an_aware_moment(self, store: EventStore) -> None:
        with pytest.raises(ValueError):
            await store.seq_at(datetime.now())
