"""The JetStream event store against a real nats-server: the shared contract, plus what only
JetStream can show — the stream's configuration, crash safety, and the message on the wire."""

from __future__ import annotations

import asyncio
import gc
import socket
import sys
from contextlib import aclosing
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig

from adapters.embedded.nats_server import EmbeddedNatsServer, NatsServerError, nats_server_binary
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamMisconfigured, StreamSpec, ensure_stream
from core.errors import Unavailable
from core.ports import StoredEvent
from tests.conftest import NatsServerFactory
from tests.integration.contracts.event_store import EventStoreContract, a_history, a_ref, an_event


class TestJetStreamEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, js_store: JetStreamEventStore) -> JetStreamEventStore:
        return js_store


# -- the stream ------------------------------------------------------------------------------


async def test_the_stream_is_created_as_the_design_says(js_store: JetStreamEventStore, nats_client: NATS) -> None:
    config = (await nats_client.jetstream().stream_info(js_store.spec.name)).config
    assert config.subjects == [f"{js_store.spec.subject_prefix}.ev.>"]
    assert config.storage == StorageType.FILE
    assert config.deny_delete and config.deny_purge
    assert not config.allow_rollup_hdrs
    assert config.allow_direct
    assert config.duplicate_window is not None and config.duplicate_window >= 120
    assert config.max_msgs == -1 and config.max_bytes == -1 and not config.max_age
    assert config.num_replicas == 1


async def test_ensure_stream_accepts_a_stream_it_created(js_store: JetStreamEventStore, nats_client: NATS) -> None:
    info = await ensure_stream(nats_client.jetstream(), js_store.spec)
    assert info.config.name == js_store.spec.name


async def test_ensure_stream_refuses_a_misconfigured_stream_and_names_every_problem(
    nats_client: NATS, stream_spec: StreamSpec
) -> None:
    js = nats_client.jetstream()
    await js.add_stream(
        StreamConfig(
            name=stream_spec.name,
            subjects=[f"{stream_spec.subject_prefix}.other.>"],
            storage=StorageType.MEMORY,
            deny_delete=False,
            deny_purge=False,
            allow_direct=False,
            duplicate_window=30,
        )
    )
    try:
        with pytest.raises(StreamMisconfigured) as caught:
            await ensure_stream(js, stream_spec)
        message = str(caught.value)
        for problem in ("subjects", "storage", "deny_delete", "deny_purge", "allow_direct", "duplicate_window"):
            assert problem in message
        assert isinstance(caught.value, ValueError)
        # Left exactly as it was: never deleted, recreated or edited behind the operator's back.
        config = (await js.stream_info(stream_spec.name)).config
        assert config.storage == StorageType.MEMORY and not config.deny_delete
    finally:
        await js.delete_stream(stream_spec.name)


async def test_ensure_stream_explains_subjects_taken_by_another_stream(
    js_store: JetStreamEventStore, nats_client: NATS
) -> None:
    rival = StreamSpec(name=f"{js_store.spec.name}X", subject_prefix=js_store.spec.subject_prefix)
    with pytest.raises(StreamMisconfigured, match="cannot be created"):
        await ensure_stream(nats_client.jetstream(), rival)


# -- the messages ----------------------------------------------------------------------------


async def test_the_stored_message_carries_the_event_id_as_nats_msg_id(
    js_store: JetStreamEventStore, nats_client: NATS
) -> None:
    ref = a_ref()
    event = an_event(ref)
    seq = await js_store.append(ref, [event], expected_seq=0)
    # Read it back with the client library's own (non-direct) API, independent of ours.
    message = await nats_client.jetstream().get_msg(js_store.spec.name, seq)
    assert message.headers is not None and message.headers["Nats-Msg-Id"] == event.id
    assert message.subject == f"{js_store.spec.subject_prefix}.ev.{ref.type}.{ref.id}"
    assert message.data == event.to_json()
    raw = await js_store.get_raw(seq)
    assert raw is not None and raw.msg_id == event.id and raw.data == event.to_json()


async def test_get_returns_the_event_at_a_sequence_or_none(js_store: JetStreamEventStore) -> None:
    ref = a_ref()
    events = a_history(ref, 2)
    await js_store.append(ref, events, expected_seq=0)
    second = await js_store.get(2)
    assert second is not None and second.event == events[1]
    assert [await js_store.get(seq) for seq in (0, 3, 99)] == [None, None, None]


async def test_load_pages_through_long_histories(nats_client: NATS, js_store: JetStreamEventStore) -> None:
    small_batches = JetStreamEventStore(nc=nats_client, spec=js_store.spec, load_batch=3)
    ref, other = a_ref(), a_ref()
    events = a_history(ref, 10)
    seq = other_seq = 0
    for event in events:
        seq = await small_batches.append(ref, [event], expected_seq=seq)
        other_seq = await small_batches.append(other, [an_event(other, other_seq + 1)], expected_seq=other_seq)
    loaded = await small_batches.load(ref)
    assert [s.event.id for s in loaded] == [e.id for e in events]
    assert loaded == await js_store.load(ref)
    await small_batches.close()


async def test_loading_from_a_stream_that_does_not_exist_is_unavailable(nats_client: NATS) -> None:
    store = JetStreamEventStore(nc=nats_client, spec=StreamSpec(name="NOSUCHSTREAM", subject_prefix="nope"), timeout=1)
    with pytest.raises(Unavailable):
        await store.load(a_ref())
    await store.close()


# -- reading the stream ----------------------------------------------------------------------


