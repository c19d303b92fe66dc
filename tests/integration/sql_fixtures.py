"""Fixtures and test doubles for the SQL read-model tests (`tests/integration/test_sql_*.py`).

- `database_url`: every SQL test runs on SQLite (a file in tmp_path) and, when
  `PARLEY_TEST_DATABASE_URL` is set (e.g. `postgresql://postgres@127.0.0.1:5432/test`), on
  PostgreSQL too — each test in a fresh schema of its own, dropped afterwards.
- `engine`: a migrated engine on `database_url`.
- `ListEventStore`: a list-backed `core.ports.EventStore` that also accepts hand-made histories
  (gaps included), so the projector can be tested without a NATS server.
- `History`: writes sealed envelopes (aggversion and prevhash chained per aggregate) with
  deterministic ids and times; `scripted_history()` and `generated_history()` build on it.

Import the fixtures into a test module with
`from tests.integration.sql_fixtures import database_url, engine, postgres_url, sqlite_url  # noqa: F401`.
"""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator, Iterator, Sequence
from urllib.parse import quote

import psycopg
import pytest

from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from core import parties as p
from core.envelope import Event, format_time, seal
from core.errors import Conflict
from core.events import DomainEvent
from core.incidents import events as ie
from core.incidents.accounts import Account, Attachment, Kind, Position, TimePrecision
from core.ports import AggregateRef, StoredEvent

PG_ENV = "PARLEY_TEST_DATABASE_URL"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


# --- databases -----------------------------------------------------------------------------------

@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/read-models/parley.db"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (skips without PARLEY_TEST_DATABASE_URL)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL variant")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Any]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def reset_read_models(engine: Any) -> None:
    """Empty every projection table and drop the checkpoints: the read models as before a rebuild."""
    from adapters.sql import tables as t

    async with engine.begin() as conn:
        for table in reversed(t.PROJECTION_TABLES):
            await conn.execute(table.delete())
        await conn.execute(t.projection_checkpoints.delete())


# --- an event store in a list --------------------------------------------------------------------

class ListEventStore:
    """`core.ports.EventStore` over a plain list; `events` may be set to any history (even a
    broken one) to see what the projector makes of it. No `follow`: the projector polls."""

    def __init__(self, events: Sequence[StoredEvent] = ()) -> None:
        self.events: list[StoredEvent] = list(events)

    async def append(self, ref: AggregateRef, events: Sequence[Event], *, expected_seq: int) -> int:
        if await self.last_subject_seq(ref) != expected_seq:
            raise Conflict(f"{ref.type} {ref.id} is not at {expected_seq}")
        for event in events:
            seq = (self.events[-1].seq if self.events else 0) + 1
            self.events.append(StoredEvent(seq=seq, recorded=T0 + timedelta(seconds=seq), event=event))
        return self.events[-1].seq

    async def load(self, ref: AggregateRef) -> list[StoredEvent]:
        return [s for s in self.events if (s.event.aggtype, s.event.subject) == (ref.type, ref.id)]

    async def last_subject_seq(self, ref: AggregateRef) -> int:
        found = await self.load(ref)
        return found[-1].seq if found else 0

    async def read(self, *, after: int = 0, until: int | None = None) -> AsyncIterator[StoredEvent]:
        end = self.events[-1].seq if self.events else 0
        if until is not None:
            end = min(end, until)
        for stored in list(self.events):
            if after < stored.seq <= end:
                yield stored

    async def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    async def seq_at(self, moment: datetime) -> int:
        return max((s.seq for s in self.events if s.recorded <= moment), default=0)


class LiveListEventStore(ListEventStore):
    """Adds the live iterator `follow(after=…)` the JetStream store offers."""

    def __init__(self, events: Sequence[StoredEvent] = ()) -> None:
        super().__init__(events)
        import asyncio

        self._grown = asyncio.Condition()

    async def add(self, stored: Sequence[StoredEvent]) -> None:
        self.events.extend(stored)
        async with self._grown:
            self._grown.notify_all()

    async def follow(self, *, after: int = 0) -> AsyncIterator[StoredEvent]:
        position = after
        while True:
            fresh = [s for s in self.events if s.seq > position]
            for stored in fresh:
                yield stored
                position = stored.seq
            if not fresh:
                async with self._grown:
                    await self._grown.wait()


# --- histories -----------------------------------------------------------------------------------

