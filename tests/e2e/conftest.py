"""A whole Parley (real nats-server, real database, projector running) behind an HTTP client.

The app is served in-process through httpx's ASGI transport: same routes, middleware and error
mapping as under uvicorn, without a port. Tests that need a real process (`parley up`, SIGKILL)
start one themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.http.app import create_app
from adapters.integrity.audit_stream import AuditSpec
from adapters.jetstream.connect import connect
from adapters.runtime import Runtime
from adapters.settings import Settings
from adapters.jetstream.stream import StreamSpec
from core.identity import Role
from core.ports import Clock


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNatsServer, stream_spec: StreamSpec, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home", nats_url=nats_server.app_url, database_url=database_url,
        stream=stream_spec.name, subject_prefix=stream_spec.subject_prefix,
    )


@pytest.fixture
def clock() -> Clock | None:
    """The application's clock: None is the system clock. A test module that needs to move time
    (deadlines) overrides this fixture with an `adapters.clock.ManualClock`."""
    return None


@pytest.fixture
async def runtime(settings: Settings, nats_server: EmbeddedNatsServer, clock: Clock | None) -> AsyncIterator[Runtime]:
    runtime = await Runtime.open(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run_projector(stop))
    yield runtime
    stop.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
        await asyncio.wait_for(task, 15)
    await runtime.close()
    admin = await connect(nats_server.admin_url, name="parley-tests-cleanup")  # the app may not delete
    # the event stream, and the notary's audit stream beside it when a test made one
    for stream in (settings.stream, AuditSpec.beside(runtime.store.spec).name):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(admin.jetstream().delete_stream(stream), 10)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(admin.close(), 10)


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
        yield client


@dataclass(frozen=True)
class Actors:
    """Bearer headers of an admin, an officer of USA, RUS and UKR each, and an auditor."""

    admin: dict[str, str]
    usa: dict[str, str]
    rus: dict[str, str]
    ukr: dict[str, str]
    auditor: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def actors(api: httpx.AsyncClient, runtime: Runtime) -> Actors:
    secret, _ = await runtime.tokens.create(role=Role.ADMIN, party=None, officer_id=None, label="tests")
    admin = bearer(secret)
    tokens: dict[str, dict[str, str]] = {}
    for code, name in (("USA", "United States"), ("RUS", "Russian Federation"), ("UKR", "Ukraine")):
        r = await api.post("/api/v1/parties", json={"code": code, "name": name}, headers=admin)
        assert r.status_code == 201, r.text
        officer = f"{code.lower()}-duty"
        r = await api.post(f"/api/v1/parties/{code}/officers", json={"id": officer, "name": f"{code} duty officer"}, headers=admin)
        assert r.status_code == 201, r.text
        r = await api.post("/api/v1/tokens", json={"role": "officer", "party": code, "officer_id": officer}, headers=admin)
        assert r.status_code == 201, r.text
        tokens[code] = bearer(r.json()["token"])
    r = await api.post("/api/v1/tokens", json={"role": "auditor"}, headers=admin)
    assert r.status_code == 201, r.text
    return Actors(admin=admin, usa=tokens["USA"], rus=tokens["RUS"], ukr=tokens["UKR"], auditor=bearer(r.json()["token"]))


def account(**overrides: object) -> dict[str, object]:
    """A valid account body; override any field."""
    body: dict[str, object] = {
        "kind": "unsafe_encounter_air", "severity": 4, "initiator": "RUS",
        "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:12:00Z",
        "position": {"lat": 43.1, "lon": 34.2, "uncertainty_m": 500},
        "units": ["P-8A 168852"], "cpa_m": 6, "casualties": 0,
        "narrative": "Intercept with a barrel roll over the aircraft.",
        "sources": ["aircrew report"],
    }
    body.update(overrides)
    return body


def altered(ticket: str) -> str:
    """`ticket` with one character in the middle changed (its last base64 character may carry
    only padding bits, so changing that one may decode to the same bytes)."""
    middle = len(ticket) // 2
    return ticket[:middle] + ("B" if ticket[middle] != "B" else "C") + ticket[middle + 1:]
