"""Benchmark 2: commands on EXISTING aggregates, warm (cached state) and cold (loaded state).

Setup: N incidents are reported and acknowledged through the application.

WARM, OURS: per round, every incident gets a `RequestClarification` (by the reporter), then a
`ProvideClarification` (by the other party): `Application.execute` with CONCURRENCY in flight,
state from the command handler's cache, decide, seal, OCC append.

COLD, OURS: per round a *fresh* `Application` (empty cache) on the same stream sends one more
`RequestClarification` to every incident, twice: (1) with the SQL read model as its state
source (`ReadModelStates` over a SQLite file the projector has caught up, untimed, before the
round): one coalesced `SELECT` of the incident rows, decode the state JSON, decide, append
expecting the row's `last_seq`; (2) without it: each command loads the incident from the stream
(batched DIRECT.GET of its subject, decode, fold), then decides and appends.

RAW BASELINE: an identical stream on the same server holds the same histories (every event we
append is copied there byte for byte). For each timed run, the very same event bytes are
published there with the same headers (`Nats-Msg-Id`, `Nats-Expected-Last-Subject-Sequence` =
the subject's last sequence *in that stream*) by plain `js.publish`, CONCURRENCY in flight.
Cold (1): each raw command first reads the incident's row with the plain `sqlite3` module (one
indexed SELECT, blocking, no decoding); cold (2): one raw batched DIRECT.GET of the subject (no
decoding). That is the I/O a cold command cannot avoid.

Target: >= 2,000 commands/s (printed for both warm and cold).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from adapters.sql.read_model_states import ReadModelStates
from core.application import Application
from core.envelope import Event
from core.incidents.commands import AcknowledgeIncident, ProvideClarification, RequestClarification
from core.ports import AggregateRef
from tests.benchmarks.conftest import (
    BENCH_COMMANDS,
    CONCURRENCY,
    PARTY_CODES,
    ROUNDS,
    banner,
    bounded,
    drop_streams,
    median,
    new_spec,
    officer,
    open_nats,
    open_store,
    rate,
    report,
    served_app,
    timed,
)
from tests.benchmarks.test_append import our_appends, register_parties

pytestmark = pytest.mark.benchmark

TARGET = 2_000

QUESTION = (
    "Please state the exact time your helicopter launched, its call sign and the altitude it kept "
    "while overflying our deck, and whether the ship's commanding officer authorised the two passes. "
    "Please also confirm the radio channel your bridge monitored during the encounter."
)
ANSWER = (
    "The helicopter launched at 10:04 local time under call sign Kite 21 and kept at least 150 metres "
    "above sea level. The passes were a routine identification flight authorised by the commanding "
    "officer. The bridge monitored channel 16 and channel 13 throughout the encounter."
)


def parties_of(index: int) -> tuple[str, str]:
    """(reporter, other party) of incident `index`, as `our_appends` reports it."""
    return PARTY_CODES[index % len(PARTY_CODES)], PARTY_CODES[(index + 1) % len(PARTY_CODES)]


_RAW_SELECT = (
    "SELECT i.state, i.last_seq, i.version, e.hash FROM incidents i"
    " LEFT JOIN events e ON e.seq = i.last_seq WHERE i.id = ?"
)


class RawStream:
    """An identical stream written and read by plain nats-py: the baseline's side."""

    def __init__(self, nc: NATS, name: str, prefix: str, *, db_url: str) -> None:
        self.nc, self.name, self.prefix = nc, name, prefix
        self.db_url = db_url
        self._db: sqlite3.Connection | None = None
        self.js = nc.jetstream(timeout=10.0)
        self.last: dict[str, int] = {}  # subject -> its last sequence in this stream
        self._api = f"$JS.API.DIRECT.GET.{name}"
        self._inbox = nc.new_inbox()
        self._waiting: dict[str, tuple[list[Msg], asyncio.Future[list[Msg]]]] = {}
        self._tokens = itertools.count(1)

    async def start(self) -> None:
        await self.nc.subscribe(f"{self._inbox}.*", cb=self._route)

    def subject(self, event: Event) -> str:
        return f"{self.prefix}.ev.{event.aggtype}.{event.subject}"

    async def copy(self, events: list[Event]) -> None:
        """Untimed: append events as they are (pipelined, in order), tracking last sequences."""
        futures = [
            (self.subject(e), await self.js.publish_async(self.subject(e), e.to_json(), headers={"Nats-Msg-Id": e.id}))
            for e in events
        ]
        for subject, future in futures:
            self.last[subject] = (await future).seq

    def messages(self, events: list[Event]) -> list[tuple[str, bytes, str]]:
        return [(self.subject(e), e.to_json(), e.id) for e in events]

    async def publish(self, message: tuple[str, bytes, str]) -> None:
        subject, data, msg_id = message
        headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": str(self.last.get(subject, 0))}
        ack = await self.js.publish(subject, data, stream=self.name, headers=headers)
        self.last[subject] = ack.seq

    async def read_then_publish(self, message: tuple[str, bytes, str]) -> None:
        """A raw cold command: read the subject (batched direct get), publish on top of it."""
        subject, data, msg_id = message
        replies = await self.read(subject)
        last = int(replies[-2].headers["Nats-Sequence"])  # the last message before the EOB marker
        headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": str(last)}
        ack = await self.js.publish(subject, data, stream=self.name, headers=headers)
        self.last[subject] = ack.seq

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    async def select_then_publish(self, message: tuple[str, bytes, str]) -> None:
        """A raw cold command that starts from the read model: one indexed SELECT of the
        incident's row (state JSON, last sequence, version, last hash) with the plain sqlite3
        module, then the publish on top of the subject's last sequence."""
        subject, data, msg_id = message
        if self._db is None:
            self._db = sqlite3.connect(self.db_url.removeprefix("sqlite:///"), check_same_thread=False)
        row = self._db.execute(_RAW_SELECT, (subject.rsplit(".", 1)[-1],)).fetchone()
        assert row is not None and json.loads(row[0])
        headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": str(self.last.get(subject, 0))}
        ack = await self.js.publish(subject, data, stream=self.name, headers=headers)
        self.last[subject] = ack.seq

    async def read(self, subject: str) -> list[Msg]:
        token = str(next(self._tokens))
        future: asyncio.Future[list[Msg]] = asyncio.get_running_loop().create_future()
        self._waiting[token] = ([], future)
        request = json.dumps({"seq": 1, "next_by_subj": subject, "batch": 1000}).encode()
        await self.nc.publish(self._api, request, reply=f"{self._inbox}.{token}")
        try:
            return await asyncio.wait_for(future, 10.0)
        finally:
            del self._waiting[token]

    async def _route(self, msg: Msg) -> None:
        replies, future = self._waiting[msg.subject.rsplit(".", 1)[-1]]
        replies.append(msg)
        if msg.headers and "Status" in msg.headers:
            future.set_result(replies)


