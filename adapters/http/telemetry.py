"""Request correlation ids, structured request logs and Prometheus metrics."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry()
REQUESTS = Counter("parley_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("parley_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY)
PROJECTION_LAG = Gauge("parley_projection_lag_events", "Stream events not yet projected", registry=REGISTRY)

log = structlog.get_logger("parley.http")
SAFE_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class Telemetry:
    """Gives every request a correlation id (`X-Correlation-Id`, echoed back) and measures it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers", [])).get(b"x-correlation-id", b"").decode("latin-1")
        correlation = supplied if SAFE_CORRELATION.match(supplied) else str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation
        # every log line written while serving this request carries its correlation id
        tokens = structlog.contextvars.bind_contextvars(correlation_id=correlation)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", correlation.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], name, str(status)).inc()
            LATENCY.labels(scope["method"], name).observe(elapsed)
            token = scope.get("state", {}).get("token")  # set by authentication, when there was a token
            log.info("request", method=scope["method"], route=name, status=status, ms=round(elapsed * 1000, 1),
                     token_id=getattr(token, "id", None), role=getattr(getattr(token, "role", None), "value", None))
            structlog.contextvars.reset_contextvars(**tokens)
