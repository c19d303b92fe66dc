"""`parley project` as a service: catch up and follow the stream while holding the projector lease.

Any number of these may run (on several machines, for availability); the lease in NATS KV
(`adapters/jetstream/lease.py`) makes one of them active and the others stand by, and a standby
takes over within the lease TTL when the active one dies. SIGTERM and SIGINT stop the process
cleanly and release the lease at once, so a planned restart hands over without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.cli import collector
from adapters.cli.errors import fail
from adapters.runtime import Runtime
from adapters.settings import Settings
from core.errors import IntegrityError


async def project_forever(settings: Settings, *, lease_seconds: float) -> None:
    """Until SIGTERM/SIGINT: whenever this process holds the lease, catch up (with a progress
    bar), then follow the stream. Exits non-zero only when the projector cannot go on (a gap or
    inconsistent history): transient outages are retried inside."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = await Runtime.open(settings)
    collector.settle()  # see adapters/cli/collector.py
    lease = runtime.projector_lease(ttl=lease_seconds)
    typer.echo(f"projector lease {lease.name} (holder {lease.holder}, TTL {lease.ttl:g} s)")

    async def work(quit: asyncio.Event) -> None:
        typer.echo("active: this process now projects")
        catching = asyncio.create_task(_catch_up(runtime))
        quitting = asyncio.create_task(quit.wait())
        try:
            await asyncio.wait({catching, quitting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            quitting.cancel()
            if not catching.done():
                catching.cancel()  # the lease is gone: a transaction in flight rolls back
            results = await asyncio.gather(catching, return_exceptions=True)
        if quit.is_set():
            return
        failure = results[0]
        if isinstance(failure, IntegrityError):
            raise failure  # a gap or a broken history: stop, loudly
        if isinstance(failure, Exception):  # NATS or the database went away: `follow` retries
            typer.echo(f"catching up failed ({type(failure).__name__}: {failure}); retrying", err=True)
        await runtime.projector.follow(quit)

    try:
        await lease.hold(work, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await runtime.close()
    if not stop.is_set():
        raise fail("the projector stopped unexpectedly")


async def _catch_up(runtime: Runtime) -> None:
    total = await runtime.store.last_seq()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("projecting", total=total)
        last = await runtime.projector.catch_up(progress=lambda seq, end: bar.update(task, completed=seq, total=end))
    typer.echo(f"projected up to sequence {last}; following the stream")
