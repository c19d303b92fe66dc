"""The notary on a real JetStream stream: when it signs checkpoints, and when it refuses to."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from adapters.integrity.log_tree import LogTree
from adapters.integrity.notary import Notary
from adapters.jetstream.direct import StoredMessage
from adapters.jetstream.stream import StreamSpec
from core import parties
from core.errors import IntegrityError
from core.integrity.checkpoint import open_checkpoint, parse_checkpoint
from core.integrity.merkle import verify_consistency
from tests.integration.integrity_history import ADMIN, ORIGIN, History, build_history, copy_history, drop_streams


@pytest.fixture
async def history(nats_client: NATS, stream_spec: StreamSpec, tmp_path: Path) -> AsyncIterator[History]:
    built = await build_history(nats_client, stream_spec, tmp_path)
    yield built
    await built.audit.close()
    await built.store.close()
    await drop_streams(nats_client, stream_spec.name, built.audit.spec.name)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def notary(history: History, store=None, audit=None, **options) -> Notary:  # noqa: ANN001, ANN003
    key = history.keys.active("system")
    assert key is not None
    return Notary(tree=LogTree(store or history.store), audit=audit or history.audit, key=key, origin=ORIGIN, **options)


async def _add_parties(history: History, *codes: str) -> None:
    for code in codes:
        await history.app.execute(parties.RegisterParty(code=code, name=code, by=ADMIN, at=history.app.clock.now()))


async def test_a_checkpoint_every_n_events_and_each_extends_the_last(history: History) -> None:
    size = await history.store.last_seq()
    await _add_parties(history, "FRA", "DEU", "ITA", "ESP", "POL")
    clock = FakeMonotonic()
    n = notary(history, every_events=2, every_seconds=3600, monotonic=clock)
    await n.start()
    assert n.certified == size  # the fixture's checkpoint, checked against the rebuilt tree
    await n.step()
    notes = [parse_checkpoint(m.data.decode()).checkpoint for m in await history.audit.all()]
    assert [c.size for c in notes] == [size, size + 2, size + 4]  # the fifth event waits for time or more events
    for older, newer in zip(notes, notes[1:]):
        verify_consistency(older.size, newer.size, n.tree.tree.consistency_proof(older.size, newer.size), older.root, newer.root)
    clock.now = 3600
    published = await n.step()
    assert published is not None and published.checkpoint.size == size + 5
    assert open_checkpoint(published.encode(), history.keys.active("system").verifier)  # type: ignore[union-attr]


async def test_a_checkpoint_after_t_seconds_when_few_events_arrive(history: History) -> None:
    clock = FakeMonotonic()
    n = notary(history, every_events=1000, every_seconds=5, monotonic=clock)
    await n.start()
    await _add_parties(history, "FRA")
    assert await n.step() is None
    clock.now = 4.9
    assert await n.step() is None
    clock.now = 5.0
    published = await n.step()
    assert published is not None and published.checkpoint.size == await history.store.last_seq()
    clock.now = 100
    assert await n.step() is None  # nothing new: no checkpoint


async def test_the_notary_refuses_to_restart_on_a_rewritten_history(nats_client: NATS, history: History) -> None:
    def rewrite(messages: list[StoredMessage]) -> list[StoredMessage]:
        messages[2], messages[3] = messages[3], messages[2]
        return messages

    store, audit = await copy_history(nats_client, history, rewrite)
    try:
        with pytest.raises(IntegrityError, match="no longer matches the checkpoint"):
            await notary(history, store=store, audit=audit).start()
    finally:
        await audit.close()
        await store.close()
        await drop_streams(nats_client, store.spec.name, audit.spec.name)


async def test_the_notary_refuses_to_restart_on_a_cut_history(nats_client: NATS, history: History) -> None:
    store, audit = await copy_history(nats_client, history, lambda messages: messages[:-1])
    try:
        with pytest.raises(IntegrityError, match="events were cut"):
            await notary(history, store=store, audit=audit).start()
    finally:
        await audit.close()
        await store.close()
        await drop_streams(nats_client, store.spec.name, audit.spec.name)


async def test_the_notary_does_not_certify_an_event_whose_hash_is_wrong(nats_client: NATS, history: History) -> None:
    def change(messages: list[StoredMessage]) -> list[StoredMessage]:
        messages[-1] = replace(messages[-1], data=messages[-1].data.replace(b'"party":"RUS"', b'"party":"USA"'))
        return messages

    store, audit = await copy_history(nats_client, history, change)
    try:
        fresh = notary(history, store=store, audit=audit)
        with pytest.raises(IntegrityError, match="hash does not match the content; not certifying"):
            await fresh.tree.catch_up()
    finally:
        await audit.close()
        await store.close()
        await drop_streams(nats_client, store.spec.name, audit.spec.name)
