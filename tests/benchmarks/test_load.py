"""Benchmark 5 (issue 8): sustained load on two API processes.

Setup: one nats-server (this module's), one database (PostgreSQL — a fresh schema — when
PARLEY_TEST_DATABASE_URL is set, else a SQLite file), migrated once; then two `parley serve`
processes (real subprocesses, each its own port, PARLEY_RATE_LIMIT_PER_SECOND=0) and one
`parley project` beside them. Through the first API: four parties, two agreements (USA-RUS,
UKR-TUR) and one officer token per client.

OURS: PARLEY_BENCH_LOAD_CLIENTS (default 32) concurrent clients, each an officer of one party
talking to one of the two APIs (alternately), for PARLEY_BENCH_LOAD_SECONDS (default 60): each
client in turn files an incident (`POST /api/v1/incidents`, ~1 KiB account) and sends a hotline
message (`POST /api/v1/hotline/messages`), each with its own Idempotency-Key, the next request
as soon as the previous one is answered. Throughput (answered requests per second), p50/p99
latency and the error count (any answer but 201, or a transport error).

RAW BASELINES, same run, same servers, same number of clients:
(a) `GET /healthz` with the same HTTP clients for PARLEY_BENCH_LOAD_BASELINE_SECONDS (default
    15): what the HTTP stack and this harness cost without any work;
(b) plain nats-py `js.publish` of ~1.3 KiB payloads to an identical stream, one publisher per
    client, for the same baseline duration: the append floor without HTTP, auth or decisions.

Afterwards the projector must catch up, and the read model must hold exactly the incidents and
messages the clients were told were created (nothing lost, nothing twice).

Targets: zero errors, p99 under 250 ms (on this 2-core machine; the clients run in the same
machine and compete for the same cores).

The clients: each is one keep-alive HTTP/1.1 connection of `raw_http.RawHttp` (the set-up uses
httpx). httpx cost 3–5 ms of CPU per request in the client, taken from the same two cores as the
servers; RawHttp costs ~0.1 ms and still times every real request end to end over TCP. What the
clients cost is printed for each phase (`client CPU`: ms per request and share of a core).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.sql import tables as t
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from tests.benchmarks.conftest import PG_URL, banner, drop_streams, env_int, new_spec, open_nats, open_store, report
from tests.benchmarks.test_metrics_scale import percentile
from tests.e2e.cli_process import free_port
from tests.benchmarks.raw_http import RawHttp, RawHttpError, RawResponse
from tests.e2e.conftest import account, bearer
from tests.faults.processes import CheckpointProbe, ParleyProcess, parley_env, wait_http_ok

pytestmark = pytest.mark.benchmark

CLIENTS = env_int("PARLEY_BENCH_LOAD_CLIENTS", 32)
SECONDS = env_int("PARLEY_BENCH_LOAD_SECONDS", 60)
BASELINE_SECONDS = env_int("PARLEY_BENCH_LOAD_BASELINE_SECONDS", 15)
TARGET_P99_MS = 250.0
PAIRS = {"USA": "RUS", "RUS": "USA", "UKR": "TUR", "TUR": "UKR"}
AGREEMENTS = {("USA", "RUS"): "US-RU", ("UKR", "TUR"): "UA-TR"}
NARRATIVE = (
    "At 1004 local time the bridge watch reported a contact closing on a constant bearing at 18 knots. "
    "The contact was identified visually as a frigate and did not answer on channel 16. Our vessel "
    "sounded five short blasts, altered course thirty degrees to starboard and reduced speed."
)


def agreement_of(party: str) -> str:
    a, b = sorted((party, PAIRS[party]))
    return AGREEMENTS.get((a, b)) or AGREEMENTS[(b, a)]


@dataclass
class Tally:
    """What the clients saw: one latency per answered request, and what went wrong."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)
    #: CPU seconds this process (the clients) spent while driving them.
    client_cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.errors)


