"""RFC 9457 problem details: every error leaves the API as `application/problem+json`.

Errors are mapped here and nowhere else. Unexpected exceptions become a 500 problem without a
stack trace (the trace goes to the log with the correlation id), so a client never sees internals.
"""

from __future__ import annotations

from typing import Any

import nats.errors
import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.jetstream.direct import TRANSIENT_ERRORS
from adapters.http.auth import AccessDenied, Hidden, log_denied
from core.errors import Conflict, Forbidden, IntegrityError, Invalid, NotFound, ParleyError, Rejected, Unavailable

#: Exceptions that mean NATS or the database cannot be reached (connection refused or lost,
#: no responders, timeouts, a drained pool), whichever layer they escape from.
OUTAGES: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError,
    *TRANSIENT_ERRORS, nats.errors.ConnectionClosedError, ConnectionError,
)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://parley.example/problems/"
log = structlog.get_logger("parley.http")

_STATUS: list[tuple[type[ParleyError], int, str, str]] = [
    (AccessDenied, 403, "access-denied", "Your role may not do this"),
    (Invalid, 422, "invalid", "The request is not valid"),
    (Forbidden, 403, "forbidden", "Not allowed"),
    (Rejected, 409, "rejected", "The command is not allowed now"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Concurrent modification"),
    (Unavailable, 503, "unavailable", "Temporarily unavailable"),
    (IntegrityError, 500, "integrity", "Stored history is inconsistent"),
]


#: How every error is documented in the OpenAPI document (instead of FastAPI's own 422 shape).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "An RFC 9457 problem: the request was refused (401 no token, 403 not allowed, "
                           "404 missing or not yours to see, 409 conflict, 413 too large, 422 invalid, 429 slow down)",
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}},
    "5XX": {"description": "An RFC 9457 problem: Parley could not serve the request (503: retry after Retry-After)",
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}},
}


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Retry-After": "2"} if status in (503, 429) else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def for_error(error: ParleyError) -> JSONResponse:
    for cls, status, kind, title in _STATUS:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            if isinstance(error, Conflict):
                extra = {"current_version": error.current_seq, "retryable": True}
            return problem(status, kind, title, error.detail, **extra)
    return problem(500, "error", "Error", error.detail)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ParleyError)
    async def _domain(request: Request, error: ParleyError) -> JSONResponse:
        if isinstance(error, Forbidden):
            log_denied(request, 403, error.detail)
        elif isinstance(error, Hidden):
            log_denied(request, 404, error.why)
        return for_error(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(item.get("loc", ()))), "message": item.get("msg", "invalid")}
            for item in error.errors()
        ]
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return problem(400, "malformed", "Malformed JSON", "the request body is not valid JSON", errors=errors)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem(422, "invalid", "The request is not valid", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else "request failed"
        kind = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 413: "too-large",
                429: "too-many-requests"}.get(error.status_code, "error")
        response = problem(error.status_code, kind, detail, detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    async def _outage(request: Request, error: Exception) -> JSONResponse:
        log.warning("dependency unavailable", path=request.url.path, error=f"{type(error).__name__}: {error}")
        return problem(503, "unavailable", "Temporarily unavailable",
                       "the event store or the database cannot be reached right now; retry shortly "
                       "(with the same Idempotency-Key for writes)")

    for outage in OUTAGES:  # a dependency is down: say "retry" (503 + Retry-After), not "bug" (500)
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged")
