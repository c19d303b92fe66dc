"""The command handler starting a cold aggregate from a `StateSource` (a read model's state).

A state source may lag the stream. These tests prove the handler trusts it only as far as the
append's expected-sequence check proves it: a current state saves the load; a stale one
leads to a `Conflict`, then a reload from the store and a correct append (right version,
right prevhash), never an append on top of the stale state. Idempotent retries still fold the
stream, so they still see every event id.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.decider import Fact
from core.errors import Conflict, Rejected
from core.events import decode
from core.incidents.decider import DECIDER as INCIDENTS
from core.incidents.state import Status
from core.ports import AggregateRef, AggregateSnapshot
from core.service import CommandHandler
from tests.unit.fakes import MemoryEventStore
from tests.unit.test_incidents_decider import INC, ack, ask, counter, report

REF = AggregateRef(type=INCIDENTS.type, id=INC)


class CountingStore:
    """The in-memory store, counting how often the handler loads an aggregate from it."""

    def __init__(self) -> None:
        self.inner = MemoryEventStore()
        self.loads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def load(self, ref: AggregateRef) -> Any:
        self.loads += 1
        return await self.inner.load(ref)


class FrozenStates:
    """A state source holding the snapshots it was given (like a read model that stopped)."""

    def __init__(self, **snapshots: AggregateSnapshot) -> None:
        self.snapshots = snapshots
        self.asked = 0

    async def snapshot(self, ref: AggregateRef) -> AggregateSnapshot | None:
        self.asked += 1
        return self.snapshots.get(ref.id) if ref.type == INCIDENTS.type else None


async def snapshot_after(store: CountingStore, events: int) -> AggregateSnapshot:
    """The incident as a read model that has folded only its first `events` events sees it."""
    state, last = INCIDENTS.initial, None
    for stored in (await store.inner.load(REF))[:events]:
        state = INCIDENTS.evolve(state, decode(stored.event), Fact.of(stored.event, seq=stored.seq))
        last = stored
    assert last is not None
    return AggregateSnapshot(state=state, version=last.event.aggversion, last_seq=last.seq, last_hash=last.event.hash)


async def history(store: CountingStore, *commands: Any) -> None:
    writer = CommandHandler(store=store)
    for command in commands:
        await writer.execute(INCIDENTS, INC, command)


async def test_a_current_state_from_the_source_saves_the_load_and_chains_correctly():
    store = CountingStore()
    await history(store, report(), ack())
    states = FrozenStates(**{INC: await snapshot_after(store, 2)})
    store.loads = 0

    outcome = await CommandHandler(store=store, states=states).execute(INCIDENTS, INC, counter())

    assert store.loads == 0 and states.asked == 1
    stored = await store.inner.load(REF)
    assert [s.event.aggversion for s in stored] == [1, 2, 3]
    assert stored[2].event.prevhash == stored[1].event.hash and stored[2].event.id == outcome.events[0].id
    assert outcome.state.status is Status.COUNTER_ACCOUNT_FILED


async def test_a_stale_state_leads_to_a_conflict_then_a_correct_append_on_the_loaded_history():
    store = CountingStore()
    await history(store, report(), ack(), ask(cid="q1"))
    stale = await snapshot_after(store, 2)  # the read model has not seen the question yet
    store.loads = 0
    appended: list[int] = []
    original = store.inner.append

    async def watching(ref: AggregateRef, events: Any, *, expected_seq: int) -> int:
        try:
            seq = await original(ref, events, expected_seq=expected_seq)
        except Conflict:
            appended.append(-expected_seq)
            raise
        appended.append(expected_seq)
        return seq

    store.inner.append = watching  # type: ignore[method-assign]

    outcome = await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(
        INCIDENTS, INC, ask(cid="q2")
    )

    assert appended == [-stale.last_seq, 3]  # refused on the stale sequence, then appended after seq 3
    assert store.loads == 1
    stored = await store.inner.load(REF)
    assert [s.event.aggversion for s in stored] == [1, 2, 3, 4]
    assert stored[3].event.prevhash == stored[2].event.hash
    assert set(outcome.state.clarifications) == {"q1", "q2"}


async def test_a_refusal_decided_on_a_stale_state_is_decided_again_on_the_loaded_history():
    store = CountingStore()
    await history(store, report(), ack())
    stale = await snapshot_after(store, 1)  # still "reported": a counter-account would be out of order

    outcome = await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(INCIDENTS, INC, counter())

    assert outcome.seq == 3 and outcome.state.status is Status.COUNTER_ACCOUNT_FILED
    assert [s.event.aggversion for s in await store.inner.load(REF)] == [1, 2, 3]


async def test_a_stale_state_never_turns_a_refusal_of_the_current_history_into_an_append():
    store = CountingStore()
    await history(store, report(), ack(), counter())
    stale = await snapshot_after(store, 2)  # the stale state would accept a second counter-account

    with pytest.raises(Rejected):
        await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(INCIDENTS, INC, counter())
    assert await store.inner.last_seq() == 3


async def test_if_match_against_a_stale_state_is_checked_on_the_loaded_history():
    store = CountingStore()
    await history(store, report(), ack())
    stale = await snapshot_after(store, 1)

    outcome = await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(
        INCIDENTS, INC, counter(), expected_seq=2
    )
    assert outcome.seq == 3

    with pytest.raises(Conflict) as raised:
        await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(
            INCIDENTS, INC, ask(), expected_seq=1
        )
    assert raised.value.current_seq == 3 and await store.inner.last_seq() == 3


async def test_an_idempotent_retry_still_folds_the_stream_and_finds_the_original_event():
    store = CountingStore()
    await history(store, report(), ack())
    first = await CommandHandler(store=store).execute(INCIDENTS, INC, counter(), event_ids=["evt-counter"])
    stale = await snapshot_after(store, 2)  # the read model has not seen the original append
    store.loads = 0

    again = await CommandHandler(store=store, states=FrozenStates(**{INC: stale})).execute(
        INCIDENTS, INC, counter(), event_ids=["evt-counter"], retrying=True
    )

    assert again.duplicate and again.seq == first.seq and store.loads == 1
    assert await store.inner.last_seq() == 3


async def test_an_aggregate_the_source_does_not_know_is_loaded_from_the_store():
    store = CountingStore()
    await history(store, report())
    store.loads = 0
    states = FrozenStates()

    outcome = await CommandHandler(store=store, states=states).execute(INCIDENTS, INC, ack())

    assert states.asked == 1 and store.loads == 1 and outcome.seq == 2
