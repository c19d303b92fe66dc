"""Two `parley notary` processes on one stream (real nats-server, real subprocesses): one holds
the notary lease and publishes checkpoints, the other stands by; `notary --once` refuses while
the lease is held; when the active one is SIGKILLed the other takes over within the lease TTL and
continues the same checkpoint history (nothing published twice, one system key)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.audit_stream import AuditLog, AuditSpec
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from core.integrity.checkpoint import parse_checkpoint
from tests.e2e.cli_process import parley
from tests.faults.processes import Appender, ParleyProcess, parley_env
from tests.integration.sql_fixtures import generated_history

LEASE_SECONDS = 2
ACTIVE = "active: this process now publishes checkpoints"
PUBLISHED = "checkpoint published"


def text(process: ParleyProcess) -> str:
    return process.log_path.read_text(errors="replace")


async def checkpoint_size(audit: AuditLog) -> int:
    if not await audit.exists():  # the first notary to start creates it
        return 0
    note = await audit.latest_checkpoint()
    return parse_checkpoint(note).checkpoint.size if note else 0


async def until(condition, timeout: float, what: str) -> float:  # noqa: ANN001
    began = time.monotonic()
    while not await condition():
        assert time.monotonic() - began < timeout, f"{what} did not happen within {timeout:g} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def test_two_notaries_one_publishes_and_the_other_takes_over_when_it_dies(
    private_nats: EmbeddedNatsServer, app_nc: NATS, private_store: JetStreamEventStore, stream_spec: StreamSpec,
    tmp_path: Path,
) -> None:
    history = generated_history(120).events
    appender = Appender(private_store)
    for stored in history[:60]:
        await appender.append(stored)
    audit = AuditLog(app_nc, AuditSpec.beside(stream_spec))

    def notary(name: str, *args: str) -> ParleyProcess:
        env = parley_env(home=tmp_path / name, nats=private_nats, database_url=f"sqlite:///{tmp_path / name}.db",
                         spec=stream_spec, PARLEY_KEYS_DIR=str(tmp_path / "keys"),  # one system key, shared
                         PARLEY_AUDIT_ORIGIN="parley.test/notaries", PARLEY_NOTARY_LEASE_SECONDS=str(LEASE_SECONDS),
                         PARLEY_CHECKPOINT_EVERY_SECONDS="0.3", PARLEY_LOG_FORMAT="console")
        return ParleyProcess(("notary", *args), env, tmp_path / f"{name}.log")

    notaries = [notary("a").start(), notary("b").start()]
    try:
        async def one_active() -> bool:
            return any(ACTIVE in text(p) for p in notaries) and await checkpoint_size(audit) >= 61

        await until(one_active, 60, "a first checkpoint (60 events and the system key)")
        await asyncio.sleep(LEASE_SECONDS * 2)  # renewals keep it; the other one only stands by
        for stored in history[60:90]:
            await appender.append(stored)
        await until(lambda: _at_least(audit, 91), 20, "a checkpoint of the new events")
        actives = [p for p in notaries if ACTIVE in text(p)]
        assert len(actives) == 1, [text(p) for p in notaries]
        first = actives[0]
        second = notaries[1] if first is notaries[0] else notaries[0]
        assert all(p.alive() for p in notaries), [p.output() for p in notaries]
        assert PUBLISHED in text(first) and PUBLISHED not in text(second), text(second)
        assert "standing by" in text(second), text(second)

        refused = parley("notary", "--once", env=notary("c").env)
        assert refused.returncode == 1 and "another notary holds the lease" in refused.stderr, refused.stderr
        assert refused.stdout == ""

        first.kill()
        killed_at, certified = time.monotonic(), await checkpoint_size(audit)
        for stored in history[90:]:
            await appender.append(stored)
        total = len(history) + 1  # and the system key's event
        await until(lambda: _at_least(audit, total), LEASE_SECONDS + 30, "the standby's checkpoint of everything")
        taken_over = time.monotonic() - killed_at
        assert ACTIVE in text(second) and PUBLISHED in text(second), text(second)
        assert taken_over < LEASE_SECONDS + 20, f"took over only after {taken_over:.1f} s"
        assert certified >= 91
    finally:
        for process in notaries:
            process.stop()

    # One history of checkpoints, growing, signed by the one system key (the standby checked the
    # last published checkpoint against the stream before continuing it).
    sizes = [parse_checkpoint(m.data.decode()).checkpoint.size for m in await audit.all()
             if m.subject == AuditSpec.beside(stream_spec).checkpoint_subject]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
    keys = [s.event for s in [x async for x in private_store.read()] if s.event.type == "parley.key.published.v1"]
    assert len(keys) == 1, [k.subject for k in keys]
    for process in notaries:
        assert process.process is not None and process.process.returncode in (0, -9), text(process)
    await audit.close()


async def _at_least(audit: AuditLog, size: int) -> bool:
    return await checkpoint_size(audit) >= size
