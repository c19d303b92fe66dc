"""`?as_of=` and `?as_of_seq=` on the read routes: the records as they stood at a past moment,
knowing only what had been recorded by then.

**The cut.** `as_of=T` (RFC 3339 with an offset; a naive time is refused with 422) resolves to
`S`, the last stream sequence whose *recorded* time — JetStream's timestamp of the append, not
the events' business `time` — is at or before `T`, as `parley replay --until` does: a fact
imported later with an earlier business time is not in it. `as_of_seq=N` cuts at `N`; with both,
the earlier cut wins; a cut past the end of the stream is the end. The answer is what the same
route answered when the read models stood at `S`: same JSON, same filters, visibility and
pagination (adapters/sql/as_of.py rebuilds it from the live rows and the event store).

**The echo.** Bodies are unchanged; the cut comes back in headers, so an as-of body compares
byte for byte with the live body served at the time: `Parley-As-Of-Seq: S` always, and
`Parley-As-Of: T` (UTC) when `as_of` was given. `ETag` is the record's version at the cut.

**Not projected yet.** When the read models have not reached `S`, the read waits for them like a
read-your-writes `min_seq` (up to 5 s), then answers 503 problem+json with `Retry-After`.

**Now.** Where a route depends on the clock (`overdue=true` messages, upcoming check calls), the
answer is computed at `T` (with `as_of_seq` alone: at the recorded time of event `S`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import Query, Request

from adapters.http.routes.reads import wait_for
from adapters.sql.as_of import AsOf, Order, Query as Query_, recorded_at
from adapters.sql.queries import Source
from core.errors import Invalid

AsOfQ = Query(default=None, description=(
    "Read as of this moment: only what had been recorded (JetStream's timestamp) at or before it. "
    "RFC 3339 with an offset, e.g. 2026-03-01T12:00:00Z. The cut is echoed in `Parley-As-Of-Seq`."))
AsOfSeqQ = Query(default=None, ge=0, description=(
    "Read as of this stream sequence (with as_of, whichever cut is earlier)."))
#: Before the first event there is no time; clock-dependent filters see the beginning of time.
BEGINNING = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AsOfAsk:
    """What the client asked for (unvalidated)."""

    as_of: datetime | None = None
    as_of_seq: int | None = None


def as_of_params(as_of: datetime | None = AsOfQ, as_of_seq: int | None = AsOfSeqQ) -> AsOfAsk:
    """FastAPI dependency declaring the two query parameters; checked by `resolve`, after the
    route's own access checks (an anonymous caller gets 401 before any 422)."""
    return AsOfAsk(as_of=as_of, as_of_seq=as_of_seq)


@dataclass(frozen=True)
class Cut:
    """A resolved as-of read: the stream sequence and the moment the answer stands at."""

    seq: int
    as_of: datetime | None
    moment: datetime

    def headers(self, **more: str) -> dict[str, str]:
        echo = {"Parley-As-Of-Seq": str(self.seq)}
        if self.as_of is not None:
            echo["Parley-As-Of"] = self.as_of.isoformat()
        return {**echo, **more}


async def resolve(request: Request, ask: AsOfAsk, *, projected: bool = True) -> Cut | None:
    """The cut asked for (None: a live read). `projected`: wait until the read models include it
    (the raw event feed reads the stream and does not need them)."""
    if ask.as_of is None and ask.as_of_seq is None:
        return None
    if ask.as_of is not None and ask.as_of.tzinfo is None:
        raise Invalid("as_of needs a time zone offset (RFC 3339), e.g. 2026-03-01T12:00:00Z")
    runtime = request.app.state.runtime
    seq = await runtime.store.last_seq()
    try:
        as_of = ask.as_of.astimezone(UTC) if ask.as_of is not None else None
    except OverflowError:  # e.g. 9999-12-31T23:00:00-14:00 is past the year 9999 in UTC
        raise Invalid("as_of is out of range: give a moment between the years 1 and 9999 in UTC") from None
    if as_of is not None:
        seq = min(seq, await runtime.store.seq_at(as_of))
    if ask.as_of_seq is not None:
        seq = min(seq, ask.as_of_seq)
    if projected:
        await wait_for(request, seq)
    moment = as_of
    if moment is None and projected and seq:  # the feed reads no clock: it needs no moment
        moment = await recorded_at(runtime.engine, seq)
    moment = moment or BEGINNING
    return Cut(seq=seq, as_of=as_of, moment=moment)


@contextlib.asynccontextmanager
async def reader(request: Request, cut: Cut) -> AsyncIterator[AsOf]:
    runtime = request.app.state.runtime
    async with AsOf(engine=runtime.engine, store=runtime.store, seq=cut.seq) as found:
        yield found


def headers(cut: Cut | None, **more: str) -> dict[str, Any]:
    """Response headers: `more` (e.g. the ETag), plus the cut's echo on an as-of read."""
    return dict(more) if cut is None else cut.headers(**more)


async def read_list(request: Request, ask: AsOfAsk, aggtype: str, query: Query_, order: Order, *,
                 limit: int | None = None) -> tuple[list[Any], Cut | None]:
    """A list route's rows: `query(source, until_seq)` on the live read models, or at the cut
    asked for (merged in `order`, at most `limit`); and the cut."""
    cut = await resolve(request, ask)
    if cut is None:
        return await query(request.app.state.runtime.engine, None), None
    async with reader(request, cut) as at:
        return await at.listing(aggtype, query, order, limit=limit), cut


async def read_one(request: Request, ask: AsOfAsk, aggtype: str, record_id: str,
              get: Callable[[Source], Awaitable[Any]]) -> tuple[Any, Cut | None]:
    """One record: `get(source)` live, or as it stood at the cut asked for (None: missing then)."""
    cut = await resolve(request, ask)
    if cut is None:
        return await get(request.app.state.runtime.engine), None
    async with reader(request, cut) as at:
        return await at.record(aggtype, record_id, get), cut
