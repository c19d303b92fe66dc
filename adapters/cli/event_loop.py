"""The event loop of Parley's long-running services (`up`, `serve`, `project`, `notary`).

uvloop (libuv) when it is installed, which it is with Parley's pinned dependencies: it runs the
same asyncio code with a cheaper loop (socket I/O, callbacks, timers), which matters for an API
process that is mostly event-loop work. `PARLEY_EVENT_LOOP=asyncio` falls back to the standard
loop, e.g. to compare the two or to rule the loop out when chasing a bug.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for the standard loop (not installed, or not wanted)."""
    if os.environ.get("PARLEY_EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # an installation without it still runs, on the standard loop
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the service loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
