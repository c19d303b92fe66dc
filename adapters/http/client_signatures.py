"""Client-signed writes over HTTP: the headers that carry `core.integrity.client_signing`.

Every command route works this way, because every write goes through `adapters.http.commands.run`:

1. Send the write with `Parley-Sign: prepare`. The answer (200) holds the events the command would
   append now, the bytes to sign for each, the keys of your party that may sign, and the headers
   for step 2 (`submit_headers`). Nothing is appended and no Idempotency-Key is recorded.
2. Send the *same* write again with `submit_headers` plus `Parley-Signature`. The server decides
   again on the pinned ids and time, checks that each event hashes to what you signed and that
   each signature verifies with a published, unretired key of your party, and appends the events
   with your signatures (the server signs nothing). 422: a signature, key or header is wrong;
   409: the record changed since step 1, prepare again. An Idempotency-Key on step 2 makes a
   retried submit return the original result.

A record created by a client-signed write takes its first event's id as its id (unless the body
names one), so the submit needs no header for it. The event's `correlationid` is the
`X-Correlation-Id` the client sent (none if it sent none), the same in both steps.

Events of one command are signed one by one: ids, hashes and signatures are comma-separated lists
(or repeated headers) in event order.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from adapters.http.telemetry import SAFE_CORRELATION
from core.envelope import format_time, parse_time
from core.errors import Invalid
from core.integrity import keys as k
from core.integrity.client_signing import SIGNING_WINDOW, ClientSigning, PartyKeys, Submitted, check_pinned_time
from core.integrity.notes import NoteError
from core.integrity.signatures import EventSignature, signed_bytes
from core.service import Outcome

SIGN_HEADER = "Parley-Sign"
"""`Parley-Sign: prepare` asks for the events a write would append, to sign them: nothing is appended."""
PREPARE = "prepare"

EVENT_ID_HEADER = "Parley-Event-Id"
"""Submit: the ids of the prepared events, in order (the event ids the write must append with)."""

EVENT_TIME_HEADER = "Parley-Event-Time"
"""Submit: the prepared events' `time` (one per command). It must lie at most
`core.integrity.client_signing.SIGNING_WINDOW` (5 minutes) behind the server clock and never before
the record's last event; a backfilled write (importer `time`) must repeat its body's time."""

EVENT_HASH_HEADER = "Parley-Event-Hash"
"""Submit: the `hash` of each event the client signed, in order. A mismatch means the events
decided now are not the ones signed (the record changed since the prepare): 409, prepare again."""

SIGNATURE_HEADER = "Parley-Signature"
"""Submit: one `<key name> <base64(key id || Ed25519 signature)>` per event (`EventSignature.encode`),
over `signed_bytes(event)`, in order, comma-separated."""

CORRELATION_HEADER = "X-Correlation-Id"
SUBMIT_HEADERS = (EVENT_ID_HEADER, EVENT_TIME_HEADER, EVENT_HASH_HEADER, SIGNATURE_HEADER)
HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class SigningRequest:
    """What a request's signing headers ask for: a prepare, or a submit with its pinned values."""

    prepare: bool
    correlation_id: str | None
    event_ids: tuple[str, ...] = ()
    time: datetime | None = None
    hashes: tuple[str, ...] = ()
    signatures: tuple[EventSignature, ...] = ()


def _values(request: Request, name: str) -> list[str]:
    """A list header: repeated headers and comma-separated values, in order."""
    return [item.strip() for value in request.headers.getlist(name) for item in value.split(",") if item.strip()]


