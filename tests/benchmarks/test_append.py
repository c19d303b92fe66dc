"""Benchmark 1: appending NEW aggregates (ReportIncident) vs. raw JetStream publishes.

OURS: for each of N new incidents, build the command (a realistic account, ~1.1 KiB event, pydantic
validation included) and `Application.execute` it: party look-up (cached), decide, seal (RFC 8785
canonical JSON + SHA-256), publish with `Nats-Msg-Id` + `Nats-Expected-Last-Subject-Sequence: 0`
through `JetStreamEventStore`, fold the new state into the command cache; the event signer as a server installs it
(`served_app`: no party key held, unsigned writes of client-signing parties refused). CONCURRENCY commands
in flight (asyncio), like concurrent HTTP requests.

RAW BASELINE: the very same event bytes and headers (`Nats-Msg-Id`,
`Nats-Expected-Last-Subject-Sequence: 0`, `Nats-Expected-Stream`) published to an identical
stream on the same server, by plain nats-py: `js.publish` with the same CONCURRENCY in flight,
and `js.publish_async` (fully pipelined, the client's fastest path).

Target: >= 5,000 events/s. Also printed, not a figure: the same command path against the
in-memory store of the unit tests (the CPU cost of our code alone, without NATS).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core import parties
from core.application import Application
from core.envelope import Event
from core.incidents.commands import ReportIncident
from tests.benchmarks.conftest import (
    ADMIN,
    BENCH_COMMANDS,
    CONCURRENCY,
    PARTY_CODES,
    ROUNDS,
    banner,
    bounded,
    drop_streams,
    incident_account,
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
from tests.unit.fakes import MemoryEventStore

pytestmark = pytest.mark.benchmark

TARGET = 5_000


async def register_parties(app: Application) -> None:
    for code in PARTY_CODES:
        await app.execute(parties.RegisterParty(code=code, name=f"Party {code}", by=ADMIN, at=app.clock.now()))
        await app.execute(parties.RegisterOfficer(
            party=code, officer_id=f"{code.lower()}-duty", name=f"Duty officer {code}", by=ADMIN, at=app.clock.now(),
        ))


def report_command(app: Application, incident_id: str, index: int) -> ReportIncident:
    reporter = PARTY_CODES[index % len(PARTY_CODES)]
    other = PARTY_CODES[(index + 1) % len(PARTY_CODES)]
    return ReportIncident(
        incident_id=incident_id, by=officer(reporter), at=app.clock.now(), parties=(other,),
        account=incident_account(index, initiator=other),
    )


async def our_appends(app: Application, prefix: str, count: int) -> list[Event]:
    """The timed unit of work: build + execute `count` ReportIncident commands."""

    async def one(index: int) -> Event:
        outcome = await app.execute(report_command(app, f"{prefix}-{index:06d}", index))
        return outcome.events[0]

    return await bounded(range(count), one)


def raw_messages(events: list[Event], prefix: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """(subject, bytes, headers) of each event, exactly as our store publishes it."""
    return [
        (f"{prefix}.ev.{e.aggtype}.{e.subject}", e.to_json(),
         {"Nats-Msg-Id": e.id, "Nats-Expected-Last-Subject-Sequence": "0"})
        for e in events
    ]


async def raw_publish_concurrent(js: Any, stream: str, messages: list[tuple[str, bytes, dict[str, str]]]) -> None:
    async def one(message: tuple[str, bytes, dict[str, str]]) -> None:
        subject, data, headers = message
        await js.publish(subject, data, stream=stream, headers=dict(headers))

    await bounded(messages, one)


async def raw_publish_async(js: Any, stream: str, messages: list[tuple[str, bytes, dict[str, str]]]) -> None:
    futures = []
    for subject, data, headers in messages:
        futures.append(await js.publish_async(subject, data, stream=stream, headers=dict(headers)))
    acks = await asyncio.gather(*futures)
    assert len(acks) == len(messages)


async def test_append_new_aggregates(bench_nats: Any, tmp_path: Path, service_collector: None) -> None:
    count = BENCH_COMMANDS
    banner("append: ReportIncident on new aggregates", events=count, concurrency=CONCURRENCY, rounds=ROUNDS)
    nc = await open_nats(bench_nats)
    try:
        ours_spec, raw_spec, async_spec = new_spec("ours"), new_spec("raw"), new_spec("rawasync")
        store = await open_store(nc, ours_spec)
        for spec in (raw_spec, async_spec):
            await open_store(nc, spec)
        js = nc.jetstream(timeout=10.0)
        app = served_app(store, tmp_path / "keys")
        await register_parties(app)

        # Warm-up (imports, pydantic schemas, inbox subscriptions, server file blocks).
        warm = await our_appends(app, "warm", min(500, count))
        await raw_publish_concurrent(js, raw_spec.name, raw_messages(warm, raw_spec.subject_prefix))
        await raw_publish_async(js, async_spec.name, raw_messages(warm, async_spec.subject_prefix))
        sizes = [len(e.to_json()) for e in warm]
        print(f"  event size: mean {sum(sizes) / len(sizes):,.0f} B (min {min(sizes)}, max {max(sizes)})")

        ours_s, raw_s, async_s = [], [], []
        for round_ in range(ROUNDS):
            produced: list[Event] = []

            async def run_ours() -> None:
                produced.extend(await our_appends(app, f"r{round_}", count))

            ours_s.append(await timed(run_ours))
            assert len(produced) == count and len({e.id for e in produced}) == count
            raw = raw_messages(produced, raw_spec.subject_prefix)
            raw_s.append(await timed(lambda: raw_publish_concurrent(js, raw_spec.name, raw), baseline=True))
            pipelined = raw_messages(produced, async_spec.subject_prefix)
            async_s.append(await timed(lambda: raw_publish_async(js, async_spec.name, pipelined), baseline=True))
            print(
                f"  round {round_ + 1}: ours {rate(count, ours_s[-1]):,.0f}/s, raw js.publish x{CONCURRENCY} "
                f"{rate(count, raw_s[-1]):,.0f}/s, raw publish_async {rate(count, async_s[-1]):,.0f}/s",
                flush=True,
            )

        # Every append landed exactly once, in all three streams.
        expected = len(PARTY_CODES) * 2 + len(warm) + ROUNDS * count
        assert await store.last_seq() == expected
        for spec in (raw_spec, async_spec):
            info = await js.stream_info(spec.name)
            assert info.state.messages == len(warm) + ROUNDS * count

        ours = rate(count, median(ours_s))
        report("append new aggregate (ReportIncident)", ours, rate(count, median(raw_s)), "events/s", TARGET,
               baseline_name=f"js.publish, same bytes+headers, {CONCURRENCY} in flight")
        report("append new aggregate vs publish_async", ours, rate(count, median(async_s)), "events/s", TARGET,
               baseline_name="js.publish_async pipelined, same bytes+headers")

        # Diagnostic: the same command path on the in-memory store (our CPU cost alone).
        memory = served_app(MemoryEventStore(), tmp_path / "keys")
        await register_parties(memory)
        await our_appends(memory, "warm", min(500, count))
        cpu = rate(count, await timed(lambda: our_appends(memory, "mem", count)))
        print(f"  diagnostic: same commands on the in-memory store: {cpu:,.0f}/s "
              f"({1e6 / cpu:,.0f} us of our CPU per command)")
        await drop_streams(bench_nats, ours_spec.name, raw_spec.name, async_spec.name)
        await store.close()
    finally:
        await nc.close()
