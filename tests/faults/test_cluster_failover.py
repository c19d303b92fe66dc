"""A 3-node cluster from deploy/nats/cluster/ with an R3 stream: the stream leader is SIGKILLed
during ingest. Appends stall only for the election, then resume; every acknowledged event is on
the stream exactly once, at the sequence it was acknowledged with; the killed node rejoins and
catches up. Also: the application's user cannot delete or purge the stream, the admin can."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import AsyncIterator

import nats.errors
import pytest

from adapters.jetstream.connect import NatsAuth, connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from core.errors import Conflict, Unavailable
from tests.faults.cluster import Cluster, cluster_from_deploy
from tests.faults.processes import Appender
from tests.integration.sql_fixtures import generated_history

EVENTS = 3000
KILL_AT = 1000


@pytest.fixture
def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = cluster_from_deploy(tmp_path / "cluster")
    try:
        for name in cluster.nodes:
            cluster.start(name)
        cluster.wait_healthy()
        yield cluster
    finally:
        cluster.close()


async def test_stream_leader_killed_during_ingest_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    token = uuid.uuid4().hex[:8]
    spec = StreamSpec(name=f"R3{token}", subject_prefix=f"r3{token}", replicas=3)
    app = await connect(cluster.urls, name="faults-app", auth=NatsAuth(user=cluster.app_user, password=cluster.app_password))
    admin = await connect(cluster.urls, name="faults-admin",
                          auth=NatsAuth(user=cluster.admin_user, password=cluster.admin_password))
    try:
        js = app.jetstream(timeout=5)
        info = await _until_ok(lambda: ensure_stream(js, spec), 30)  # as `parley serve` does, as the app user
        assert info.config.num_replicas == 3

        # The deploy config's second lock: the application may not destroy history.
        for attempt in (js.delete_stream(spec.name), js.purge_stream(spec.name)):
            with pytest.raises((nats.errors.Error, asyncio.TimeoutError)):
                await attempt

        store = JetStreamEventStore(nc=app, spec=spec, timeout=3.0)
        appender = Appender(store)
        history = generated_history(EVENTS).events
        killed: str | None = None
        stall = 0.0
        for index, stored in enumerate(history):
            if index == KILL_AT:
                killed = (await admin.jetstream().stream_info(spec.name)).cluster.leader
                cluster.kill(killed)
                began = time.monotonic()
            await _append_retrying(appender, stored)
            if index == KILL_AT:
                stall = time.monotonic() - began
        assert killed is not None
        print(f"stream leader {killed} SIGKILLed at append {KILL_AT}; the next append was acknowledged "
              f"{stall:.2f} s later")
        assert stall < 30, f"ingest stalled {stall:.1f}s after the leader was killed"

        new_leader = (await admin.jetstream().stream_info(spec.name)).cluster.leader
        assert new_leader != killed
        seqs = await _read_retrying(store)
        for msg_id, seq in seqs.items():
            assert appender.acked.get(msg_id) == seq, "an event is not where it was acknowledged"
        assert len(appender.acked) == EVENTS
        assert set(seqs) == set(appender.acked), "an event is missing or stored twice"

        # The killed node comes back and catches up: three current replicas again.
        cluster.start(killed)
        cluster.wait_healthy(killed)
        deadline = time.monotonic() + 60
        while True:
            state = (await admin.jetstream().stream_info(spec.name)).cluster
            peers = [replica for replica in (state.replicas or []) if replica.current]
            if len(peers) == 2 and state.leader is not None:
                break
            assert time.monotonic() < deadline, f"{killed} did not catch up: {state}"
            await asyncio.sleep(0.25)
        await store.close()

        # The admin can (the test cleans up with it).
        await admin.jetstream().delete_stream(spec.name)
    finally:
        await app.close()
        await admin.close()


async def _append_retrying(appender: Appender, stored, *, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Append until acknowledged; a retry re-sends the same event, which is never stored twice."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await appender.append(stored)
            return
        except (Unavailable, Conflict, nats.errors.Error, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _read_retrying(store: JetStreamEventStore, *, timeout: float = 60.0) -> dict[str, int]:
    """Every message id of the stream and its sequence, read from the start; a read the fresh
    leader cannot serve yet (`Unavailable`: the consumer cannot be created while it settles, seen
    on a busy machine) starts over, as the projector does. A message id seen twice fails."""
    deadline = time.monotonic() + timeout
    while True:
        seqs: dict[str, int] = {}
        try:
            async for message in store.read_raw():
                assert message.msg_id not in seqs, f"{message.msg_id} is stored twice"
                seqs[message.msg_id] = message.seq
            return seqs
        except (Unavailable, nats.errors.Error, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _until_ok(make, timeout: float):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError, Unavailable):
            return await make()
        assert time.monotonic() < deadline, "the cluster never accepted the request"
        await asyncio.sleep(0.5)
