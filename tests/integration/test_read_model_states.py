"""Cold commands starting from the SQL read model (`ReadModelStates`), against a real JetStream
stream and a real database (SQLite, and PostgreSQL when PARLEY_TEST_DATABASE_URL is set).

The read model is made stale on purpose (events appended after the projector's last catch-up):
a command on it must end in exactly one correct append — right `aggversion`, `prevhash` equal to
the hash of the aggregate's actual last event — after the stale sequence was refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any, Sequence

import pytest
import sqlalchemy as sa

from adapters.clock import SystemClock
from adapters.sql.projector import Projector
from adapters.sql.read_model_states import ReadModelStates
from core import parties
from core.application import Application
from core.decider import Fact
from core.envelope import Event, hash_is_valid
from core.errors import Conflict
from core.events import decode
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.decider import DECIDER as INCIDENTS
from core.incidents.state import Status
from core.ports import AggregateRef
from tests.unit.test_incidents_decider import account

ADMIN = Principal(actor="root", role=Role.ADMIN)
USA = Principal(actor="usa-1", role=Role.OFFICER, party="USA")
RUS = Principal(actor="rus-1", role=Role.OFFICER, party="RUS")
INC = "I-cold-1"
REF = AggregateRef(type=INCIDENTS.type, id=INC)


class ConflictCounting:
    """The JetStream store, counting the appends it refused with `Conflict`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.conflicts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def append(self, ref: AggregateRef, events: Sequence[Event], *, expected_seq: int) -> int:
        try:
            return await self.inner.append(ref, events, expected_seq=expected_seq)
        except Conflict:
            self.conflicts += 1
            raise


def now() -> datetime:
    return datetime.now(UTC)


async def setup(js_store: Any) -> Application:
    app = Application(store=js_store, clock=SystemClock())
    for code in ("USA", "RUS"):
        await app.execute(parties.RegisterParty(code=code, name=f"Party {code}", by=ADMIN, at=now()))
    await app.execute(c.ReportIncident(incident_id=INC, by=USA, at=now(), parties=("USA", "RUS"), account=account()))
    return app


async def assert_chain_is_whole(js_store: Any, versions: int) -> list[Any]:
    stored = await js_store.load(REF)
    assert [s.event.aggversion for s in stored] == list(range(1, versions + 1))
    assert all(hash_is_valid(s.event) for s in stored)
    assert [s.event.prevhash for s in stored] == [None] + [s.event.hash for s in stored[:-1]]
    return stored


async def fold(js_store: Any) -> tuple[Any, Any]:
    state, last = INCIDENTS.initial, None
    for stored in await js_store.load(REF):
        state = INCIDENTS.evolve(state, decode(stored.event), Fact.of(stored.event, seq=stored.seq))
        last = stored
    return state, last


def datetimes(value: Any) -> list[datetime]:
    if isinstance(value, datetime):
        return [value]
    if dataclasses.is_dataclass(value):
        return [d for f in dataclasses.fields(value) for d in datetimes(getattr(value, f.name))]
    if isinstance(value, dict):
        return [d for v in value.values() for d in datetimes(v)]
    if isinstance(value, tuple):
        return [d for v in value for d in datetimes(v)]
    return []


async def test_the_read_models_state_is_the_streams_own_fold(js_store, engine):
    app = await setup(js_store)
    await app.execute(c.AcknowledgeIncident(incident_id=INC, by=RUS, at=now()))
    await app.execute(c.RequestClarification(incident_id=INC, by=USA, at=now(), clarification_id="q1",
                                             to_party="RUS", question="Which channel?"))
    await app.execute(c.ProvideClarification(incident_id=INC, by=RUS, at=now(), clarification_id="q1",
                                             answer="Channel 16."))
    await Projector(engine=engine, store=js_store).catch_up()

    known = await ReadModelStates(engine).snapshot(REF)

    state, last = await fold(js_store)
    assert known is not None
    assert known.state == state and known.last_seq == last.seq and known.version == 4
    assert known.last_hash == last.event.hash
    found = datetimes(known.state)
    assert len(found) >= 5 and all(moment.tzinfo is UTC for moment in found)


