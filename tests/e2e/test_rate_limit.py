"""Per-token rate limit over HTTP: 429 problem+json with Retry-After, one token at a time."""

from __future__ import annotations

import httpx
import pytest

from adapters.settings import Settings
from tests.e2e.conftest import Actors


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_per_second": 0.2, "rate_limit_burst": 40})


async def test_a_token_over_its_rate_gets_429_with_retry_after(api: httpx.AsyncClient, actors: Actors) -> None:
    statuses = [(await api.get("/api/v1/parties", headers=actors.usa)).status_code for _ in range(45)]
    assert 200 in statuses and statuses[-1] == 429
    first = statuses.index(429)
    assert all(s == 200 for s in statuses[:first]) and all(s == 429 for s in statuses[first:])
    r = await api.get("/api/v1/parties", headers=actors.usa)
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/too-many-requests")
    assert 1 <= int(r.headers["Retry-After"]) <= 5
    # the other tokens are not slowed down by USA's
    assert (await api.get("/api/v1/parties", headers=actors.rus)).status_code == 200
    # health checks carry no token and are never limited
    for _ in range(50):
        assert (await api.get("/healthz")).status_code == 200
