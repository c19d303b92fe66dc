"""The FastAPI application: routers, error mapping, limits and telemetry around a `Runtime`."""

from __future__ import annotations

from fastapi import FastAPI

from adapters.http import problems
from adapters.http.limits import BodyLimit
from adapters.http.routes import events, incidents, ops, parties, tokens
from adapters.http.telemetry import Telemetry
from adapters.runtime import Runtime

DESCRIPTION = """Parley records incidents, hotline traffic and inspections between parties as an
immutable event log, and serves read models built from it.

Authenticate with `Authorization: Bearer <token>`. Errors are RFC 9457 problem+json. Every POST
accepts `Idempotency-Key`; aggregates carry an `ETag` (their last stream sequence) and writes
honour `If-Match`. Reads accept `min_seq` to wait for your own write to be projected."""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Parley", version="0.1.0", description=DESCRIPTION)
    app.state.runtime = runtime
    problems.install(app)
    for module in (ops, parties, incidents, events, tokens):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(Telemetry)
    return app