class History:
    """Sealed envelopes in stream order, as a Parley service would have appended them."""

    def __init__(self, *, start: datetime = T0, step: timedelta = timedelta(minutes=1)) -> None:
        self.events: list[StoredEvent] = []
        self._chain: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._clock = start
        self._step = step

    def add(
        self, aggtype: str, aggregate_id: str, event: DomainEvent, *, party: str, actor: str = "officer-1",
        at: datetime | None = None,
    ) -> StoredEvent:
        return self.raw(aggtype, aggregate_id, event.TYPE, event.payload(), party=party, actor=actor, at=at,
                        schemaversion=event.SCHEMA_VERSION)

    def raw(
        self, aggtype: str, aggregate_id: str, type_: str, data: dict[str, Any], *, party: str,
        actor: str = "officer-1", at: datetime | None = None, schemaversion: int = 1,
    ) -> StoredEvent:
        """Any envelope, also of types no code knows (future aggregates, newer versions)."""
        self._clock = at or self._clock + self._step
        version, prevhash = self._chain.get((aggtype, aggregate_id), (0, None))
        seq = len(self.events) + 1
        source = f"/parties/{party}/officers/{actor}" if party != "admin" else f"/admin/{actor}"
        envelope = seal(
            Event(
                id=f"01900000-0000-7000-8000-{seq:012x}",
                type=type_, source=source, subject=aggregate_id, time=format_time(self._clock),
                aggtype=aggtype, aggversion=version + 1, party=party, actor=actor,
                schemaversion=schemaversion, correlationid=f"req-{seq}", data=data,
            ),
            prevhash=prevhash,
        )
        self._chain[(aggtype, aggregate_id)] = (version + 1, envelope.hash)
        stored = StoredEvent(seq=seq, recorded=self._clock + timedelta(milliseconds=3), event=envelope)
        self.events.append(stored)
        return stored

    # shorthands
    def party(self, code: str, name: str) -> StoredEvent:
        return self.add(p.AGGREGATE, code, p.PartyRegistered(code=code, name=name), party="admin", actor="root")

    def officer(self, code: str, officer_id: str, name: str) -> StoredEvent:
        return self.add(p.AGGREGATE, code, p.OfficerRegistered(officer_id=officer_id, name=name), party="admin", actor="root")

    def incident(self, incident_id: str, event: DomainEvent, *, by: str) -> StoredEvent:
        return self.add(ie.AGGREGATE, incident_id, event, party=by, actor=f"{by.lower()}-officer")


def account(
    *, kind: Kind = Kind.UNSAFE_ENCOUNTER_SEA, severity: int = 3, start: datetime = T0 - timedelta(hours=6),
    minutes: int = 40, initiator: str = "unknown", narrative: str = "", **extra: Any,
) -> Account:
    fields: dict[str, Any] = {
        "kind": kind, "started_at": start, "ended_at": start + timedelta(minutes=minutes),
        "severity": severity, "initiator": initiator, "narrative": narrative,
    }
    fields.update(extra)
    if "position" not in fields and "place" not in fields:
        fields["position"] = Position(lat=43.25, lon=34.125, uncertainty_m=500.0)
    return Account(**fields)


def scripted_history() -> History:
    """Three parties with officers; incidents walking every branch of the lifecycle."""
    h = History()
    h.party("USA", "United States of America")
    h.party("RUS", "Russian Federation")
    h.officer("USA", "usa-1", "Cdr. Ada Byron")
    h.officer("RUS", "rus-1", "Capt. Ivan Petrov")
    h.party("UKR", "Ukraine")
    h.officer("USA", "usa-2", "Lt. Grace Hopper")
    h.officer("UKR", "ukr-1", "Maj. Olena Shevchenko")

    # I-1: report, ack, counter-account, amend, clarification asked and answered, reconciled.
    h.incident("I-1", ie.IncidentReported(parties=["USA", "RUS"], account=account(
        initiator="RUS", narrative="Destroyer crossed our bow at 300 m.", cpa_m=300.0, units=["DDG-51"],
        attachments=[Attachment(sha256="ab" * 32, media_type="image/jpeg", name="bow.jpg")],
        sources=["bridge log"])), by="USA")
    h.incident("I-1", ie.IncidentAcknowledged(), by="RUS")
    h.incident("I-1", ie.CounterAccountFiled(account=account(
        initiator="USA", narrative="Routine transit; distance never under 1 nm.", cpa_m=1852.0, casualties=0,
        time_precision=TimePrecision.HOUR, position=None, place="Black Sea, 40 nm SW of Sevastopol")), by="RUS")
    h.incident("I-1", ie.AccountAmended(account=account(
        initiator="RUS", narrative="Destroyer crossed our bow at 250 m (radar track).", cpa_m=250.0,
        units=["DDG-51", "MH-60R"], severity=4), reason="radar track reviewed"), by="USA")
    h.incident("I-1", ie.ClarificationRequested(clarification_id="c1", to_party="RUS",
                                               question="Which vessel was on the bridge watch?"), by="USA")
    h.incident("I-1", ie.ClarificationProvided(clarification_id="c1", answer="Frigate Admiral Essen."), by="RUS")
    h.incident("I-1", ie.ReconciliationAgreed(agreed_fields=["kind", "time"], note="positions differ"), by="USA")
    h.incident("I-1", ie.ReconciliationAgreed(agreed_fields=["kind"]), by="RUS")

    # I-2: disputed, reviewed, resolved.
    h.incident("I-2", ie.IncidentReported(parties=["RUS", "USA"], account=account(
        kind=Kind.UNSAFE_ENCOUNTER_AIR, severity=2, start=T0 - timedelta(days=1))), by="RUS")
    h.incident("I-2", ie.IncidentAcknowledged(), by="USA")
    h.incident("I-2", ie.CounterAccountFiled(account=account(
        kind=Kind.UNSAFE_ENCOUNTER_AIR, severity=1, start=T0 - timedelta(days=1))), by="USA")
    h.incident("I-2", ie.IncidentDisputed(disputed_fields=["cpa", "severity"], statement="No intercept took place."),
               by="USA")
    h.incident("I-2", ie.IncidentReferredToReview(forum="INCSEA annual review"), by="RUS")
    h.incident("I-2", ie.IncidentResolved(finding="Both aircraft kept the agreed separation."), by="USA")

    # I-3: reported, then retracted by the reporter.
    h.incident("I-3", ie.IncidentReported(parties=["USA", "UKR"], account=account(
        kind=Kind.AIRSPACE_VIOLATION, place="Odesa FIR", position=None)), by="USA")
    h.incident("I-3", ie.IncidentRetracted(reason="filed against the wrong party"), by="USA")

    # I-4: three parties, one acknowledgement, an open clarification.
    h.incident("I-4", ie.IncidentReported(parties=["UKR", "RUS", "USA"], account=account(
        kind=Kind.CEASEFIRE_VIOLATION, severity=5, casualties=None, start=T0 - timedelta(hours=2))), by="UKR")
    h.incident("I-4", ie.IncidentAcknowledged(), by="RUS")
    h.incident("I-4", ie.ClarificationRequested(clarification_id="q-1", to_party="USA",
                                               question="Did you observe the launch?"), by="UKR")
    return h


