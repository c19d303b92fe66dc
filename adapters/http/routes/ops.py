"""Operations: liveness, readiness (NATS, database, projection lag) and Prometheus metrics."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.http import metrics_gauges
from adapters.http.telemetry import PROJECTION_LAG, REGISTRY

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="NATS, the database and the projection are usable")
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    checks: dict[str, object] = {}
    ready = True
    try:
        last = await runtime.store.last_seq()
        checks["nats"] = "ok"
    except Exception as error:  # noqa: BLE001 - readiness reports, it does not raise
        last, ready = None, False
        checks["nats"] = f"unavailable: {type(error).__name__}"
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checkpoint = await runtime.projector.checkpoint()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        checkpoint, ready = None, False
        checks["database"] = f"unavailable: {type(error).__name__}"
    if last is not None and checkpoint is not None:
        lag = last - checkpoint
        PROJECTION_LAG.set(max(lag, 0))
        checks["projection"] = {"stream_last_seq": last, "projected_seq": checkpoint, "lag": lag}
        if lag < 0:
            ready = False
            checks["projection"]["problem"] = "the read models are ahead of the stream (was the stream restored from an older backup?)"
    if runtime.projector_failure:
        ready = False
        checks["projector"] = f"stopped: {runtime.projector_failure}"
    status = 200 if ready else 503
    headers = {} if ready else {"Retry-After": "2"}
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status_code=status, headers=headers)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    with contextlib.suppress(Exception):  # a database outage must not hide the process metrics
        await metrics_gauges.refresh(request.app.state.runtime)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