class CountingStates(ReadModelStates):
    """The read-model state source, counting the states it found."""

    found = 0

    async def snapshot(self, ref: AggregateRef) -> Any:
        known = await super().snapshot(ref)
        self.found += known is not None
        return known


async def run_commands(app: Application, commands: list[Any]) -> list[Event]:
    async def one(command: Any) -> Event:
        return (await app.execute(command)).events[0]

    return await bounded(commands, one)


async def test_commands_on_existing_aggregates(bench_nats: Any, tmp_path: Path, service_collector: None) -> None:
    n = max(BENCH_COMMANDS // 2, 10)
    db_url = f"sqlite:///{tmp_path}/read-models/parley.db"
    banner("commands on existing incidents", incidents=n, concurrency=CONCURRENCY, rounds=ROUNDS)
    nc = await open_nats(bench_nats)
    try:
        ours_spec, raw_spec = new_spec("cmd"), new_spec("cmdraw")
        store = await open_store(nc, ours_spec)
        await open_store(nc, raw_spec)
        raw = RawStream(nc, raw_spec.name, raw_spec.subject_prefix, db_url=db_url)
        await raw.start()
        app = served_app(store, tmp_path / "keys")
        await register_parties(app)

        # Setup (untimed): report and acknowledge every incident; copy the histories.
        reported = await our_appends(app, "inc", n)
        ids = [e.subject for e in reported]
        acks = await run_commands(app, [
            AcknowledgeIncident(incident_id=ids[i], by=officer(parties_of(i)[1]), at=app.clock.now()) for i in range(n)
        ])
        await raw.copy(reported + acks)

        def ask(a: Application, i: int, cid: str) -> RequestClarification:
            reporter, other = parties_of(i)
            return RequestClarification(incident_id=ids[i], by=officer(reporter), at=a.clock.now(),
                                        clarification_id=cid, to_party=other, question=QUESTION)

        def answer(a: Application, i: int, cid: str) -> ProvideClarification:
            return ProvideClarification(incident_id=ids[i], by=officer(parties_of(i)[1]), at=a.clock.now(),
                                        clarification_id=cid, answer=ANSWER)

        # Warm-up: one untimed round of each command kind.
        for make in (ask, answer):
            produced = await run_commands(app, [make(app, i, "w") for i in range(n)])
            await bounded(raw.messages(produced), raw.publish)
        history = await store.load(AggregateRef(type="incident", id=ids[0]))
        print(f"  event sizes of one incident so far: {[len(s.event.to_json()) for s in history]} B")

        warm_ours, warm_raw = [], []
        for round_ in range(ROUNDS):
            for make in (ask, answer):
                commands = [make(app, i, f"q{round_}") for i in range(n)]
                produced: list[Event] = []

                async def ours() -> None:
                    produced.extend(await run_commands(app, commands))

                warm_ours.append(await timed(ours))
                messages = raw.messages(produced)
                warm_raw.append(await timed(lambda: bounded(messages, raw.publish), baseline=True))
            print(f"  warm round {round_ + 1}: ours {rate(2 * n, sum(warm_ours[-2:])):,.0f}/s, "
                  f"raw {rate(2 * n, sum(warm_raw[-2:])):,.0f}/s", flush=True)

        # Cold: per round a *fresh* Application (empty cache). Its commands start from the SQL
        # read model (`ReadModelStates`; the projector catches up untimed before each round, as
        # `parley serve` keeps it current); then, for comparison, the same kind of commands on
        # another fresh Application without a read model, which loads each incident from the
        # stream. The raw stream republishes both runs' events, after a raw read each.
        await migrate(db_url)
        engine = create_engine(db_url)
        projector = Projector(engine=engine, store=store)
        cold_ours, cold_raw, stream_ours, stream_raw = [], [], [], []
        try:
            for round_ in range(ROUNDS):
                await projector.catch_up()
                states = CountingStates(engine)
                fresh = served_app(store, tmp_path / "keys", states=states)
                commands = [ask(fresh, i, f"k{round_}") for i in range(n)]
                produced = []

                async def ours_cold() -> None:
                    produced.extend(await run_commands(fresh, commands))

                cold_ours.append(await timed(ours_cold))
                assert states.found == n, "every cold command must have started from the read model"
                messages = raw.messages(produced)
                cold_raw.append(await timed(lambda: bounded(messages, raw.select_then_publish), baseline=True))

                loading = served_app(store, tmp_path / "keys")  # no read model: loads the stream
                commands = [ask(loading, i, f"s{round_}") for i in range(n)]
                produced_stream: list[Event] = []

                async def ours_stream() -> None:
                    produced_stream.extend(await run_commands(loading, commands))

                stream_ours.append(await timed(ours_stream))
                messages = raw.messages(produced_stream)
                stream_raw.append(await timed(lambda: bounded(messages, raw.read_then_publish), baseline=True))
                history = produced_stream[0].aggversion - 1
                print(f"  cold round {round_ + 1}: from the read model ours {rate(n, cold_ours[-1]):,.0f}/s,"
                      f" raw {rate(n, cold_raw[-1]):,.0f}/s; from the stream ours {rate(n, stream_ours[-1]):,.0f}/s,"
                      f" raw {rate(n, stream_raw[-1]):,.0f}/s (each stream load reads {history} events)", flush=True)
                # The read-model commands chained correctly: the stream-loading commands that
                # followed found each of them as the incident's last event.
                assert all(b.prevhash == a.hash and b.aggversion == a.aggversion + 1
                           for a, b in zip(produced, produced_stream, strict=True))
        finally:
            await engine.dispose()
            raw.close()

        # Both streams hold the same number of incident events, each appended exactly once.
        events_per_incident = 2 + 2 + 2 * ROUNDS + 2 * ROUNDS
        assert await store.last_seq() == 2 * len(PARTY_CODES) + n * events_per_incident
        assert (await raw.js.stream_info(raw_spec.name)).state.messages == n * events_per_incident

        # Medians of per-run rates (one run = n commands).
        warm = median(rate(n, s) for s in warm_ours)
        report("command on existing aggregate, warm (cached)", warm, median(rate(n, s) for s in warm_raw),
               "commands/s", TARGET, baseline_name=f"js.publish same bytes+headers, {CONCURRENCY} in flight")
        report("command on existing aggregate, cold (read model)", median(rate(n, s) for s in cold_ours),
               median(rate(n, s) for s in cold_raw), "commands/s", TARGET,
               baseline_name="raw SQLite SELECT of the incident row + js.publish")
        report("command on existing aggregate, cold (stream)", median(rate(n, s) for s in stream_ours),
               median(rate(n, s) for s in stream_raw), "commands/s", TARGET,
               baseline_name="raw batched DIRECT.GET of the subject + js.publish")
        await drop_streams(bench_nats, ours_spec.name, raw_spec.name)
        await store.close()
    finally:
        await nc.close()
