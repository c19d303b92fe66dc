"""Benchmark 4 (issue 5): confidence metrics at scale — projecting a large history, then the
latency of the dyad metrics route over it.

Setup (untimed, once): PARLEY_BENCH_METRICS_EVENTS (default 1,000,000) events across 20
parties spread over one year: parties and officers, one agreement per dyad (190, default terms
with check calls), then interleaved lifecycles (about 40 open at once) of incidents (reports with
~1 KiB accounts, acknowledgements, counter-accounts, amendments, clarifications, reconciliations,
disputes, reviews, resolutions, retractions: `test_rebuild._plan`) and hotline messages (sent;
acknowledged on time or late, answered or not; or an acknowledgement deadline missed). Sealed and
hash-chained like the service would (`tests.integration.sql_fixtures.History`), published straight
to a fresh stream (pipelined `js.publish_async`, no command path).

(1) PROJECT. OURS: `Projector(engine, store).catch_up()` into a fresh, migrated database
(PostgreSQL when PARLEY_TEST_DATABASE_URL is set, else a SQLite file). RAW BASELINE: a plain
nats-py ordered-consumer read of the same stream (no decoding), same run.

(2) DYAD METRICS. OURS: `GET /api/v1/metrics/dyads/{p}/{q}` through the real app in-process
(`httpx.ASGITransport`, an auditor's token, `as_of` = the end of the history), one request at a
time over PARLEY_BENCH_METRICS_REQUESTS (default 200) dyads drawn at random, for `window=30d`
and `window=all`; p50 and p99 of the request latency. RAW BASELINE, same run, same dyads: one
plain SQL statement through the same engine counting the dyad's rows the route reads (its
hotline messages in the window and its incidents' timeline rows).

Target: p99 <= 100 ms for the dyad route.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from nats.js.api import DeliverPolicy

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.cli import collector
from adapters.http.app import create_app
from adapters.jetstream.stream import StreamSpec
from adapters.runtime import Runtime
from adapters.settings import Settings
from adapters.sql import tables as t
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from core.agreements import agreement as ag
from core.agreements.terms import Precedence, Terms
from core.hotline import messages as m
from core.identity import Role
from core.incidents import events as ie
from core.ports import StoredEvent
from tests.benchmarks.conftest import (
    PG_URL,
    banner,
    drop_streams,
    env_int,
    incident_account,
    new_spec,
    open_nats,
    open_store,
    rate,
    report,
    timed,
)
from tests.benchmarks.test_rebuild import _plan as incident_plan
from tests.integration.sql_fixtures import T0, History

pytestmark = pytest.mark.benchmark

METRICS_EVENTS = env_int("PARLEY_BENCH_METRICS_EVENTS", 1_000_000)
REQUESTS = env_int("PARLEY_BENCH_METRICS_REQUESTS", 200)
N_PARTIES = 20
SPAN = timedelta(days=365)
TARGET_P99_MS = 100.0

# --- generating the history ----------------------------------------------------------------------

#: A plan step: (aggregate type, aggregate id, event type, data made at the event's time, by).
Step = tuple[str, str, str, Callable[[datetime], dict[str, Any]], str]


def _agreement_id(a: str, b: str) -> str:
    return f"A-{min(a, b)}-{max(a, b)}"


def _message_plan(rng: random.Random, codes: list[str], message_id: str) -> list[Step]:
    """A hotline message's life: sent; acknowledged (on time or late) and maybe answered; or
    its acknowledgement deadline missed. Deadlines follow from the moment it was sent."""
    sender, recipient = rng.sample(codes, 2)
    precedence = rng.choice(list(Precedence))
    answer_required = rng.random() < 0.7
    ack_clock = timedelta(minutes=(5, 30, 120, 360)[list(Precedence).index(precedence)])
    sent: dict[str, datetime] = {}

    def sent_data(now: datetime) -> dict[str, Any]:
        sent.update(ack_due=now + ack_clock, answer_due=now + 4 * ack_clock)
        return {"agreement_id": _agreement_id(sender, recipient), "from_party": sender, "to_party": recipient,
                "precedence": precedence.value, "subject": f"Contact report {message_id}",
                "body": "Your frigate is closing on our task group at 20 knots; alter course to the north.",
                "in_reply_to": None, "answer_required": answer_required, "terms_version": 1,
                "ack_due": sent["ack_due"].isoformat(), "answer_due": sent["answer_due"].isoformat()}

    def acknowledged(now: datetime) -> dict[str, Any]:
        return {"due": sent["ack_due"].isoformat(), "late": now > sent["ack_due"]}

    def answered(now: datetime) -> dict[str, Any]:
        return {"body": "Noted; our unit has altered course.", "due": sent["answer_due"].isoformat(),
                "late": now > sent["answer_due"]}

    def missed(now: datetime) -> dict[str, Any]:
        return {"deadline": "acknowledgement", "due": sent["ack_due"].isoformat()}

    plan: list[Step] = [(m.AGGREGATE, message_id, m.MessageSent.TYPE, sent_data, sender)]
    if rng.random() < 0.2:
        return plan + [(m.AGGREGATE, message_id, m.MessageDeadlineMissed.TYPE, missed, recipient)]
    plan.append((m.AGGREGATE, message_id, m.MessageAcknowledged.TYPE, acknowledged, recipient))
    if answer_required and rng.random() < 0.8:
        plan.append((m.AGGREGATE, message_id, m.MessageAnswered.TYPE, answered, recipient))
    return plan


def generate(n_events: int, *, seed: int = 5) -> list[StoredEvent]:
    """About `n_events` sealed events in stream order, spread over `SPAN` (deterministic per seed)."""
    rng = random.Random(seed)
    step = SPAN / max(n_events, 1)
    h = History(step=step)
    codes = [f"P{index:02d}" for index in range(N_PARTIES)]
    for code in codes:
        h.party(code, f"Party {code}")
        for officer in range(3):
            h.officer(code, f"{code.lower()}-o{officer}", f"Officer {officer} of {code}")
    terms = Terms().model_dump(mode="json")
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            h.raw(ag.AGGREGATE, _agreement_id(a, b), ag.AgreementConcluded.TYPE,
                  {"name": f"Agreement {a}-{b}", "parties": [a, b], "terms": terms,
                   "effective_from": (T0 - timedelta(days=1)).isoformat()}, party="admin", actor="root")
    accounts = [incident_account(k).model_dump(mode="json") for k in range(97)]
    clock = T0 + step * len(h.events)  # where `History`'s own clock stands
    open_plans: list[list[Step]] = []
    number = 0
    while len(h.events) < n_events:
        if len(open_plans) < 40:
            number += 1
            if rng.random() < 0.55:
                open_plans.append([(ie.AGGREGATE, f"G-{number:07d}", type_, (lambda _, d=data: d), by)
                                   for type_, data, by in incident_plan(rng, codes, accounts)])
            else:
                open_plans.append(_message_plan(rng, codes, f"M-{number:07d}"))
        index = rng.randrange(len(open_plans))
        plan = open_plans[index]
        aggtype, aggregate_id, type_, make, by = plan.pop(0)
        clock += step
        h.raw(aggtype, aggregate_id, type_, make(clock), party=by, actor=f"{by.lower()}-o0", at=clock)
        if not plan:
            open_plans.pop(index)
    return h.events


@dataclass(frozen=True)
class Published:
    spec: StreamSpec
    count: int
    end: datetime  # the last event's time: the metrics are asked as of just after it
    by_type: dict[str, int]


@pytest.fixture(scope="module")
def metrics_history(bench_nats: EmbeddedNatsServer) -> Iterator[Published]:
    spec = new_spec("metrics")
    started = time.perf_counter()
    events = generate(METRICS_EVENTS)
    generated = time.perf_counter() - started

    async def publish() -> float:
        nc = await open_nats(bench_nats)
        try:
            store = await open_store(nc, spec)
            js = nc.jetstream(timeout=60.0)
            begin = time.perf_counter()
            for start in range(0, len(events), 50_000):  # bounded batches of pending acks
                futures = []
                for stored in events[start : start + 50_000]:
                    e = stored.event
                    futures.append(await js.publish_async(f"{spec.subject_prefix}.ev.{e.aggtype}.{e.subject}",
                                                          e.to_json(), headers={"Nats-Msg-Id": e.id}))
                acks = await asyncio.gather(*futures)
                assert [a.seq for a in acks] == [s.seq for s in events[start : start + 50_000]]
            assert await store.last_seq() == len(events)
            return time.perf_counter() - begin
        finally:
            await nc.close()

    published = asyncio.run(publish())
    by_type: dict[str, int] = {}
    for stored in events:
        by_type[stored.event.type] = by_type.get(stored.event.type, 0) + 1
    end = datetime.fromisoformat(events[-1].event.time)
    banner("metrics at scale: history", events=len(events), parties=N_PARTIES, generated=f"{generated:.1f} s",
           published=f"{published:.1f} s", span=f"{events[0].event.time} .. {events[-1].event.time}")
    print("  events by type: " + ", ".join(f"{k.removeprefix('parley.')} {v:,}" for k, v in sorted(by_type.items())))
    result = Published(spec, len(events), end, by_type)
    del events
    gc.collect()
    yield result
    asyncio.run(drop_streams(bench_nats, spec.name))


# --- the database ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL schema when PARLEY_TEST_DATABASE_URL is set, else a SQLite file."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('metrics-db')}/parley.db"
        return
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _kind(url: str) -> str:
    return "SQLite" if url.startswith("sqlite") else "PostgreSQL"


# --- (1) projecting ----------------------------------------------------------------------------------

async def raw_ordered_read(nc: Any, spec: StreamSpec, count: int) -> None:
    """`test_rebuild.raw_ordered_read` without nats-py's pending limits: at a million ~1 KiB
    messages the default 256 MiB overflowed (slow consumer, dropped messages, a stalled read).
    Even so, the 1M run still logged slow-consumer drops (see RESULTS.md); 200k fits."""
    js = nc.jetstream()
    sub = await js.subscribe(spec.subjects, stream=spec.name, ordered_consumer=True,
                             deliver_policy=DeliverPolicy.ALL, idle_heartbeat=1.0,
                             pending_msgs_limit=-1, pending_bytes_limit=-1)
    try:
        for _ in range(count):
            await sub.next_msg(timeout=30.0)
    finally:
        await sub.unsubscribe()


@pytest.fixture(scope="module")
def projected(bench_nats: EmbeddedNatsServer, metrics_history: Published, database_url: str) -> Published:
    """Times the projection of the whole history (ours) and a raw ordered read (baseline)."""
    n = metrics_history.count

    async def run() -> None:
        nc = await open_nats(bench_nats)
        try:
            store = await open_store(nc, metrics_history.spec)
            read_s = await timed(lambda: raw_ordered_read(nc, metrics_history.spec, n), baseline=True)
            await migrate(database_url)
            engine = create_engine(database_url)
            try:
                projector = Projector(engine=engine, store=store)
                ours_s = await timed(projector.catch_up)
                assert await projector.checkpoint() == n
                if engine.dialect.name == "postgresql":
                    # A production PostgreSQL runs autovacuum; this test server has it off, which
                    # leaves the visibility map empty (no index-only scans) and the planner blind.
                    async with engine.connect() as conn:
                        await conn.execution_options(isolation_level="AUTOCOMMIT")
                        await conn.exec_driver_sql("VACUUM ANALYZE")
                async with engine.connect() as conn:
                    events_rows = await conn.scalar(sa.select(sa.func.count()).select_from(t.events))
                    messages = await conn.scalar(sa.select(sa.func.count()).select_from(t.hotline_messages))
                    incidents = await conn.scalar(sa.select(sa.func.count()).select_from(t.incidents))
            finally:
                await engine.dispose()
            await store.close()
        finally:
            await nc.close()
        assert events_rows == n
        assert messages == metrics_history.by_type[m.MessageSent.TYPE]
        assert incidents == metrics_history.by_type[ie.IncidentReported.TYPE]
        print(f"  projected {n:,} events in {ours_s:.1f} s ({messages:,} messages, {incidents:,} incidents);"
              f" raw ordered read {read_s:.1f} s")
        report(f"project {n:,} events ({_kind(database_url)}) vs ordered read", rate(n, ours_s), rate(n, read_s),
               "events/s", baseline_name="plain nats-py ordered consumer, same stream, no decode")

    asyncio.run(run())
    return metrics_history


# --- (2) the dyad route --------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q / 100 * len(ordered))) - 1)]


DEFAULT_GC_THRESHOLDS = gc.get_threshold()

_RAW_COUNT = sa.text(
    "SELECT (SELECT count(*) FROM hotline_messages WHERE sent_at >= :since AND sent_at <= :as_of"
    "        AND from_party IN (:p, :q) AND to_party IN (:p, :q)),"
    "       (SELECT count(*) FROM incident_timeline WHERE time <= :as_of"
    "        AND incident_id IN (SELECT incident_id FROM incident_parties WHERE party = :p)"
    "        AND incident_id IN (SELECT incident_id FROM incident_parties WHERE party = :q))"
).bindparams(sa.bindparam("since", type_=t.UTCDateTime()), sa.bindparam("as_of", type_=t.UTCDateTime()))


@pytest.mark.parametrize("window", ["30d", "all"])
async def test_dyad_metrics_latency(
    projected: Published, bench_nats: EmbeddedNatsServer, database_url: str, tmp_path: Path, window: str,
) -> None:
    as_of = projected.end + timedelta(minutes=1)
    since = as_of - timedelta(days=30) if window == "30d" else datetime(1970, 1, 1, tzinfo=as_of.tzinfo)
    rng = random.Random(3)
    codes = [f"P{index:02d}" for index in range(N_PARTIES)]
    dyads = [tuple(sorted(rng.sample(codes, 2))) for _ in range(REQUESTS)]
    settings = Settings(home=tmp_path / "home", nats_url=bench_nats.app_url, database_url=database_url,
                        stream=projected.spec.name, subject_prefix=projected.spec.subject_prefix,
                        rate_limit_per_second=0)
    runtime = await Runtime.open(settings)
    try:
        secret, _ = await runtime.tokens.create(role=Role.AUDITOR, party=None, officer_id=None, label="bench")
        headers = {"Authorization": f"Bearer {secret}"}
        params = {"as_of": as_of.isoformat(), "window": window}
        transport = httpx.ASGITransport(app=create_app(runtime))
        collector.settle()  # what `parley serve` does once started (adapters/cli/collector.py)
        ours: list[float] = []
        raw: list[float] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=60) as client:
            first = await client.get(f"/api/v1/metrics/dyads/{dyads[0][0]}/{dyads[0][1]}", params=params,
                                     headers=headers)  # warm-up (imports, first connection)
            assert first.status_code == 200, first.text
            body = first.json()
            assert body["p"] == dyads[0][0] and body["q"] == dyads[0][1]
            for p, q in dyads:
                begin = time.perf_counter()
                r = await client.get(f"/api/v1/metrics/dyads/{p}/{q}", params=params, headers=headers)
                ours.append((time.perf_counter() - begin) * 1000)
                assert r.status_code == 200, r.text
            counted = []
            gc.freeze()  # the baseline does not pay for collecting the app's heap (see `timed`)
            try:
                for p, q in dyads:
                    begin = time.perf_counter()
                    async with runtime.engine.connect() as conn:
                        counted.append(tuple((await conn.execute(_RAW_COUNT, {
                            "p": p, "q": q, "since": since, "as_of": as_of})).one()))
                    raw.append((time.perf_counter() - begin) * 1000)
            finally:
                gc.unfreeze()
    finally:
        await runtime.close()
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    mean_rows = statistics.mean(a + b for a, b in counted)
    assert mean_rows > 0, "the dyads must have rows for the route to count"
    print(f"  {len(dyads)} requests, window={window}: ours p50 {percentile(ours, 50):.1f} ms, p99"
          f" {percentile(ours, 99):.1f} ms, max {max(ours):.1f} ms; raw p50 {percentile(raw, 50):.2f} ms,"
          f" p99 {percentile(raw, 99):.2f} ms; mean rows per dyad (messages + timeline) {mean_rows:,.0f}")
    label = f"dyad metrics window={window} ({_kind(database_url)}, {projected.count:,} ev)"
    baseline_name = "plain SQL count of the dyad's message + incident-timeline rows, same engine"
    report(f"{label} p50", percentile(ours, 50), percentile(raw, 50), "ms", baseline_name=baseline_name,
           lower_is_better=True)
    report(f"{label} p99", percentile(ours, 99), percentile(raw, 99), "ms", TARGET_P99_MS,
           baseline_name=baseline_name, lower_is_better=True)
