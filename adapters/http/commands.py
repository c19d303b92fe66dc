"""Running a command from an HTTP request: If-Match, Idempotency-Key, and the write response.

Handlers build a core command and call `run`; everything HTTP-specific about writes lives here,
including client-signed writes (`Parley-Sign: prepare`, then the submit with `Parley-Signature`:
`adapters/http/client_signatures.py`), so every command route supports them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from adapters.http import client_signatures as cs
from core.errors import Conflict, Invalid, NotFound, Rejected
from core.service import Envelope, Outcome

IDEMPOTENCY_HEADER = "Idempotency-Key"


def expected_version(request: Request) -> int | None:
    """`If-Match: "<seq>"` → the aggregate version (stream sequence) the client last saw."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Invalid(f'If-Match must be an ETag returned by Parley, like "42"; got {raw}')
    return int(value)


def etag(seq: int) -> str:
    return f'"{seq}"'


async def run(
    request: Request,
    build: Callable[[str], Any],
    *,
    aggregate_id: str | None = None,
    created: bool = False,
    location: str | None = None,
    backfilled: bool = False,
    view: Callable[[Outcome], dict[str, Any]],
) -> JSONResponse:
    """Build the command (given the aggregate id), execute it once, answer with its outcome.

    `aggregate_id` is None for creations: a new id is chosen, and remembered with the
    Idempotency-Key so a retry creates nothing new (client-signed: the first event's id).
    A prepare (`Parley-Sign: prepare`) answers with the events to sign and records nothing.
    """
    runtime = request.app.state.runtime
    app = runtime.app
    signed = cs.signing_request(request)
    key = request.headers.get(IDEMPOTENCY_HEADER) if signed is None or not signed.prepare else None
    correlation = getattr(request.state, "correlation_id", None) if signed is None else signed.correlation_id
    event_ids = list(signed.event_ids) if signed is not None and signed.event_ids else [cs.first_event_id(request, app.new_id)]
    target = aggregate_id or (event_ids[0] if signed is not None else app.new_id())
    retrying = False
    scope = ""
    if key is not None:
        if not 1 <= len(key) <= 200:
            raise Invalid("Idempotency-Key must be 1–200 characters")
        body = await request.body()
        fingerprint = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n" + body).hexdigest()
        scope = request.state.token.id
        record = await runtime.idempotency.begin(
            scope=scope, key=key, request_hash=fingerprint, event_ids=event_ids, aggregate_id=target
        )
        if record.request_hash != fingerprint:
            raise Invalid("this Idempotency-Key was already used for a different request; use a new key")
        if record.existed and not record.done:
            settled = await runtime.idempotency.settle(scope=scope, key=key)
            if settled is None:  # the first attempt was refused and forgotten: run it afresh
                settled = await runtime.idempotency.begin(
                    scope=scope, key=key, request_hash=fingerprint, event_ids=event_ids, aggregate_id=target
                )
            record = settled
        if signed is not None and not record.done and record.existed and record.event_ids != event_ids:
            raise Conflict(f"this Idempotency-Key belongs to an earlier submit of event {record.event_ids[0]} that is not"
                           " settled; repeat that submit with its own headers, or use a new Idempotency-Key")
        if record.done:
            response = JSONResponse(record.response_body, status_code=record.response_status or 200)
            response.headers["Idempotent-Replayed"] = "true"
            if isinstance(record.response_body, dict) and "version" in record.response_body:
                response.headers["ETag"] = etag(record.response_body["version"])
            if location and isinstance(record.response_body, dict):
                response.headers["Location"] = f"{location}/{record.response_body.get('id')}"
            return response
        event_ids, target, retrying = record.event_ids, record.aggregate_id or target, record.existed
    try:
        command, signing = build(target), None
        if signed is not None:
            command = cs.pinned(command, signed, now=app.clock.now(), backfilled=backfilled)
            signing = await cs.client_signing(runtime, command, signed)
        outcome = await app.execute(
            command, expected_seq=expected_version(request), event_ids=event_ids,
            envelope=Envelope(correlation_id=correlation, backfilled=backfilled), retrying=retrying, signing=signing,
        )
    except (Rejected, NotFound):
        if key is not None:
            await runtime.idempotency.abandon(scope=scope, key=key)
        raise
    except Conflict:
        if key is not None and signed is not None:  # nothing appended; the re-prepared submit may reuse the key
            await runtime.idempotency.abandon(scope=scope, key=key)
        raise
    if outcome.prepared and signing is not None and signed is not None:
        return cs.prepared_response(outcome, signing, signed)
    payload = view(outcome)
    status = 201 if created else 200
    if key is not None:
        await runtime.idempotency.complete(scope=scope, key=key, status=status, body=payload)
    response = JSONResponse(payload, status_code=status)
    response.headers["ETag"] = etag(outcome.seq)
    if location:
        response.headers["Location"] = f"{location}/{outcome.aggregate_id}"
    return response
