"""Shared setup for the on-demand benchmarks (DESIGN §6): run with

    python -m pytest tests/benchmarks -s -p no:cacheprovider      (what `make bench` does)

They are outside pyproject's `testpaths`, so the default `pytest` run never collects them.
Each benchmark module starts its own nats-server (JetStream on a temporary directory, a free
port) and prints OUR figure beside a RAW BASELINE measured in the same run, with the ratio
and the target. Nothing here asserts a speed: benchmarks measure, tests assert. Results and
what limits each figure: `tests/benchmarks/RESULTS.md`.

Sizes (environment):
- `PARLEY_BENCH_EVENTS`   events for the projection rebuild (default 100000);
- `PARLEY_BENCH_COMMANDS` new incidents for the append benchmark (default 2000; the command
  benchmark works on half as many, with one command per incident per timed run);
- `PARLEY_BENCH_CONCURRENCY` commands in flight (default 64);
- `PARLEY_BENCH_ROUNDS`   repetitions of each timed run; the median is reported (default 3);
- `PARLEY_TEST_DATABASE_URL` (or `PARLEY_BENCH_DATABASE_URL`) PostgreSQL for the rebuild.
- `PARLEY_BENCH_METRICS_EVENTS` events for the metrics-at-scale benchmark (default 1000000) and
  `PARLEY_BENCH_METRICS_REQUESTS` dyad-route requests per window (default 200);
- `PARLEY_BENCH_LOAD_SECONDS` (60), `PARLEY_BENCH_LOAD_CLIENTS` (32) and
  `PARLEY_BENCH_LOAD_BASELINE_SECONDS` (15) for the load test on two `parley serve` processes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Iterator, Sequence

import pytest
from nats.aio.client import Client as NATS

from adapters.cli import collector
from adapters.cli.event_loop import loop_factory
from adapters.clock import SystemClock
from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.integrity.keystore import DirectorySigner, KeyDirectory, published_keys
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from core.application import Application
from core.identity import Principal, Role
from core.incidents.accounts import Account, Kind, Position

def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


BENCH_EVENTS = env_int("PARLEY_BENCH_EVENTS", 100_000)
BENCH_COMMANDS = env_int("PARLEY_BENCH_COMMANDS", 2_000)
CONCURRENCY = env_int("PARLEY_BENCH_CONCURRENCY", 64)
ROUNDS = env_int("PARLEY_BENCH_ROUNDS", 3)
PG_URL = os.environ.get("PARLEY_BENCH_DATABASE_URL") or os.environ.get("PARLEY_TEST_DATABASE_URL")

ADMIN = Principal(actor="bench-admin", role=Role.ADMIN)
PARTY_CODES = ("USA", "RUS", "UKR", "TUR", "GBR", "FRA", "CHN", "JPN")


def officer(party: str) -> Principal:
    return Principal(actor=f"{party.lower()}-duty", role=Role.OFFICER, party=party)


# --- the report ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    name: str
    ours: float
    baseline: float
    unit: str
    target: float | None
    baseline_name: str
    #: Throughputs must reach their target; latencies (`lower_is_better`) must stay under it.
    lower_is_better: bool = False

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> str:
        if self.target is None:
            return "-"
        ok = self.ours <= self.target if self.lower_is_better else self.ours >= self.target
        return "yes" if ok else "NO"


def _num(value: float) -> str:
    """Large figures without decimals; small ones (milliseconds, error counts) with two."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


FIGURES: list[Figure] = []


