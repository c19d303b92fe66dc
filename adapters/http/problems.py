"""RFC 9457 problem details: every error leaves the API as `application/problem+json`.

Errors are mapped here and nowhere else. Unexpected exceptions become a 500 problem without a
stack trace (the trace goes to the log with the correlation id), so a client never sees internals.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, Forbidden, IntegrityError, Invalid, NotFound, ParleyError, Rejected, Unavailable

PROBLEM = "application/problem+json"
TYPE_BASE = "https://parley.example/problems/"
log = structlog.get_logger("parley.http")

_STATUS: list[tuple[type[ParleyError], int, str, str]] = [
    (Invalid, 422, "invalid", "The request is not valid"),
    (Forbidden, 403, "forbidden", "Not allowed"),
    (Rejected, 409, "rejected", "The command is not allowed now"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Concurrent modification"),
    (Unavailable, 503, "unavailable", "Temporarily unavailable"),
    (IntegrityError, 500, "integrity", "Stored history is inconsistent"),
]


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
        if isinstance(error, (Forbidden,)):
            log.info("denied", path=request.url.path, detail=error.detail)
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
        kind = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 413: "too-large"}.get(error.status_code, "error")
        response = problem(error.status_code, kind, detail, detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged")