def generated_history(n_events: int, *, seed: int = 7, n_parties: int = 12) -> History:
    """About `n_events` plausible events: parties and officers, then incidents whose lifecycles
    interleave (several are open at once), every branch represented. Deterministic per seed."""
    rng = random.Random(seed)
    h = History(step=timedelta(seconds=17))
    codes = [f"P{index:02d}" for index in range(n_parties)]
    for code in codes:
        h.party(code, f"Party {code}")
        for officer in range(3):
            h.officer(code, f"{code.lower()}-o{officer}", f"Officer {officer} of {code}")
    open_plans: list[tuple[str, list[tuple[DomainEvent, str]]]] = []
    number = 0
    while len(h.events) < n_events:
        if len(open_plans) < 40:
            number += 1
            open_plans.append((f"G-{number:06d}", _plan(rng, codes)))
        index = rng.randrange(len(open_plans))
        incident_id, plan = open_plans[index]
        event, by = plan.pop(0)
        h.incident(incident_id, event, by=by)
        if not plan:
            open_plans.pop(index)
    return h


def _plan(rng: random.Random, codes: list[str]) -> list[tuple[DomainEvent, str]]:
    a, b = rng.sample(codes, 2)
    kind = rng.choice(list(Kind))
    start = T0 - timedelta(days=rng.randrange(400), minutes=rng.randrange(1440))
    mine = account(kind=kind, severity=rng.randint(1, 5), start=start, initiator=rng.choice([a, b, "unknown"]),
                   narrative="x" * rng.randrange(20, 400), units=[f"unit-{rng.randrange(99)}"],
                   cpa_m=float(rng.randrange(50, 5000)))
    theirs = mine.model_copy() if rng.random() < 0.2 else account(
        kind=kind, severity=rng.randint(1, 5), start=start, narrative="y" * rng.randrange(20, 200))
    plan: list[tuple[DomainEvent, str]] = [(ie.IncidentReported(parties=[a, b], account=mine), a)]
    if rng.random() < 0.1:
        return plan + [(ie.IncidentRetracted(reason="withdrawn"), a)]
    plan += [(ie.IncidentAcknowledged(), b), (ie.CounterAccountFiled(account=theirs), b)]
    if rng.random() < 0.4:
        plan.append((ie.AccountAmended(account=mine.model_copy(update={"severity": 5}), reason="update"), a))
    if rng.random() < 0.5:
        plan += [(ie.ClarificationRequested(clarification_id="c1", to_party=b, question="Which unit?"), a),
                 (ie.ClarificationProvided(clarification_id="c1", answer="A patrol boat."), b)]
    if rng.random() < 0.5:
        plan += [(ie.ReconciliationAgreed(agreed_fields=["kind"]), a), (ie.ReconciliationAgreed(), b)]
    else:
        plan += [(ie.IncidentDisputed(disputed_fields=["cpa"], statement="Not so."), b),
                 (ie.IncidentReferredToReview(forum="joint commission"), a),
                 (ie.IncidentResolved(finding="Settled."), b)]
    return plan
