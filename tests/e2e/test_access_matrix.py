"""The access matrix, generated from /openapi.json: every route × method × role × (own party,
other party) gives the outcome `tests/e2e/access_matrix.py` says, and every route has an entry.

One world is built (parties USA, RUS, UKR; the caller's party is USA), then every cell is tried
and every mismatch is reported at once, so a failure reads as a list of holes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import httpx
import pytest

from adapters.runtime import Runtime
from adapters.settings import Settings
from core.identity import Role
from tests.e2e.access_matrix import MATRIX, PARTY_ROLES, PATH_VALUES, ROLES, Outcome
from tests.e2e.conftest import Actors, account, bearer

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The matrix makes a few hundred requests per token: no rate limit here (tested apart)."""
    return settings.model_copy(update={"rate_limit_per_second": 0})


@dataclass
class World:
    """What the matrix runs against; `PATH_VALUES` functions read it and may add records."""

    api: httpx.AsyncClient
    actors: Actors
    runtime: Runtime
    tokens: dict[str, dict[str, str]]
    own_incident: str
    other_incident: str
    made: dict[str, str] = field(default_factory=dict)

    async def once(self, name: str, make: Callable[[], Awaitable[str]]) -> str:
        """`make()` the first time `name` is asked for; the same value afterwards."""
        if name not in self.made:
            self.made[name] = await make()
        return self.made[name]

    async def fresh_token_id(self) -> str:
        _, info = await self.runtime.tokens.create(role=Role.AUDITOR, party=None, officer_id=None, label="matrix victim")
        return info.id


async def _value(world: World, name: str, context: str) -> str:
    make = PATH_VALUES.get(name)
    return "no-such-id" if make is None else await make(world, context)


async def build_world(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> World:
    admin = actors.admin
    r = await api.post("/api/v1/parties/USA/officers", json={"id": "usa-watch", "name": "USA watch"}, headers=admin)
    assert r.status_code == 201, r.text
    tokens = {"officer": actors.usa, "auditor": actors.auditor, "admin": admin}
    for role, officer in (("observer", "usa-watch"), ("importer", "usa-duty")):
        r = await api.post("/api/v1/tokens", json={"role": role, "party": "USA", "officer_id": officer}, headers=admin)
        assert r.status_code == 201, r.text
        tokens[role] = bearer(r.json()["token"])
    # own: RUS reports an incident with USA (so USA may acknowledge); other: RUS and UKR only
    r = await api.post("/api/v1/incidents", json={"parties": ["USA"], "account": account()}, headers=actors.rus)
    assert r.status_code == 201, r.text
    own = r.json()["id"]
    r = await api.post("/api/v1/incidents", json={"parties": ["UKR"], "account": account(initiator="UKR")}, headers=actors.rus)
    assert r.status_code == 201, r.text
    other = r.json()["id"]
    assert await runtime.projector.wait_for(await runtime.store.last_seq(), timeout=10)
    return World(api=api, actors=actors, runtime=runtime, tokens=tokens, own_incident=own, other_incident=other)


def classify(response: httpx.Response) -> Outcome | str:
    status = response.status_code
    if status == 401:
        return "AUTH"
    if status == 404:
        return "HIDE"
    if status == 403 and response.json().get("type", "").endswith("/access-denied"):
        return "DENY"
    if status >= 500 or status == 429:
        return f"{status}!"
    return "OK"


def routes(openapi: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in openapi["paths"].items() for method in item if method in HTTP_METHODS}


CALLERS = [("anonymous", "own")] + [(role, context) for role in ROLES for context in ("own", "other")]


async def observe(world: World, key: str, role: str, context: str) -> httpx.Response:
    method, template = key.split(" ", 1)
    path = template
    for name in re.findall(r"{(\w+)}", template):
        path = path.replace("{" + name + "}", await _value(world, name, context))
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    return await call(world.api, method, path, {**world.tokens.get(role, {}), "content-type": "application/json"}, body)


async def call(api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    """One request straight into the ASGI app, returning once the answer is known: the whole body,
    or for an event stream (which never ends) its status and first chunk. httpx's ASGI transport
    would wait for the end of a stream forever."""
    app = api._transport.app  # type: ignore[attr-defined]
    answered = asyncio.Event()
    start: dict[str, object] = {}
    chunks: list[bytes] = []
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))  # type: ignore[arg-type]
            streaming = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in start.get("headers", []))  # type: ignore[union-attr]
            if not message.get("more_body") or streaming:
                answered.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("parley.test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await asyncio.wait_for(answered.wait(), timeout=30)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    return httpx.Response(int(start["status"]), headers=start.get("headers", []), content=b"".join(chunks))  # type: ignore[arg-type]


async def suggestion(world: World, key: str) -> str:
    """A matrix line written from what the route does today: to review, not to paste blindly."""
    seen: dict[str, dict[str, str]] = {}
    for role, context in CALLERS:
        seen.setdefault(role, {})[context] = str(classify(await observe(world, key, role, context)))
    cells = []
    for role in ROLES:
        own, other = seen[role]["own"], seen[role]["other"]
        cells.append(f"{role}={own}" if own == other else f"{role}=({own}, {other})")
    anonymous = seen["anonymous"]["own"]
    return f'"{key}": Row({", ".join(cells)}{"" if anonymous == "AUTH" else f", anonymous={anonymous}"}),'


async def test_every_route_has_an_entry(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    present = routes((await api.get("/openapi.json")).json())
    missing = sorted(present - MATRIX.keys())
    stale = sorted(MATRIX.keys() - present)
    assert not stale, "access-matrix entries for routes that do not exist:\n  " + "\n  ".join(stale)
    if missing:
        world = await build_world(api, actors, runtime)
        lines = [await suggestion(world, key) for key in missing]
        pytest.fail(
            f"{len(missing)} route(s) without an access-matrix entry. Add them to tests/e2e/access_matrix.py; "
            "what they answer today (no path-parameter builders: ids are 'no-such-id') is:\n    " + "\n    ".join(lines)
        )


async def test_every_route_answers_every_role_as_the_matrix_says(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    present = routes((await api.get("/openapi.json")).json())
    world = await build_world(api, actors, runtime)
    mismatches: list[str] = []
    tried = 0
    for key in sorted(present & MATRIX.keys()):
        row = MATRIX[key]
        for role, context in CALLERS:
            response = await observe(world, key, role, context)
            tried += 1
            wanted = row.anonymous if role == "anonymous" else row.expected(role, context)
            got = classify(response)
            if got != wanted:
                mismatches.append(f"{key} as {role} ({context} party): want {wanted}, got {got} {response.status_code} {response.text[:160]}")
    assert tried >= len(present & MATRIX.keys()) * 11
    assert not mismatches, f"{len(mismatches)} of {tried} cells differ from the matrix:\n" + "\n".join(mismatches)


async def test_party_roles_list_only_their_own_partys_incidents(api: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    world = await build_world(api, actors, runtime)
    for role in PARTY_ROLES:
        for query in ({}, {"party": "UKR"}, {"party": "RUS"}):
            items = (await api.get("/api/v1/incidents", params=query, headers=world.tokens[role])).json()["items"]
            assert world.other_incident not in [i["id"] for i in items], (role, query)
            assert all("USA" in i["parties"] for i in items), (role, query)
        items = (await api.get("/api/v1/incidents", headers=world.tokens[role])).json()["items"]
        assert [i["id"] for i in items] == [world.own_incident]
    for role in ("auditor", "admin"):
        items = (await api.get("/api/v1/incidents", headers=world.tokens[role])).json()["items"]
        assert {i["id"] for i in items} == {world.own_incident, world.other_incident}