def report(
    name: str, ours: float, baseline: float, unit: str, target: float | None = None, *,
    baseline_name: str = "raw", lower_is_better: bool = False,
) -> Figure:
    """Print one figure beside its raw baseline (and keep it for the summary at the end)."""
    figure = Figure(name, ours, baseline, unit, target, baseline_name, lower_is_better)
    FIGURES.append(figure)
    relation = "<=" if lower_is_better else ">="
    target_text = f"target {relation} {_num(target)}" if target is not None else "no target"
    print(
        f"\n  BENCH {name}\n"
        f"    ours     {_num(ours):>12} {unit}\n"
        f"    baseline {_num(baseline):>12} {unit}   ({baseline_name})\n"
        f"    ratio    {figure.ratio:>12.2f}        {target_text}: {figure.met}",
        flush=True,
    )
    return figure


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("Parley benchmarks (ours vs raw baseline, same run)")
    write(f"{'figure':<48} {'ours':>10} {'baseline':>10} {'ratio':>6} {'target':>8}  met  unit / baseline")
    for f in FIGURES:
        target = ("<=" if f.lower_is_better else "") + _num(f.target) if f.target is not None else "-"
        write(
            f"{f.name:<48} {_num(f.ours):>10} {_num(f.baseline):>10} {f.ratio:>6.2f} {target:>8}  {f.met:<4} "
            f"{f.unit} / {f.baseline_name}"
        )


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Benchmarks run on the event loop Parley's services run on (adapters/cli/event_loop.py:
    uvloop unless `PARLEY_EVENT_LOOP=asyncio`), so they measure what production runs."""
    return {"service-loop": loop_factory() or asyncio.new_event_loop}


# --- timing --------------------------------------------------------------------------------------

async def timed(run: Callable[[], Awaitable[Any]], *, baseline: bool = False) -> float:
    """Seconds one awaited run takes (wall clock, monotonic).

    A `baseline` run happens with the cyclic collector off: it must not pay for collecting the
    objects our application keeps alive in this same process (its command cache, the events it
    produced), which made e.g. `publish_async` three times slower in some rounds. Our own runs
    keep the collector as Parley's services run it (the `service_collector` fixture), where that
    heap is real. Every run starts with the files written so far flushed (`os.sync()`): a
    previous phase's database files were otherwise still being written back to disk during the
    next timed run (~5–10 % off a rebuild timed right after the `executemany` baseline).
    """
    gc.collect()
    os.sync()
    if baseline:
        gc.disable()
    try:
        start = time.perf_counter()
        await run()
        return time.perf_counter() - start
    finally:
        if baseline:
            gc.enable()


def served_app(store: Any, keys: Path, *, states: Any = None) -> Application:
    """An `Application` with the event signer a Parley server installs (adapters/runtime.py): the
    keys held in `keys` (none here: parties hold no key after a plain `parley up`), and the check
    that refuses unsigned writes of a party that signs on its own machines."""
    app = Application(store=store, clock=SystemClock(), states=states)
    app.handler.signer = DirectorySigner(KeyDirectory(keys), published=published_keys(app.handler))
    return app


@pytest.fixture
def service_collector() -> Iterator[None]:
    """The garbage collector as `parley serve` and `parley project` run it: `collector.settle()`
    once started (adapters/cli/collector.py: start-up objects frozen, young collections every
    10,000 allocations). Python's defaults are restored afterwards."""
    thresholds = gc.get_threshold()
    collector.settle()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


async def bounded(items: Sequence[Any], work: Callable[[Any], Awaitable[Any]], *, limit: int = CONCURRENCY) -> list[Any]:
    """Run `work(item)` for every item with at most `limit` in flight; results in item order.

    A fixed pool of `limit` workers pulling from a shared index (no task per item, no
    semaphore), so the harness itself costs as little as possible.
    """
    results: list[Any] = [None] * len(items)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(items):
            index = next_index
            next_index += 1
            results[index] = await work(items[index])

    await asyncio.gather(*(worker() for _ in range(min(limit, len(items)) or 1)))
    return results


# --- realistic payloads --------------------------------------------------------------------------

