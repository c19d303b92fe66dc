"""`parley notary` as its own process: publish checkpoints only while holding the notary lease.

Checkpoints must come from one notary at a time: two notaries following the same stream would
each sign and publish their own checkpoints. So `parley notary` takes the lease that the notary
inside `parley up` / `parley serve --projector` takes (`adapters/integrity/wiring.notary_lease`,
a key in the NATS KV bucket of `adapters/jetstream/lease.py`): one process publishes, the others
stand by and take over within the lease TTL when it dies. SIGTERM and SIGINT stop the process
cleanly and release the lease at once.

`--once` publishes one checkpoint under the lease and exits; it refuses (exit 1) instead of
waiting when another notary holds the lease, since that one publishes the checkpoints anyway.
Status lines go to stderr: `--once` prints the checkpoint note alone on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from adapters import logs
from adapters.cli.errors import fail
from adapters.integrity.wiring import ensure_system_key, notary_lease, open_notary
from adapters.runtime import Runtime
from adapters.settings import Settings


async def notarize(settings: Settings, *, once: bool, lease_seconds: float) -> None:
    """Until SIGTERM/SIGINT (or, with `once`, one checkpoint): whenever this process holds the
    notary lease, follow the stream and publish checkpoints."""
    logs.configure(fmt=settings.log_format, level=settings.log_level)  # stderr: stdout is the note
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = await Runtime.open(settings)
    lease = notary_lease(runtime, ttl=lease_seconds)
    published: list[str] = []

    async def work(quit: asyncio.Event) -> None:
        typer.echo("active: this process now publishes checkpoints", err=True)
        await ensure_system_key(runtime)  # under the lease: two fresh notaries never make two keys
        service = open_notary(runtime)
        if not once:
            await service.run(quit)
            return
        await service.start()
        await service.tree.catch_up()
        if quit.is_set():
            raise fail("the notary lease was lost before the checkpoint was published")
        if service.tree.size > service.certified or service.latest is None:
            await service.publish()
        published.append(service.latest.encode() if service.latest else "")

    try:
        typer.echo(f"notary lease {lease.name} (holder {lease.holder}, TTL {lease.ttl:g} s)", err=True)
        if once and not await lease.acquire():
            holder, _ = await lease.current()
            raise fail(f"another notary holds the lease ({holder}) and publishes the checkpoints; "
                       "stop it first to publish one from here")
        await lease.hold(work, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await runtime.close()
    if once:
        typer.echo(published[0] if published else "", nl=False)
    elif not stop.is_set():
        raise fail("the notary stopped unexpectedly")
