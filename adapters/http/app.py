"""The FastAPI application: routers, error mapping, limits and telemetry around a `Runtime`."""

from __future__ import annotations

from fastapi import FastAPI

from adapters.http import problems
from adapters.http.limits import BodyLimit
from adapters.http.ratelimit import TokenBuckets
from adapters.http.routes import agreements, hotline, events, incidents, inspections, ops, parties, tokens
from adapters.http.routes import audit as audit_routes
from adapters.http.routes import metrics as metrics_routes
from adapters.http.routes import whoami
from adapters.http.telemetry import Telemetry
from adapters.runtime import Runtime
from adapters.web import pages as web

DESCRIPTION = """Parley records incidents, hotline traffic and inspections between parties as an
immutable event log, and serves read models built from it.

Authenticate with `Authorization: Bearer <token>`. Errors are RFC 9457 problem+json. Every POST
accepts `Idempotency-Key`; aggregates carry an `ETag` (their last stream sequence) and writes
honour `If-Match`. Reads accept `min_seq` to wait for your own write to be projected.

A party may sign its own events: any write sent with `Parley-Sign: prepare` answers 200 with the
events it would append and the bytes to sign, and appends nothing; the same write sent again with
the returned `submit_headers` and `Parley-Signature: <key name> <base64>` is appended with that
signature once it verifies with the party's published key (422 if not; 409: prepare again)."""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Parley", version="0.1.0", description=DESCRIPTION, responses=problems.ERROR_RESPONSES)
    app.state.runtime = runtime
    app.state.rate_limiter = TokenBuckets(rate=runtime.settings.rate_limit_per_second, burst=runtime.settings.rate_limit_burst)
    problems.install(app)
    for module in (ops, parties, incidents, events, tokens, agreements, hotline, inspections):
        app.include_router(module.router)
    app.include_router(audit_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(whoami.router)
    app.include_router(web.router)  # the web interface at / (adapters/web)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(Telemetry)
    return app
