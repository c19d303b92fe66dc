"""The projector SIGKILLed mid-rebuild and restarted ends exactly where a clean rebuild ends.

A real `parley project --once` process reads a real JetStream stream into the database under
test; it is killed with SIGKILL at random moments (after it has made progress), restarted, and
finally allowed to finish. The digest must equal that of a clean, uninterrupted rebuild — and on
SQLite and PostgreSQL alike, committing in-process and from a writer process (whose child,
orphaned by the SIGKILL, must finish or roll back its transaction and exit on its own).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.sql.digest import digest
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from adapters.embedded.nats_server import EmbeddedNatsServer
from core.ports import AggregateRef
from tests.e2e.cli_process import PARLEY, environment
from tests.integration.sql_fixtures import generated_history

EVENTS = int(os.environ.get("PARLEY_CRASH_EVENTS", "12000"))
KILLS = 6


async def fill(store: JetStreamEventStore, n: int) -> int:
    history = generated_history(n)
    last: dict[tuple[str, str], int] = {}
    for stored in history.events:
        event = stored.event
        key = (event.aggtype, event.subject)
        last[key] = await store.append(AggregateRef(type=event.aggtype, id=event.subject), [event], expected_seq=last.get(key, 0))
    return len(history.events)


async def checkpoint_of(url: str) -> int:
    engine = create_engine(url)
    try:
        return await Projector(engine=engine, store=None).checkpoint()  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def clean_rebuild(store: JetStreamEventStore, url: str) -> str:
    await migrate(url)
    engine = create_engine(url)
    try:
        await Projector(engine=engine, store=store).catch_up()
        return await digest(engine)
    finally:
        await engine.dispose()


def writer_children(home: Path) -> list[int]:
    """Writer processes (adapters/sql/writer_child.py) started by this test's `parley` processes."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"adapters.sql.writer_child" in command and f"PARLEY_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("writer_process_from", ["0", "1"], ids=["in-process", "writer-process"])
async def test_projector_killed_at_random_moments_ends_with_the_clean_rebuild_digest(
    js_store: JetStreamEventStore, stream_spec: StreamSpec, nats_server: EmbeddedNatsServer,
    database_url: str, sqlite_url: str, tmp_path: Path, writer_process_from: str,
) -> None:
    total = await fill(js_store, EVENTS)
    home = tmp_path / "home"
    env = environment(
        PARLEY_HOME=str(home), PARLEY_NATS_URL=nats_server.app_url, PARLEY_DATABASE_URL=database_url,
        PARLEY_STREAM=stream_spec.name, PARLEY_SUBJECT_PREFIX=stream_spec.subject_prefix,
        PARLEY_PROJECTOR_WRITER_PROCESS_FROM=writer_process_from,
    )
    await migrate(database_url)
    rng = random.Random(2024)
    kills, seen, children_seen = 0, 0, 0
    while kills < KILLS:
        process = subprocess.Popen([str(PARLEY), "project", "--once"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            while process.poll() is None and await checkpoint_of(database_url) <= seen:
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0, 0.25))
            if process.poll() is not None:
                break
            children_seen += len(writer_children(home))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1
            now = await checkpoint_of(database_url)
            assert now >= seen, "a checkpoint went backwards"
            seen = now
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert kills >= 2, "the projector finished before it could be killed twice; raise PARLEY_CRASH_EVENTS"
    final = subprocess.run([str(PARLEY), "project", "--once"], env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert await checkpoint_of(database_url) == total

    crashed = await _digest(database_url)
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    assert crashed == await clean_rebuild(js_store, reference_url)
    if writer_process_from == "0":
        assert children_seen == 0
    else:
        assert children_seen > 0, "the projector never used a writer process"
        for _ in range(100):  # an orphan finishes its transaction first
            if not writer_children(home):
                break
            await asyncio.sleep(0.1)
        assert writer_children(home) == [], "a writer process outlived its projector"


async def _digest(url: str) -> str:
    engine = create_engine(url)
    try:
        return await digest(engine)
    finally:
        await engine.dispose()
