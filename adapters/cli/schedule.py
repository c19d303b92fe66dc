"""`parley schedule`: the deadline scheduler as its own process (it also runs inside `parley up`)."""

from __future__ import annotations

import asyncio
import signal

import typer

from adapters import logs
from adapters.runtime import Runtime
from adapters.scheduling import run_scheduler, scheduler_for
from adapters.settings import Settings


async def schedule(settings: Settings, *, once: bool, interval: float) -> None:
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    runtime = await Runtime.open(settings, embedded_ok=False)
    try:
        if once:
            report = await scheduler_for(runtime).tick()
            typer.echo(f"recorded {len(report.recorded)} event(s); {report.skipped} already settled")
            for error in report.errors:
                typer.echo(f"not recorded: {error}", err=True)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_scheduler(runtime, stop, interval=interval)
    finally:
        await runtime.close()
