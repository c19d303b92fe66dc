"""The raw event feed: the CloudEvents exactly as stored on the stream, in stream order.

With `as_of`/`as_of_seq` (adapters/http/as_of.py) the feed ends at the cut: `last_seq` is the cut
and no later event is listed, exactly the page the feed served when the stream stood there.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from adapters.http.as_of import AsOfAsk, as_of_params, headers, resolve
from adapters.http.auth import requires
from core.identity import Principal, Role

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.get("", summary="Events after a stream sequence (read from JetStream, not the read models)")
async def list_events(
    request: Request,
    after: int = Query(default=0, ge=0, description="Return events with a larger stream sequence"),
    limit: int = Query(default=100, ge=1, le=1000),
    ask: AsOfAsk = Depends(as_of_params),
    # every party's events, unfiltered: for auditors and admins only (parties read incidents)
    _: Principal = Depends(requires(Role.AUDITOR, Role.ADMIN)),
) -> JSONResponse:
    store = request.app.state.runtime.store
    cut = await resolve(request, ask, projected=False)  # read from the stream: no read model to wait for
    last = await store.last_seq() if cut is None else cut.seq
    until = min(last, after + limit)
    items = []
    if until > after:
        async for raw in store.read_raw(after=after, until=until):
            # the stored bytes, parsed as JSON but never re-rendered from our own model
            items.append({"seq": raw.seq, "recorded": raw.recorded.isoformat(), "event": json.loads(raw.data)})
    next_after = items[-1]["seq"] if items else after
    return JSONResponse({"items": items, "next_after": next_after, "last_seq": last}, headers=headers(cut))