def signing_request(request: Request) -> SigningRequest | None:
    """The request's signing headers, checked; None when it has none (the server signs)."""
    mode = request.headers.get(SIGN_HEADER)
    present = [name for name in SUBMIT_HEADERS if name.lower() in request.headers]
    supplied = request.headers.get(CORRELATION_HEADER, "")
    correlation = supplied if SAFE_CORRELATION.match(supplied) else None
    if mode is not None:
        if mode.strip().lower() != PREPARE:
            raise Invalid(f"{SIGN_HEADER} may only be {PREPARE!r}; got {mode!r}")
        if present:
            raise Invalid(f"a prepare ({SIGN_HEADER}: {PREPARE}) carries no {', '.join(present)}; send those with the submit")
        return SigningRequest(prepare=True, correlation_id=correlation)
    if not present:
        return None
    missing = [name for name in SUBMIT_HEADERS if name not in present]
    if missing:
        raise Invalid(f"a client-signed write needs {', '.join(SUBMIT_HEADERS)}; {', '.join(missing)} missing"
                      f" (send the submit_headers of the prepare, plus {SIGNATURE_HEADER})")
    ids, hashes, texts = _values(request, EVENT_ID_HEADER), _values(request, EVENT_HASH_HEADER), _values(request, SIGNATURE_HEADER)
    if not ids or not len(ids) == len(hashes) == len(texts):
        raise Invalid(f"{EVENT_ID_HEADER}, {EVENT_HASH_HEADER} and {SIGNATURE_HEADER} must name the same number of"
                      f" events, one value each, in order (got {len(ids)}, {len(hashes)}, {len(texts)})")
    for event_id in ids:
        try:
            canonical = str(uuid.UUID(event_id)) == event_id
        except ValueError:
            canonical = False
        if not canonical:
            raise Invalid(f"{EVENT_ID_HEADER} {event_id!r} is not an event id the prepare returned (a lowercase UUID)")
    if len(set(ids)) != len(ids):
        raise Invalid(f"{EVENT_ID_HEADER} names an event id twice")
    for value in hashes:
        if not HEX_SHA256.match(value):
            raise Invalid(f"{EVENT_HASH_HEADER} {value[:20]!r} is not a SHA-256 hex digest (the prepared event's hash)")
    signatures = []
    for text in texts:
        try:
            signatures.append(EventSignature.parse(text))
        except NoteError as err:
            raise Invalid(f"{SIGNATURE_HEADER} cannot be read: {err}") from None
    raw_time = request.headers[EVENT_TIME_HEADER].strip()
    try:
        pinned = parse_time(raw_time)
    except ValueError:
        raise Invalid(f"{EVENT_TIME_HEADER} {raw_time[:40]!r} is not an RFC 3339 time with a zone (send the prepared `time`)") from None
    return SigningRequest(prepare=False, correlation_id=correlation, event_ids=tuple(ids), time=pinned,
                          hashes=tuple(hashes), signatures=tuple(signatures))


def first_event_id(request: Request, new_id: Any) -> str:
    """The id of the first event this request will append, chosen once per request.

    A route that names a new record before `run` (e.g. a clarification) uses it, so the record's id
    is the same in a prepare and its submit: the submit pins it as its first event id."""
    signing = signing_request(request)
    if signing is not None and signing.event_ids:
        return signing.event_ids[0]
    chosen = getattr(request.state, "first_event_id", None)
    if chosen is None:
        chosen = new_id()
        request.state.first_event_id = chosen
    return chosen


def pinned(command: Any, signing: SigningRequest, *, now: datetime, backfilled: bool) -> Any:
    """`command` at the submit's pinned time, after checking that time (a prepare: unchanged)."""
    if signing.prepare or signing.time is None:
        return command
    if backfilled:
        if signing.time != command.at:
            raise Invalid(f"{EVENT_TIME_HEADER} must be the backfilled `time` of the body, {format_time(command.at)}")
        return command
    check_pinned_time(signing.time, now=now)
    return replace(command, at=signing.time)


async def client_signing(runtime: Any, command: Any, signing: SigningRequest) -> ClientSigning:
    """How the handler seals this command: the acting party's keys valid now, read from the log
    (the same `key` events `parley verify` trusts), and the submitted signatures."""
    by = command.by
    holder = k.holder_of({"party": by.party or by.role.value})
    state = (await runtime.app.handler.load(k.DECIDER, holder, fresh=True)).state
    keys = PartyKeys.of(holder, state)
    if signing.prepare:
        return ClientSigning(keys=keys)
    submitted = tuple(Submitted(event_id=i, hash=h, signature=s)
                      for i, h, s in zip(signing.event_ids, signing.hashes, signing.signatures))
    return ClientSigning(keys=keys, submitted=submitted)


def prepared_response(outcome: Outcome, signing: ClientSigning, request: SigningRequest) -> JSONResponse:
    """200 with the events to sign, the bytes to sign and the headers of the submit."""
    events = list(outcome.events)
    body: dict[str, Any] = {
        "prepared": True, "appended": False, "aggregate_id": outcome.aggregate_id, "version": outcome.seq,
        "holder": signing.keys.holder, "keys": signing.keys.describe(),
        "events": [{"event": event.to_dict(), "signed_bytes": base64.b64encode(signed_bytes(event)).decode(),
                    "key_name": signing.keys.holder} for event in events],
    }
    if events:
        headers = {EVENT_ID_HEADER: ", ".join(e.id for e in events), EVENT_TIME_HEADER: events[0].time,
                   EVENT_HASH_HEADER: ", ".join(str(e.hash) for e in events)}
        if request.correlation_id is not None:
            headers[CORRELATION_HEADER] = request.correlation_id
        body["submit_headers"] = headers
        body["sign_before"] = format_time(events[0].moment + SIGNING_WINDOW)
    else:
        body["detail"] = "the command changes nothing now: there is nothing to sign"
    return JSONResponse(body, status_code=200, headers={"ETag": f'"{outcome.seq}"'})
