"""Read-side helpers shared by routes: read-your-writes waits and JSON conversion."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.encoders import jsonable_encoder

from core.errors import Invalid, Unavailable

WAIT_SECONDS = 5.0

MinSeq = Query(
    default=None, ge=0,
    description="Read-your-writes: wait (up to 5 s) until the read models include this stream sequence.",
)


async def wait_for(request: Request, min_seq: int | None) -> None:
    if min_seq is None:
        return
    runtime = request.app.state.runtime
    if await runtime.projector.wait_for(min_seq, timeout=0):
        return
    if min_seq > await runtime.store.last_seq():  # nothing to wait for: that event does not exist
        raise Invalid(f"min_seq {min_seq} is beyond the end of the event stream; pass a version Parley returned")
    if not await runtime.projector.wait_for(min_seq, timeout=WAIT_SECONDS):
        raise Unavailable(f"the read models have not reached sequence {min_seq} yet; retry shortly")


def encode(value: Any) -> Any:
    return jsonable_encoder(value)
