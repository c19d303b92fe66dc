"""nats-server is stopped (cleanly, then by SIGKILL) and restarted while clients file incidents
over HTTP against two `parley serve` processes, with a leased `parley project` beside them.

A short outage is absorbed (a request waits for the reconnection, up to the 5 s NATS timeout);
during a longer one the API answers 503 + Retry-After (problem+json), never 500, and it recovers
by itself when NATS returns. Every request that got a 2xx has its event on the stream and in the
read models exactly once; no retry duplicated anything.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from tests.e2e.cli_process import free_port
from tests.faults.http_clients import Observed, file_incidents, setup_officer
from tests.faults.processes import ParleyProcess, parley_env, wait_http_ok

CLIENTS = 6
LONG_OUTAGE = 8.0
SHORT_OUTAGE = 3.0


async def test_incidents_filed_across_nats_restarts_are_stored_and_projected_exactly_once(
    private_nats: EmbeddedNatsServer, stream_spec: StreamSpec, read_model_url: str, tmp_path: Path,
) -> None:
    env = dict(nats=private_nats, database_url=read_model_url, spec=stream_spec)
    apis: list[str] = []
    processes: list[ParleyProcess] = []
    for index in (1, 2):
        port = free_port()
        home = tmp_path / f"api{index}"
        process = ParleyProcess(("serve",), parley_env(home=home, PARLEY_HTTP_PORT=str(port), **env),
                                tmp_path / f"api{index}.log").start()
        processes.append(process)
        apis.append(f"http://127.0.0.1:{port}")
        wait_http_ok(f"{apis[-1]}/readyz", process)  # one at a time: both migrate the same database
    projector = ParleyProcess(("project",), parley_env(home=tmp_path / "projector", PARLEY_PROJECTOR_LEASE_SECONDS="2",
                                                       **env), tmp_path / "projector.log").start()
    processes.append(projector)
    try:
        officer = await setup_officer(apis[0], tmp_path / "api1")
        seen = Observed()
        stop = asyncio.Event()
        clients = [asyncio.create_task(file_incidents(apis, officer, client_id=i, stop=stop, seen=seen))
                   for i in range(CLIENTS)]
        await _filing(seen, 2.0)
        before_outage = len(seen.filed)
        await private_nats.stop()  # clean shutdown, for longer than the API's 5 s NATS timeout:
        await asyncio.sleep(LONG_OUTAGE)  # requests meet it and must get 503 + Retry-After
        await private_nats.start()
        await _filing(seen, 3.0)
        await private_nats.kill()  # crash, briefly: requests in flight just wait for the reconnection
        await asyncio.sleep(SHORT_OUTAGE)
        await private_nats.start()
        after_restart = len(seen.filed)
        await _filing(seen, 3.0)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), 120)
        for process in processes:
            assert process.alive(), f"{process.args} died:\n{process.output()}"

        assert seen.unexpected == [], seen.unexpected
        assert seen.unavailable > 0, "no request met the outage: the test proved nothing"
        assert seen.unavailable_without_retry_after == 0
        assert before_outage > 0 and len(seen.filed) > after_restart, "the API did not recover by itself"

        # On the stream: exactly one IncidentReported per filed key, and nothing else.
        nc = await connect(private_nats.admin_url, name="faults-check")
        try:
            store = JetStreamEventStore(nc=nc, spec=stream_spec)
            reported = Counter()
            event_ids = Counter()
            async for stored in store.read():
                event_ids[stored.event.id] += 1
                if stored.event.aggtype == "incident":
                    reported[stored.event.subject] += 1
            await store.close()
        finally:
            await nc.close()
        filed_ids = Counter(f.incident_id for f in seen.filed)
        assert all(n == 1 for n in filed_ids.values()), "two keys got the same incident"
        assert max(event_ids.values()) == 1, "an event is stored twice"
        assert reported == filed_ids, "the stream's incidents differ from the acknowledged ones"

        # In the read models: every acknowledged incident once, once projection has caught up.
        last = max(f.version for f in seen.filed)
        async with httpx.AsyncClient(base_url=apis[1], headers=officer, timeout=60) as client:
            listed: list[str] = []
            cursor = None
            while True:
                params = {"limit": 500, "min_seq": last, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/api/v1/incidents", params=params)).json()
                listed += [item["id"] for item in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            assert Counter(listed) == filed_ids
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        for process in processes:
            process.stop()


async def _filing(seen: Observed, seconds: float) -> None:
    """Let the clients work for `seconds` (they must get something through meanwhile, unless
    NATS has only just come back)."""
    began = len(seen.filed)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or len(seen.filed) == began:
        assert time.monotonic() < deadline + 60, "no incident could be filed for a minute after NATS came back"
        await asyncio.sleep(0.1)