# --- the system under test ------------------------------------------------------------------------

@dataclass
class System:
    apis: list[str]
    processes: list[ParleyProcess]
    database_url: str
    home: Path
    stream: str


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path}/db/parley.db"
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


@pytest.fixture
async def system(bench_nats: EmbeddedNatsServer, database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    """Two `parley serve` and one `parley project`, sharing the nats-server and the database.
    Every process is stopped by its own handle (SIGTERM, then SIGKILL) whatever happens."""
    spec = new_spec("load")
    (tmp_path / "db").mkdir()
    await migrate(database_url)  # once, before the processes race to do it
    env = dict(nats=bench_nats, database_url=database_url, spec=spec)
    processes: list[ParleyProcess] = []
    apis: list[str] = []
    try:
        for name in ("api-a", "api-b"):
            port = free_port()
            process = ParleyProcess(("serve",), parley_env(home=tmp_path / name, PARLEY_HTTP_PORT=str(port),
                                                           PARLEY_RATE_LIMIT_PER_SECOND="0", **env),
                                    tmp_path / f"{name}.log").start()
            processes.append(process)
            apis.append(f"http://127.0.0.1:{port}")
            await asyncio.to_thread(wait_http_ok, f"{apis[-1]}/healthz", process)
        processes.append(ParleyProcess(("project",), parley_env(home=tmp_path / "projector", **env),
                                       tmp_path / "projector.log").start())
        yield System(apis=apis, processes=processes, database_url=database_url, home=tmp_path / "api-a",
                     stream=spec.name)
    finally:
        for process in processes:
            process.stop()
        await drop_streams(bench_nats, spec.name)
    for process in processes:
        assert process.process is not None and process.process.returncode in (0, -15), \
            f"{' '.join(process.args)} ended with {process.process.returncode}:\n{process.output()}"


async def set_up(system: System) -> list[tuple[str, str, dict[str, str]]]:
    """Parties, agreements and one officer token per client: [(api, party, headers)]."""
    admin = bearer((system.home / "admin.token").read_text().strip())
    async with httpx.AsyncClient(base_url=system.apis[0], timeout=30) as client:

        async def post(path: str, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
            r = await client.post(path, json=body, headers=admin)
            assert r.status_code == expected, f"{path}: {r.status_code} {r.text}"
            return r.json()

        for code in PAIRS:
            await post("/api/v1/parties", {"code": code, "name": f"Party {code}"})
        for (a, b), agreement_id in AGREEMENTS.items():
            await post("/api/v1/agreements", {"id": agreement_id, "name": f"INCSEA {a}-{b}", "parties": [a, b]})
        clients = []
        for number in range(CLIENTS):
            party = list(PAIRS)[number % len(PAIRS)]
            officer = f"{party.lower()}-o{number}"
            await post(f"/api/v1/parties/{party}/officers", {"id": officer, "name": f"Officer {number}"})
            token = await post("/api/v1/tokens", {"role": "officer", "party": party, "officer_id": officer})
            clients.append((system.apis[number % len(system.apis)], party, bearer(token["token"])))
    return clients


# --- the clients ------------------------------------------------------------------------------------

Work = Callable[[RawHttp, int], Awaitable[RawResponse]]


async def drive(clients: list[tuple[str, str, dict[str, str]]], make: Callable[[str, str, dict[str, str]], Work],
                seconds: float, *, tally: Tally, expected: int) -> float:
    """Every client sends requests one after another until `seconds` have passed; returns the
    elapsed time (until the last answer)."""
    stop_at = time.perf_counter() + seconds

    async def one(api: str, party: str, headers: dict[str, str]) -> None:
        work = make(api, party, headers)
        async with RawHttp(api, timeout=30) as http:
            for number in itertools.count():
                if time.perf_counter() >= stop_at:
                    return
                begin = time.perf_counter()
                try:
                    r = await work(http, number)
                except RawHttpError as error:
                    tally.errors.append(str(error))
                    continue
                elapsed = (time.perf_counter() - begin) * 1000
                if r.status_code != expected:
                    tally.errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                tally.latencies_ms.append(elapsed)

    begin, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(*client) for client in clients))
    tally.client_cpu_s += time.process_time() - cpu
    return time.perf_counter() - begin


