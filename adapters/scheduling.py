"""The deadline scheduler's loop: `core.scheduler.Scheduler` ticking over the SQL read models.

Runs inside `parley up` and alone as `parley schedule`. Several may run at once: the events they
record have deterministic ids and are appended under OCC, so a deadline is missed exactly once.
A tick that fails (NATS or the database away) is logged and retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from adapters.runtime import Runtime
from adapters.sql.hotline_queries import SqlDueWork
from core.scheduler import Scheduler, TickReport

log = structlog.get_logger("parley.scheduler")
INTERVAL_SECONDS = 1.0


def scheduler_for(runtime: Runtime) -> Scheduler:
    return Scheduler(app=runtime.app, due=SqlDueWork(runtime.engine), clock=runtime.app.clock)


async def run_scheduler(runtime: Runtime, stop: asyncio.Event, *, interval: float = INTERVAL_SECONDS) -> None:
    scheduler = scheduler_for(runtime)
    while not stop.is_set():
        try:
            report = await scheduler.tick()
            _log(report)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the next tick retries; never silent
            log.warning("scheduler tick failed", error=f"{type(error).__name__}: {error}")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def _log(report: TickReport) -> None:
    if report.recorded:
        log.info("deadlines recorded", events=report.recorded)
    for error in report.errors:
        log.warning("deadline not recorded", error=error)