_SENTENCES = (
    "At {t} local time the bridge watch reported a contact closing on a constant bearing at {k} knots.",
    "The contact was identified visually as a {ship} with hull number {hull} and did not answer on channel 16.",
    "Our vessel sounded five short blasts, altered course thirty degrees to starboard and reduced speed.",
    "The other vessel matched the manoeuvre and maintained a closest point of approach of about {cpa} metres.",
    "A helicopter launched from the contact and overflew our deck twice at an estimated altitude of 60 metres.",
    "Radar tracks, the deck log and two photographs of the closest approach are retained as evidence.",
    "No weapons were trained and no fire-control radar was detected; communications were attempted in English.",
    "The encounter ended when the contact turned away to the north-east and opened the range beyond 5 nautical miles.",
)
_SHIPS = ("frigate", "destroyer", "corvette", "patrol boat", "intelligence collection vessel")


def narrative(index: int, *, length: int = 300) -> str:
    """About `length` characters of plausible, varied incident narrative."""
    parts: list[str] = []
    n = index
    while sum(len(p) + 1 for p in parts) < length:
        template = _SENTENCES[n % len(_SENTENCES)]
        parts.append(template.format(
            t=f"{(n * 7) % 24:02d}{(n * 13) % 60:02d}", k=8 + n % 20, ship=_SHIPS[n % len(_SHIPS)],
            hull=100 + n % 900, cpa=50 + (n * 37) % 900,
        ))
        n += 3
    return " ".join(parts)[:length]


#: Precomputed, so the timed runs pay for validating the text, not for making it up.
NARRATIVES = tuple(narrative(i) for i in range(97))
BASE_TIME = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def incident_account(index: int, *, initiator: str = "unknown", severity: int | None = None) -> Account:
    """A realistic account (position, units, CPA, sources, a 300-character narrative): the
    envelope of an `IncidentReported` carrying it is about 1.1 KiB."""
    start = BASE_TIME - timedelta(days=index % 300, minutes=(index * 11) % 1440)
    return Account(
        kind=(Kind.UNSAFE_ENCOUNTER_SEA, Kind.UNSAFE_ENCOUNTER_AIR, Kind.BORDER_INCIDENT)[index % 3],
        started_at=start,
        ended_at=start + timedelta(minutes=12 + index % 50),
        position=Position(lat=43.1 + (index % 100) / 1000, lon=34.2 + (index % 70) / 1000, uncertainty_m=500),
        initiator=initiator,
        units=[f"DDG-{50 + index % 40}", "MH-60R"],
        cpa_m=float(20 + index % 900),
        severity=severity if severity is not None else 1 + index % 5,
        narrative=NARRATIVES[index % len(NARRATIVES)],
        sources=["bridge log", "radar track"],
    )


# --- servers and streams -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNatsServer]:
    """A nats-server of this benchmark module's own (JetStream on a temporary dir, free port)."""
    with EmbeddedNatsServer(store_dir=tmp_path_factory.mktemp("bench-nats")) as server:
        yield server


def new_spec(label: str) -> StreamSpec:
    token = uuid.uuid4().hex[:8]
    return StreamSpec(name=f"B{label.upper()}{token}", subject_prefix=f"b{label.lower()}{token}")


async def open_nats(server: EmbeddedNatsServer, name: str = "parley-bench") -> NATS:
    """A connection as the application's user (the embedded server requires credentials)."""
    return await connect(getattr(server, "app_url", server.url), name=name)


async def drop_streams(server: EmbeddedNatsServer, *names: str) -> None:
    """Delete benchmark streams as the administrator (the application's user may not)."""
    nc = await connect(getattr(server, "admin_url", server.url), name="parley-bench-admin")
    try:
        js = nc.jetstream()
        for name in names:
            await js.delete_stream(name)
    finally:
        await nc.close()


async def open_store(nc: NATS, spec: StreamSpec, **kwargs: Any) -> JetStreamEventStore:
    await ensure_stream(nc.jetstream(), spec)
    return JetStreamEventStore(nc=nc, spec=spec, **kwargs)


def stream_disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def banner(title: str, **facts: Any) -> None:
    try:
        facts["loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    except RuntimeError:  # called outside the event loop
        pass
    details = ", ".join(f"{k}={v}" for k, v in facts.items())
    print(f"\n=== {title} ({details})", flush=True)
