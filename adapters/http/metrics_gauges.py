"""Prometheus gauges for live operations: open deadlines and today's breaches per kind of
obligation, refreshed from the read models when `/metrics` is scraped (projection lag is already
`parley_projection_lag_events`, set by the readiness check)."""

from __future__ import annotations

from prometheus_client import Gauge

from adapters.http.telemetry import REGISTRY
from adapters.runtime import Runtime
from adapters.sql.metrics_source import live_counts

OPEN_DEADLINES = Gauge("parley_open_deadlines", "Obligations due later and not met yet, by kind", ["kind"],
                       registry=REGISTRY)
BREACHES_TODAY = Gauge("parley_breaches_today", "Obligations due since 00:00 UTC and not met in time, by kind",
                       ["kind"], registry=REGISTRY)


async def refresh(runtime: Runtime) -> None:
    """Set the gauges as of the runtime's clock (call before rendering `/metrics`)."""
    found = await live_counts(runtime.engine, now=runtime.app.clock.now())
    for kind, n in found["open"].items():
        OPEN_DEADLINES.labels(kind).set(n)
    for kind, n in found["breaches_today"].items():
        BREACHES_TODAY.labels(kind).set(n)
