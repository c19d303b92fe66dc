"""HTTP clients that behave as the API asks: on 503 they wait and retry with the same
Idempotency-Key until the request succeeds. What they saw is kept for the assertions."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.conftest import account, bearer


@dataclass
class Filed:
    """One incident a client filed: its key and the 2xx answer it finally got."""

    key: str
    status: int
    incident_id: str
    version: int
    attempts: int


@dataclass
class Observed:
    filed: list[Filed] = field(default_factory=list)
    unavailable: int = 0  # 503 answers
    unavailable_without_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)  # anything but 2xx/503
    transport_errors: int = 0


async def setup_officer(api: str, home: Path) -> dict[str, str]:
    """Register USA and RUS and an officer of USA through the API; its token's bearer header."""
    admin = bearer((home / "admin.token").read_text().strip())
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        for code, name in (("USA", "United States"), ("RUS", "Russian Federation")):
            r = await client.post("/api/v1/parties", json={"code": code, "name": name}, headers=admin)
            assert r.status_code == 201, r.text
        r = await client.post("/api/v1/parties/USA/officers", json={"id": "usa-duty", "name": "Duty"}, headers=admin)
        assert r.status_code == 201, r.text
        r = await client.post("/api/v1/tokens", json={"role": "officer", "party": "USA", "officer_id": "usa-duty"},
                              headers=admin)
        assert r.status_code == 201, r.text
        return bearer(r.json()["token"])


async def file_incidents(
    apis: list[str], officer: dict[str, str], *, client_id: int, stop: asyncio.Event, seen: Observed,
    give_up_after: float = 90.0,
) -> None:
    """File incidents one after another until `stop`; each is retried (same key, next API)
    until it gets a 2xx, so every key ends filed exactly once."""
    rotation = itertools.cycle(apis)
    async with httpx.AsyncClient(timeout=30) as client:
        for number in itertools.count():
            if stop.is_set():
                return
            key = f"client{client_id}-{number}"
            body = {"parties": ["RUS"], "account": account(narrative=f"incident {key}")}
            headers = {**officer, "Idempotency-Key": key}
            began = time.monotonic()
            for attempt in itertools.count(1):
                assert time.monotonic() - began < give_up_after, f"{key} never succeeded"
                try:
                    r = await client.post(f"{next(rotation)}/api/v1/incidents", json=body, headers=headers)
                except httpx.TransportError:
                    seen.transport_errors += 1
                    await asyncio.sleep(0.2)
                    continue
                if r.status_code in (200, 201):
                    answer = r.json()
                    seen.filed.append(Filed(key=key, status=r.status_code, incident_id=answer["id"],
                                            version=answer["version"], attempts=attempt))
                    break
                if r.status_code == 503:
                    seen.unavailable += 1
                    if "retry-after" not in r.headers or r.headers.get("content-type") != "application/problem+json":
                        seen.unavailable_without_retry_after += 1
                    await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 0.5))
                    continue
                seen.unexpected.append(f"{key}: {r.status_code} {r.text[:300]}")
                return
