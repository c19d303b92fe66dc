"""Health, readiness and metrics: an operator can see when projection stops, and why."""

from __future__ import annotations

import asyncio

import httpx

from adapters.runtime import Runtime
from tests.e2e.conftest import Actors, account


async def test_readyz_reports_nats_database_and_projection_lag(api: httpx.AsyncClient, actors: Actors) -> None:
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=actors.usa)
    await api.get("/api/v1/incidents", params={"min_seq": r.json()["version"]}, headers=actors.usa)
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["nats"] == "ok" and checks["database"] == "ok"
    assert checks["projection"]["lag"] == 0 and checks["projection"]["projected_seq"] == r.json()["version"]
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    metrics = (await api.get("/metrics")).text
    assert "parley_http_requests_total" in metrics and "parley_projection_lag_events" in metrics


async def test_a_corrupt_message_on_the_stream_stops_projection_visibly(api: httpx.AsyncClient, runtime: Runtime) -> None:
    js = runtime.nc.jetstream()
    await js.publish(f"{runtime.settings.subject_prefix}.ev.incident.forged", b"not an event")
    for _ in range(100):
        ready = await api.get("/readyz")
        if ready.status_code == 503:
            break
        await asyncio.sleep(0.05)
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.json()["checks"]["projector"].startswith("stopped:")