async def test_a_stale_read_model_leads_to_a_conflict_then_one_correct_append(js_store, engine):
    app = await setup(js_store)
    await app.execute(c.AcknowledgeIncident(incident_id=INC, by=RUS, at=now()))
    projector = Projector(engine=engine, store=js_store)
    await projector.catch_up()
    # Another process moves the incident on; the read model does not see it yet.
    await app.execute(c.RequestClarification(incident_id=INC, by=USA, at=now(), clarification_id="q1",
                                             to_party="RUS", question="Which channel?"))
    store = ConflictCounting(js_store)
    cold = Application(store=store, clock=SystemClock(), states=ReadModelStates(engine))

    outcome = await cold.execute(c.RequestClarification(incident_id=INC, by=USA, at=now(), clarification_id="q2",
                                                        to_party="RUS", question="Which heading?"))

    assert store.conflicts == 1  # the stale sequence was refused by the stream
    stored = await assert_chain_is_whole(js_store, 4)
    assert stored[-1].event.id == outcome.events[0].id and outcome.events[0].prevhash == stored[2].event.hash
    assert set(outcome.state.clarifications) == {"q1", "q2"}
    await projector.catch_up()
    assert (await ReadModelStates(engine).snapshot(REF)).state == (await fold(js_store))[0]


async def test_a_refusal_on_a_stale_read_model_is_decided_again_on_the_stream(js_store, engine):
    app = await setup(js_store)
    await Projector(engine=engine, store=js_store).catch_up()  # the read model says "reported"
    await app.execute(c.AcknowledgeIncident(incident_id=INC, by=RUS, at=now()))
    cold = Application(store=js_store, clock=SystemClock(), states=ReadModelStates(engine))

    outcome = await cold.execute(c.FileCounterAccount(incident_id=INC, by=RUS, at=now(),
                                                      account=account(initiator="USA", cpa_m=900)))

    assert outcome.state.status is Status.COUNTER_ACCOUNT_FILED
    await assert_chain_is_whole(js_store, 3)


async def test_a_current_read_model_needs_no_load_from_the_stream(js_store, engine):
    app = await setup(js_store)
    await app.execute(c.AcknowledgeIncident(incident_id=INC, by=RUS, at=now()))
    await Projector(engine=engine, store=js_store).catch_up()
    store = ConflictCounting(js_store)
    loads = 0
    original = js_store.load

    async def counting_load(ref: AggregateRef) -> Any:
        nonlocal loads
        loads += 1
        return await original(ref)

    store.load = counting_load  # type: ignore[attr-defined]
    cold = Application(store=store, clock=SystemClock(), states=ReadModelStates(engine))

    await cold.execute(c.FileCounterAccount(incident_id=INC, by=RUS, at=now(), account=account(initiator="USA")))

    assert loads == 0 and store.conflicts == 0
    await assert_chain_is_whole(js_store, 3)


async def test_concurrent_look_ups_are_coalesced_into_few_queries(js_store, engine):
    app = await setup(js_store)
    ids = [f"I-many-{n:03d}" for n in range(60)]
    for incident_id in ids:
        await app.execute(c.ReportIncident(incident_id=incident_id, by=USA, at=now(), parties=("USA", "RUS"),
                                           account=account()))
    await Projector(engine=engine, store=js_store).catch_up()
    statements: list[str] = []
    sa.event.listen(engine.sync_engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]) if "incidents" in args[2] else None)
    states = ReadModelStates(engine)

    found = await asyncio.gather(*(states.snapshot(AggregateRef(type=INCIDENTS.type, id=i)) for i in ids + ["nope"]))

    assert [s.state.id for s in found[:-1]] == ids and found[-1] is None
    assert all(s.version == 1 and s.state.status is Status.REPORTED for s in found[:-1])
    assert 1 <= len(statements) <= 2
    assert await states.snapshot(AggregateRef(type=parties.AGGREGATE, id="USA")) is None