def filing(tally: Tally) -> Callable[[str, str, dict[str, str]], Work]:
    """Alternately an incident and a hotline message, each with its own Idempotency-Key."""

    def make(api: str, party: str, headers: dict[str, str]) -> Work:
        other = PAIRS[party]
        client_key = uuid.uuid4().hex[:8]

        async def work(http: RawHttp, number: int) -> RawResponse:
            key = {**headers, "Idempotency-Key": f"{client_key}-{number}"}
            if number % 2 == 0:
                body = {"parties": [other], "account": account(initiator=other, narrative=f"{NARRATIVE} #{number}",
                                                               severity=1 + number % 5)}
                r = await http.post("/api/v1/incidents", json=body, headers=key)
                if r.status_code == 201:
                    tally.incidents.add(r.json()["id"])
            else:
                body = {"agreement_id": agreement_of(party), "to_party": other, "precedence": "PRIORITY",
                        "subject": f"Contact report {number}", "body": NARRATIVE}
                r = await http.post("/api/v1/hotline/messages", json=body, headers=key)
                if r.status_code == 201:
                    tally.messages.add(r.json()["id"])
            return r

        return work

    return make


def health(api: str, party: str, headers: dict[str, str]) -> Work:
    async def work(http: RawHttp, number: int) -> RawResponse:
        return await http.get("/healthz")

    return work


async def raw_publish(server: EmbeddedNatsServer, seconds: float) -> Tally:
    """Plain `js.publish` of ~1.3 KiB payloads, CLIENTS publishers, for `seconds`."""
    spec = new_spec("loadraw")
    nc = await open_nats(server)
    tally = Tally()
    try:
        await open_store(nc, spec)
        js = nc.jetstream(timeout=30.0)
        payload = (NARRATIVE * 5).encode()[:1300]
        stop_at = time.perf_counter() + seconds

        async def publisher(number: int) -> None:
            for index in itertools.count():
                if time.perf_counter() >= stop_at:
                    return
                begin = time.perf_counter()
                try:
                    await js.publish(f"{spec.subject_prefix}.ev.incident.R{number}-{index}", payload,
                                     headers={"Nats-Msg-Id": f"{number}-{index}"})
                except Exception as error:  # noqa: BLE001 - counted, not hidden
                    tally.errors.append(repr(error))
                    continue
                tally.latencies_ms.append((time.perf_counter() - begin) * 1000)

        await asyncio.gather(*(publisher(n) for n in range(CLIENTS)))
    finally:
        await nc.close()
        await drop_streams(server, spec.name)
    return tally


async def caught_up(system: System, bench_nats: EmbeddedNatsServer, timeout: float = 300.0) -> float:
    """Seconds until the projector's checkpoint reaches the stream's end."""
    probe = CheckpointProbe(system.database_url)
    nc = await open_nats(bench_nats)
    begin = time.perf_counter()
    try:
        last = (await nc.jetstream().stream_info(system.stream)).state.last_seq
        while (checkpoint := await probe.read()) < last:
            projector = system.processes[-1]
            assert projector.alive(), projector.output()
            assert time.perf_counter() - begin < timeout, f"projector at {checkpoint} of {last}:\n{projector.output()}"
            await asyncio.sleep(0.2)
        return time.perf_counter() - begin
    finally:
        await nc.close()
        await probe.close()


# --- the run ------------------------------------------------------------------------------------------

