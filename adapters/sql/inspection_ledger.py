"""`core.ports.QuotaLedger` over the read models, for a reply decision in a long-lived process.

The default ledger (`core.inspections.ledger.StreamLedger`) folds the whole stream once per
process, then only what is new: exact, but the first reply after a start pays a scan of the entire
log. This one asks the `inspections` rows instead, after waiting until the read models include
every event stored so far (read-your-writes), so the snapshot is as complete as the stream's and
costs two indexed queries. When the projector does not catch up in time it falls back to the
stream fold rather than decide on a lagging picture; either way the snapshot used is recorded in
the reply event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import inspection_queries as q
from core.inspections.ledger import StreamLedger
from core.inspections.quota import QuotaUse
from core.ports import EventStore

#: How long a reply waits for the read models before folding the stream instead (seconds).
WAIT_SECONDS = 5.0


class _Projection(Protocol):
    async def wait_for(self, seq: int, timeout: float) -> bool: ...


class SqlQuotaLedger:
    def __init__(self, *, engine: AsyncEngine, projection: _Projection, store: EventStore,
                 wait_seconds: float = WAIT_SECONDS) -> None:
        self._engine = engine
        self._projection = projection
        self._store = store
        self._wait = wait_seconds
        self._fallback: StreamLedger | None = None

    async def quota_use(self, *, agreement_id: str, kind: str, receiving_party: str, requesting_party: str,
                        year: int, as_of: datetime, excluding: str | None = None) -> QuotaUse:
        target = await self._store.last_seq()
        if await self._projection.wait_for(target, timeout=self._wait):
            return await q.quota_use(self._engine, agreement_id=agreement_id, kind=kind,
                                     receiving_party=receiving_party, requesting_party=requesting_party,
                                     year=year, as_of=as_of, excluding=excluding)
        if self._fallback is None:
            self._fallback = StreamLedger(self._store)
        return await self._fallback.quota_use(agreement_id=agreement_id, kind=kind, receiving_party=receiving_party,
                                              requesting_party=requesting_party, year=year, as_of=as_of,
                                              excluding=excluding)