async def consumer_count(nats_client: NATS, spec: StreamSpec) -> int:
    return (await nats_client.jetstream().stream_info(spec.name)).state.consumer_count


async def test_a_reader_that_stops_early_leaves_no_consumer_behind(
    js_store: JetStreamEventStore, nats_client: NATS
) -> None:
    ref = a_ref()
    await js_store.append(ref, a_history(ref, 5), expected_seq=0)
    async with aclosing(js_store.read()) as events:
        async for stored in events:
            assert await consumer_count(nats_client, js_store.spec) == 1
            if stored.seq == 2:
                break
    assert await consumer_count(nats_client, js_store.spec) == 0

    # A plain `break` without aclosing: Python finalises the generator soon after.
    async for stored in js_store.read():
        break
    gc.collect()
    for _ in range(100):
        if await consumer_count(nats_client, js_store.spec) == 0:
            break
        await asyncio.sleep(0.02)
    assert await consumer_count(nats_client, js_store.spec) == 0


async def test_follow_delivers_history_then_live_events(js_store: JetStreamEventStore) -> None:
    ref = a_ref()
    events = a_history(ref, 4)
    await js_store.append(ref, events[:2], expected_seq=0)
    seen: list[StoredEvent] = []

    async def follow() -> None:
        async with aclosing(js_store.follow(after=1)) as live:
            async for stored in live:
                seen.append(stored)
                if len(seen) == 3:
                    return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    await js_store.append(ref, events[2:], expected_seq=2)
    await asyncio.wait_for(follower, timeout=10)
    assert [(s.seq, s.event.id) for s in seen] == [(2, events[1].id), (3, events[2].id), (4, events[3].id)]


# -- crashes ---------------------------------------------------------------------------------


async def test_acknowledged_events_survive_a_server_crash(
    nats_server_factory: NatsServerFactory, stream_spec: StreamSpec
) -> None:
    server = nats_server_factory()
    nc = await connect(server.admin_url, name="crash-test")
    await ensure_stream(nc.jetstream(), stream_spec)
    store = JetStreamEventStore(nc=nc, spec=stream_spec, timeout=1.0)
    ref = a_ref()
    events = a_history(ref, 25)
    seq = 0
    for event in events[:-1]:
        seq = await store.append(ref, [event], expected_seq=seq)

    await server.kill()
    with pytest.raises(Unavailable):  # whether it was stored is unknown to the caller...
        await store.append(ref, [events[-1]], expected_seq=seq)
    await server.start()  # same store dir, same port

    fresh = await connect(server.admin_url, name="after-crash")
    try:
        reread = JetStreamEventStore(nc=fresh, spec=stream_spec)
        loaded = await reread.load(ref)
        assert [s.event.id for s in loaded][:24] == [e.id for e in events[:-1]]
        await ensure_stream(fresh.jetstream(), stream_spec)  # configuration survived too

        for _ in range(300):  # the first connection reconnects by itself
            if nc.is_connected:
                break
            await asyncio.sleep(0.05)
        assert nc.is_connected
        # ...so the caller retries the same event, and it is stored exactly once.
        last = await store.append(ref, [events[-1]], expected_seq=seq)
        assert [s.event.id for s in await reread.load(ref)] == [e.id for e in events]
        assert last == loaded[23].seq + 1
        await reread.close()
    finally:
        await fresh.close()
        await store.close()
        await nc.close()


async def test_a_follower_carries_on_after_a_server_restart(
    nats_server_factory: NatsServerFactory, stream_spec: StreamSpec
) -> None:
    server = nats_server_factory()
    nc = await connect(server.admin_url, name="follow-restart")
    await ensure_stream(nc.jetstream(), stream_spec)
    store = JetStreamEventStore(nc=nc, spec=stream_spec)
    ref = a_ref()
    events = a_history(ref, 4)
    await store.append(ref, events[:2], expected_seq=0)
    seen: list[int] = []

    async def follow() -> None:
        async with aclosing(store.follow()) as live:
            async for stored in live:
                seen.append(stored.seq)
                if len(seen) == 4:
                    return

    follower = asyncio.create_task(follow())
    try:
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        await server.kill()
        await server.start()
        while not nc.is_connected:
            await asyncio.sleep(0.05)
        await store.append(ref, events[2:], expected_seq=2)
        await asyncio.wait_for(follower, timeout=15)  # the lost consumer is recreated
        assert seen == [1, 2, 3, 4]
    finally:
        follower.cancel()
        await store.close()
        await nc.close()


async def test_connecting_to_nothing_fails_fast_and_clearly(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable, match=f"127.0.0.1:{port}"):
        await connect(f"nats://127.0.0.1:{port}", name="nowhere", connect_timeout=1.0)
    assert asyncio.get_running_loop().time() - started < 5


# -- the embedded server ---------------------------------------------------------------------


def test_the_embedded_server_runs_the_pinned_binary_beside_the_interpreter(nats_server: EmbeddedNatsServer) -> None:
    assert nats_server_binary() == Path(sys.executable).parent / "nats-server"
    assert nats_server.running and nats_server.pid is not None
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert "Server is ready" in nats_server.log_tail(200)


def test_a_server_that_cannot_start_says_why(nats_server: EmbeddedNatsServer, tmp_path: Path) -> None:
    clash = EmbeddedNatsServer(store_dir=tmp_path / "clash", port=nats_server.port, startup_timeout=10)
    with pytest.raises(NatsServerError) as caught:
        clash.start_blocking()
    assert "exited" in str(caught.value) and "address already in use" in str(caught.value)
    assert not clash.running