def _summary(label: str, tally: Tally, seconds: float) -> str:
    lat = tally.latencies_ms
    client = (f"; client CPU {1000 * tally.client_cpu_s / max(tally.requests, 1):.2f} ms per request"
              f" ({100 * tally.client_cpu_s / seconds:.0f} % of a core)" if tally.client_cpu_s else "")
    return (f"  {label}: {tally.requests:,} requests in {seconds:.1f} s = {len(lat) / seconds:,.0f}/s answered;"
            f" p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, max {max(lat):.1f} ms,"
            f" mean {statistics.mean(lat):.1f} ms; errors {len(tally.errors)}{client}")


async def test_load_two_api_processes(system: System, bench_nats: EmbeddedNatsServer) -> None:
    kind = "SQLite" if system.database_url.startswith("sqlite") else "PostgreSQL"
    banner("load: two `parley serve` + one `parley project`", clients=CLIENTS, seconds=SECONDS,
           baseline_seconds=BASELINE_SECONDS, database=kind)
    clients = await set_up(system)

    # Baseline (a): the same clients on GET /healthz.
    healthz = Tally()
    healthz_s = await drive(clients, health, BASELINE_SECONDS, tally=healthz, expected=200)
    print(_summary("baseline GET /healthz", healthz, healthz_s), flush=True)

    # Ours: incidents and hotline messages.
    ours = Tally()
    ours_s = await drive(clients, filing(ours), SECONDS, tally=ours, expected=201)
    print(_summary("ours (incidents + hotline messages)", ours, ours_s), flush=True)
    for error in sorted(set(ours.errors))[:10]:
        print(f"    error: {error}")

    # Baseline (b): plain js.publish, as many publishers as clients.
    raw = await raw_publish(bench_nats, BASELINE_SECONDS)
    print(_summary("baseline plain js.publish", raw, BASELINE_SECONDS), flush=True)

    # Nothing lost, nothing twice: the projector catches up and holds exactly what was created.
    lag = await caught_up(system, bench_nats)
    engine = create_engine(system.database_url)
    try:
        async with engine.connect() as conn:
            incidents = {r[0] for r in await conn.execute(sa.select(t.incidents.c.id))}
            messages = {r[0] for r in await conn.execute(sa.select(t.hotline_messages.c.id))}
    finally:
        await engine.dispose()
    print(f"  projector caught up {lag:.1f} s after the load; read model: {len(incidents):,} incidents,"
          f" {len(messages):,} messages", flush=True)
    assert incidents == ours.incidents and messages == ours.messages

    answered = len(ours.latencies_ms)
    label = f"load {CLIENTS} clients, 2 APIs, {kind}:"
    report(f"{label} throughput vs GET /healthz", answered / ours_s, len(healthz.latencies_ms) / healthz_s,
           "requests/s", baseline_name=f"GET /healthz, same {CLIENTS} clients and servers")
    report(f"{label} throughput vs js.publish", answered / ours_s, len(raw.latencies_ms) / BASELINE_SECONDS,
           "requests/s", baseline_name=f"plain js.publish ~1.3 KiB, {CLIENTS} publishers")
    report(f"{label} p50 vs GET /healthz", percentile(ours.latencies_ms, 50), percentile(healthz.latencies_ms, 50),
           "ms", baseline_name="GET /healthz p50", lower_is_better=True)
    report(f"{label} p99 vs GET /healthz", percentile(ours.latencies_ms, 99), percentile(healthz.latencies_ms, 99),
           "ms", TARGET_P99_MS, baseline_name="GET /healthz p99", lower_is_better=True)
    report(f"{label} p99 vs js.publish", percentile(ours.latencies_ms, 99), percentile(raw.latencies_ms, 99),
           "ms", TARGET_P99_MS, baseline_name="plain js.publish p99", lower_is_better=True)
    report(f"{label} errors", len(ours.errors), len(healthz.errors), "errors", 0,
           baseline_name="errors of GET /healthz", lower_is_better=True)
