"""Two projectors at once give the same read models as one.

Without a lease (`parley project --once`, twice, started together) both really project: the
checkpoint compare-and-set in each batch's transaction makes the loser of every race re-read the
checkpoint and continue from there, so no batch is applied twice. With the lease (`parley
project`), one is active and the other stands by; killing the active one hands over.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.sql.migrate import migrate
from tests.faults.processes import Appender, ParleyProcess, checkpoint_of, clean_rebuild, digest_of, parley_env
from tests.integration.sql_fixtures import generated_history


async def test_two_projectors_without_a_lease_racing_on_one_database_equal_one(
    private_nats: EmbeddedNatsServer, private_store: JetStreamEventStore, stream_spec: StreamSpec,
    read_model_url: str, tmp_path: Path,
) -> None:
    history = generated_history(3000).events
    appender = Appender(private_store)
    for stored in history:
        await appender.append(stored)
    await migrate(read_model_url)
    env = parley_env(home=tmp_path / "home", nats=private_nats, database_url=read_model_url, spec=stream_spec)
    both = [ParleyProcess(("project", "--once"), env, tmp_path / f"once-{i}.log").start() for i in (1, 2)]
    for process in both:
        code = await asyncio.to_thread(process.process.wait, 180)  # type: ignore[union-attr]
        assert code == 0, process.output()
        assert f"projected up to sequence {len(history)}" in process.output()
    assert await checkpoint_of(read_model_url) == len(history)
    reference = await clean_rebuild(private_store, f"sqlite:///{tmp_path / 'reference.db'}")
    assert await digest_of(read_model_url) == reference


async def test_with_the_lease_one_projector_works_the_other_stands_by_and_takes_over(
    private_nats: EmbeddedNatsServer, private_store: JetStreamEventStore, stream_spec: StreamSpec,
    read_model_url: str, tmp_path: Path,
) -> None:
    history = generated_history(3000).events
    appender = Appender(private_store)
    for stored in history[:2000]:
        await appender.append(stored)
    await migrate(read_model_url)
    env = parley_env(home=tmp_path / "home", nats=private_nats, database_url=read_model_url, spec=stream_spec,
                     PARLEY_PROJECTOR_LEASE_SECONDS="2")
    pair = [ParleyProcess(("project",), env, tmp_path / f"projector-{i}.log").start() for i in (1, 2)]
    try:
        active = await _the_active_one(pair)
        await asyncio.sleep(3.0)  # longer than the TTL: renewals keep the standby waiting
        assert await _the_active_one(pair) is active
        standby = pair[1 - pair.index(active)]
        assert "active:" not in standby.output()

        active.kill()
        killed_at = time.monotonic()
        for stored in history[2000:]:  # written while nobody projects, until the standby takes over
            await appender.append(stored)
        assert await _the_active_one([standby]) is standby
        deadline = time.monotonic() + 60
        while await checkpoint_of(read_model_url) < len(history):
            assert standby.alive(), standby.output()
            assert time.monotonic() < deadline, standby.output()
            await asyncio.sleep(0.1)
        took_over = time.monotonic() - killed_at
        print(f"standby projected the whole stream {took_over:.1f} s after the active projector was killed")
    finally:
        for process in pair:
            process.stop()
    assert standby.process.returncode == 0, standby.output()  # type: ignore[union-attr]  # SIGTERM: clean exit
    reference = await clean_rebuild(private_store, f"sqlite:///{tmp_path / 'reference.db'}")
    assert await digest_of(read_model_url) == reference


async def _the_active_one(processes: list[ParleyProcess], timeout: float = 30.0) -> ParleyProcess:
    """The one process that says it is active (it prints "active:" when it gets the lease)."""
    deadline = time.monotonic() + timeout
    while True:
        active = [p for p in processes if "active:" in p.output(200)]
        assert len(active) <= 1, "two projectors active at once"
        if active:
            return active[0]
        assert time.monotonic() < deadline, "\n\n".join(p.output() for p in processes)
        await asyncio.sleep(0.1)
