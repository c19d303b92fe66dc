"""`core.ports.StateSource` over the SQL read models: where a cold command on an incident starts.

Loading an incident from the stream means reading every one of its events (a batched direct
get whose cost nats-server makes proportional to how far the aggregate's events are spread
over the stream), decoding and folding them. The projector has already done that fold: the
`incidents` row holds the state (`state`, see `state_codec`), the sequence and `aggversion` of
the last event folded into it (`last_seq`, `version`), and the `events` index row at that
sequence holds that event's `hash` — the `prevhash` the next event must carry. All of them are
written in one projector transaction, so they always agree with each other.

They may lag the stream. That is safe because the command handler appends expecting `last_seq`:
if the incident moved on since, the append is refused (`Conflict`) and the command is decided
again on the history read from the stream; nothing is ever appended on top of a stale state.

Concurrent look-ups are coalesced: every incident asked for while a query is in flight is
fetched by the next one (`WHERE id IN (…)`), so 64 commands in flight cost a few queries, not
64; up to `parallel` (2) such rounds run at once, since on SQLite each round is several trips to
the driver's thread (BEGIN, SELECT, ROLLBACK) and a second round hides that latency (measured:
2 beat 1 and 4). A database that cannot answer is not an error here — the handler simply loads
the stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.snapshots import IN_CHUNK
from adapters.sql.state_codec import incident_state_from_json
from core.incidents.events import AGGREGATE as INCIDENT
from core.ports import AggregateRef, AggregateSnapshot

log = logging.getLogger(__name__)


class ReadModelStates:
    """Incident states from the read models of `engine` (other aggregate types: None)."""

    def __init__(self, engine: AsyncEngine, *, parallel: int = 2) -> None:
        self._engine = engine
        self._parallel = max(1, parallel)
        self._wanted: dict[str, list[asyncio.Future[AggregateSnapshot | None]]] = {}
        self._rounds: set[asyncio.Task[None]] = set()
        self._query: Any = None

    async def snapshot(self, ref: AggregateRef) -> AggregateSnapshot | None:
        if ref.type != INCIDENT:
            return None
        answer: asyncio.Future[AggregateSnapshot | None] = asyncio.get_running_loop().create_future()
        self._wanted.setdefault(ref.id, []).append(answer)
        if len(self._rounds) < self._parallel:
            task = asyncio.create_task(self._fetch_all(), name="read-model-states")
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)
        return await answer

    async def _fetch_all(self) -> None:
        """Answer every waiting look-up, one query per round; look-ups that arrive during a
        round are answered by the next one."""
        await asyncio.sleep(0)  # let the commands started in this same loop turn ask too
        while self._wanted:
            wanted, self._wanted = self._wanted, {}
            try:
                found = await self._fetch(sorted(wanted))
            except asyncio.CancelledError:
                _answer(wanted, {})
                raise
            except Exception as error:  # noqa: BLE001 - an optimisation failed: load the stream instead
                log.warning("read-model states unavailable (%s: %s); loading from the stream",
                            type(error).__name__, error)
                found = {}
            _answer(wanted, found)

    async def _fetch(self, ids: Sequence[str]) -> dict[str, AggregateSnapshot]:
        found: dict[str, AggregateSnapshot] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = list(ids[start : start + IN_CHUNK])
                for row in await conn.execute(self._statement(), {"ids": chunk}):
                    snapshot = _decoded(row)
                    if snapshot is not None:
                        found[row.id] = snapshot
        return found

    def _statement(self) -> Any:
        if self._query is None:
            i, e = t.incidents, t.events
            self._query = (
                sa.select(i.c.id, i.c.state, i.c.last_seq, i.c.version, e.c.hash, e.c.aggregate_id)
                .select_from(i.outerjoin(e, e.c.seq == i.c.last_seq))
                .where(i.c.id.in_(sa.bindparam("ids", expanding=True)))
            )
        return self._query


def _decoded(row: Any) -> AggregateSnapshot | None:
    """The row as a snapshot; None when it cannot be trusted to be self-consistent (its last
    event is not in the index as this incident's, or the state no longer decodes): the handler
    then folds the stream, which is always right."""
    if row.aggregate_id != row.id or row.hash is None:
        return None
    try:
        state = incident_state_from_json(row.state)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        log.warning("incident %s: read-model state does not decode (%s); loading from the stream", row.id, error)
        return None
    return AggregateSnapshot(state=state, version=row.version, last_seq=row.last_seq, last_hash=row.hash)


def _answer(
    wanted: dict[str, list[asyncio.Future[AggregateSnapshot | None]]], found: dict[str, AggregateSnapshot]
) -> None:
    for incident_id, answers in wanted.items():
        for answer in answers:
            if not answer.done():
                answer.set_result(found.get(incident_id))
