"""The active projector is SIGKILLed at 20 random moments while 20,000 events stream in.

Two `parley project` processes run at any time, as a deployment would run them: one holds the
lease and projects, the other stands by. The test reads who holds the lease, kills that process
with SIGKILL at a random moment after it has made progress, and starts a new standby in its
place (as systemd or Kubernetes would). Meanwhile a writer appends 20,000 events. At the end
the read models must equal a clean rebuild of the same stream, byte for byte (digest).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.lease import Lease, projector_lease_name
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.sql.migrate import migrate
from tests.faults.processes import (
    Appender, CheckpointProbe, ParleyProcess, checkpoint_of, clean_rebuild, digest_of, parley_env,
)
from tests.integration.sql_fixtures import generated_history

EVENTS = int(os.environ.get("PARLEY_FAULT_EVENTS", "20000"))
KILLS = int(os.environ.get("PARLEY_FAULT_KILLS", "20"))
LEASE_SECONDS = 1
CYCLE_SECONDS = 2.5  # a kill, the standby's take-over and some progress: what the writer paces by


async def test_active_projector_killed_20_times_during_ingest_ends_equal_to_a_clean_rebuild(
    private_nats: EmbeddedNatsServer, private_store: JetStreamEventStore, stream_spec: StreamSpec,
    app_nc: NATS, read_model_url: str, tmp_path: Path,
) -> None:
    history = generated_history(EVENTS).events
    await migrate(read_model_url)
    env = parley_env(home=tmp_path / "home", nats=private_nats, database_url=read_model_url, spec=stream_spec,
                     PARLEY_PROJECTOR_LEASE_SECONDS=str(LEASE_SECONDS))
    lease = Lease(app_nc, name=projector_lease_name(stream_spec.name, "main", read_model_url), ttl=LEASE_SECONDS)
    appender = Appender(private_store)
    rng = random.Random(20_000)
    started = 0

    def spawn() -> ParleyProcess:
        nonlocal started
        started += 1
        return ParleyProcess(("project",), env, tmp_path / f"projector-{started}.log").start()

    async def ingest() -> None:
        """A steady stream, paced so that it lasts as long as the kills do: one share of the
        events per kill, spread over the CYCLE_SECONDS a kill and take-over usually take."""
        for index, stored in enumerate(history):
            while True:
                share = len(kills) + min(1.0, (time.monotonic() - last_kill[0]) / CYCLE_SECONDS)
                if index < share * len(history) / KILLS:
                    break
                await asyncio.sleep(0.02)
            await appender.append(stored)

    kills: list[tuple[int, int, int]] = []  # (checkpoint before, checkpoint after, events appended) each kill
    last_kill = [time.monotonic()]
    writer = asyncio.create_task(ingest())
    processes = [spawn(), spawn()]
    probe = CheckpointProbe(read_model_url)
    began = time.monotonic()
    try:
        while len(kills) < KILLS:
            assert not writer.done() or writer.exception() is None, writer.exception()
            victim, before = await _active_with_progress(lease, processes, probe, kills)
            await asyncio.sleep(rng.uniform(0.0, 0.4))  # a random moment in its work
            victim.kill()
            last_kill[0] = time.monotonic()
            after = await probe.read()
            assert after >= before, "a checkpoint went backwards"
            kills.append((before, after, len(appender.acked)))
            processes.remove(victim)
            processes.append(spawn())
        kill_seconds = time.monotonic() - began
        await asyncio.wait_for(writer, 120)
        total = len(history)
        deadline = time.monotonic() + 90
        while await probe.read() < total:
            assert time.monotonic() < deadline, "the surviving projectors never caught up:\n" + \
                "\n".join(p.output() for p in processes)
            await asyncio.sleep(0.2)
    finally:
        writer.cancel()
        for process in processes:
            process.stop()
        await probe.close()

    print(f"{len(kills)} kills in {kill_seconds:.1f} s; (checkpoint, appended) at each: "
          f"{[(before, appended) for before, _, appended in kills]}")
    mid_stream = [kill for kill in kills if kill[0] < kill[2] < len(history)]
    assert len(mid_stream) >= KILLS // 2, f"too few kills landed with events streaming in and pending: {kills}"
    assert await checkpoint_of(read_model_url) == len(history)
    reference = await clean_rebuild(private_store, f"sqlite:///{tmp_path / 'reference.db'}")
    assert await digest_of(read_model_url) == reference


async def _active_with_progress(
    lease: Lease, processes: list[ParleyProcess], probe: CheckpointProbe, kills: list[tuple[int, int, int]],
) -> tuple[ParleyProcess, int]:
    """The process holding the lease, once it has moved the checkpoint past the last kill."""
    last = kills[-1][1] if kills else 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        holder, _ = await lease.current()
        pid = int(holder.split("/")[1]) if holder else None
        active = next((p for p in processes if p.pid == pid and p.alive()), None)
        for process in processes:
            assert process.alive(), f"a projector exited on its own:\n{process.output()}"
        if active is not None:
            checkpoint = await probe.read()
            if checkpoint > last:
                return active, checkpoint
        await asyncio.sleep(0.03)
    raise AssertionError("no projector took over within 60 s:\n" + "\n\n".join(p.output() for p in processes))
