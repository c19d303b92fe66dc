"""The hotline: messages, call requests, explanation requests, and the live stream (SSE).

Hotline traffic is visible only to the two parties of its channel and to auditors: anyone else
(admins included) is refused, and a third party's officer gets the 404 of a missing record. The
reads also answer as of a past moment (`as_of`/`as_of_seq`, adapters/http/as_of.py); the live
stream does not (it resumes from a sequence instead).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from adapters.http import commands
from adapters.http.as_of import AsOfAsk, as_of_params, headers, read_list, read_one, reader, resolve
from adapters.http.auth import PARTY_ROLES, requires
from adapters.http.hotline_schemas import (
    AcceptCallIn, AnswerMessageIn, Body, CallRequestIn, DeclineCallIn, Empty, ExplanationIn, MessageIn, NoteIn, ReplyIn,
)
from adapters.http.visibility import on_record
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.http.tickets import stream_reader
from adapters.sql import hotline_queries as q
from adapters.sql.as_of import Order
from core.errors import NotFound
from core.hotline import calls, explanations as x, messages as m
from core.identity import Principal, Role
from core.service import Outcome

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"])
acting = requires(Role.OFFICER, Role.IMPORTER)  # importers backfill history
reading = requires(*PARTY_ROLES, Role.AUDITOR)
#: How often the live stream looks for new traffic, and how often it sends a keep-alive.
POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


def _party(who: Principal) -> str | None:
    return None if who.role is Role.AUDITOR else who.party


def _written(outcome: Outcome) -> dict[str, Any]:
    status = getattr(outcome.state, "status", None)
    return {"id": outcome.aggregate_id, "version": outcome.seq,
            "status": getattr(status, "value", status), "event_ids": [e.id for e in outcome.events]}


async def _create(request: Request, who: Principal, body: Any, make: Callable[[str, Any], Any], path: str) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(request, lambda record_id: make(record_id, at), aggregate_id=body.id, created=True,
                              location=f"/api/v1/hotline/{path}", backfilled=backfilled, view=_written)


def _action(path: str, model: type[Body], make: Callable[[str, Principal, Any, Any], Any], summary: str) -> None:
    """POST `/<records>/{<param>}/<verb>`: `make(record_id, who, at, body)` builds the command."""
    records, param, verb = path.strip("/").split("/")
    decider = {"messages": m.DECIDER, "calls": calls.DECIDER, "explanations": x.DECIDER}[records]
    target = on_record(decider, param.strip("{}"), caller=acting)

    async def endpoint(request: Request, body: model, record: tuple[str, Principal] = Depends(target)) -> JSONResponse:  # type: ignore[valid-type]
        record_id, who = record
        at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
        return await commands.run(request, lambda _: make(record_id, who, at, body), aggregate_id=record_id,
                                  backfilled=backfilled, view=_written)

    endpoint.__annotations__["body"] = model
    endpoint.__name__ = f"{verb.replace('-', '_')}_{records.rstrip('s')}"
    router.add_api_route(path, endpoint, methods=["POST"], summary=summary)


# --- messages ----------------------------------------------------------------------------------

@router.post("/messages", status_code=201, summary="Send a hotline message to another party of an agreement")
async def send(request: Request, body: MessageIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: m.SendMessage(
        message_id=i, agreement_id=body.agreement_id, to_party=body.to_party, precedence=body.precedence,
        subject=body.subject, body=body.body, in_reply_to=body.in_reply_to, answer_required=body.answer_required,
        by=who, at=at), "messages")


_action("/messages/{message_id}/delivered", Empty, lambda i, w, t, b: m.MarkDelivered(message_id=i, by=w, at=t),
        "Record that your client received the message (recipient)")
_action("/messages/{message_id}/acknowledge", Empty, lambda i, w, t, b: m.AcknowledgeMessage(message_id=i, by=w, at=t),
        "Acknowledge the message: a person has seen it (recipient)")
_action("/messages/{message_id}/answer", AnswerMessageIn,
        lambda i, w, t, b: m.AnswerMessage(message_id=i, by=w, at=t, body=b.body), "Answer the message (recipient)")


@router.get("/messages", summary="Messages of your party's channels, newest first")
async def list_messages(
    request: Request, box: str | None = Query(default=None, pattern="^(inbox|outbox)$"),
    agreement_id: str | None = Query(default=None, max_length=64), status: m.Status | None = None,
    overdue: bool = Query(default=False, description="Only messages past their acknowledgement deadline, unacknowledged"),
    before_seq: int | None = Query(default=None, ge=1), limit: int = Query(default=100, ge=1, le=500),
    min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading),
) -> JSONResponse:
    await wait_for(request, min_seq)
    runtime = request.app.state.runtime
    cut = await resolve(request, ask)
    now = runtime.app.clock.now() if cut is None else cut.moment

    def query(source: q.Source, until_seq: int | None = None) -> Any:
        return q.list_messages(
            source, party=_party(who), agreement_id=agreement_id, box=box, status=status.value if status else None,
            overdue_at=now if overdue else None, before_seq=before_seq, limit=limit, until_seq=until_seq,
        )

    if cut is None:
        rows = await query(runtime.engine)
    else:
        async with reader(request, cut) as at:
            rows = await at.listing(m.AGGREGATE, query, Order((("sent_seq", True),)), limit=limit)
    return JSONResponse(encode({"items": rows, "next_before_seq": rows[-1]["sent_seq"] if len(rows) == limit else None}),
                        headers=headers(cut))


@router.get("/messages/{message_id}", summary="One message with its body, answer and timeline")
async def get_message(request: Request, message_id: str, min_seq: int | None = MinSeq,
                      ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading)) -> JSONResponse:
    await wait_for(request, min_seq)

    found, cut = await read_one(request, ask, m.AGGREGATE, message_id,
                           lambda source: q.get_message(source, message_id, party=_party(who)))
    if found is None:
        raise NotFound(f"message {message_id} not found" + ("" if cut is None else " as of that moment"))
    return JSONResponse(encode(found), headers=headers(cut, ETag=commands.etag(found["last_seq"])))


# --- call requests -----------------------------------------------------------------------------

@router.post("/calls", status_code=201, summary="Request a call with another party (it has a deadline to respond)")
async def request_call(request: Request, body: CallRequestIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: calls.RequestCall(
        request_id=i, agreement_id=body.agreement_id, to_party=body.to_party, purpose=body.purpose, by=who, at=at), "calls")


_action("/calls/{call_id}/accept", AcceptCallIn,
        lambda i, w, t, b: calls.AcceptCall(request_id=i, by=w, at=t, scheduled_for=b.scheduled_for), "Accept a call request")
_action("/calls/{call_id}/decline", DeclineCallIn,
        lambda i, w, t, b: calls.DeclineCall(request_id=i, by=w, at=t, reason=b.reason), "Decline a call request")
_action("/calls/{call_id}/held", NoteIn,
        lambda i, w, t, b: calls.RecordCallHeld(request_id=i, by=w, at=t, note=b.note), "Record that the call was held")


# --- explanation requests ----------------------------------------------------------------------

@router.post("/explanations", status_code=201, summary="Request an explanation (reply due within the terms' deadline)")
async def request_explanation(request: Request, body: ExplanationIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: x.RequestExplanation(
        request_id=i, agreement_id=body.agreement_id, to_party=body.to_party, subject=body.subject,
        question=body.question, incident_id=body.incident_id, by=who, at=at), "explanations")


_action("/explanations/{explanation_id}/reply", ReplyIn,
        lambda i, w, t, b: x.ReplyExplanation(request_id=i, by=w, at=t, text=b.text), "Reply to an explanation request")
_action("/explanations/{explanation_id}/meeting", Empty,
        lambda i, w, t, b: x.RequestMeeting(request_id=i, by=w, at=t), "Ask for a meeting after no reply (requester)")
_action("/explanations/{explanation_id}/meeting-held", NoteIn,
        lambda i, w, t, b: x.RecordMeetingHeld(request_id=i, by=w, at=t, note=b.note), "Record that the meeting was held")


#: The order of `hotline_queries.list_requests`, for as-of merges.
_REQUESTS_NEWEST_FIRST = Order((("requested_at", True), ("id", False)))


def _reads(kind: str, path: str, param: str) -> None:
    aggtype = calls.AGGREGATE if kind == "call" else x.AGGREGATE

    async def listing(request: Request, agreement_id: str | None = Query(default=None, max_length=64),
                      status: str | None = Query(default=None, max_length=32), limit: int = Query(default=100, ge=1, le=500),
                      min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params),
                      who: Principal = Depends(reading)) -> JSONResponse:
        await wait_for(request, min_seq)

        def query(source: q.Source, until_seq: int | None = None) -> Any:
            return q.list_requests(source, kind, party=_party(who), agreement_id=agreement_id, status=status,
                                   limit=limit, until_seq=until_seq)

        rows, cut = await read_list(request, ask, aggtype, query, _REQUESTS_NEWEST_FIRST, limit=limit)
        return JSONResponse(encode({"items": rows}), headers=headers(cut))

    async def one(request: Request, record_id: str = Path(alias=param, max_length=64), min_seq: int | None = MinSeq,
                  ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading)) -> JSONResponse:
        await wait_for(request, min_seq)

        found, cut = await read_one(request, ask, aggtype, record_id,
                               lambda source: q.get_request(source, kind, record_id, party=_party(who)))
        if found is None:
            raise NotFound(f"{kind} request {record_id} not found" + ("" if cut is None else " as of that moment"))
        return JSONResponse(encode(found), headers=headers(cut, ETag=commands.etag(found["last_seq"])))

    listing.__name__, one.__name__ = f"list_{path}", f"get_{path}"
    router.add_api_route(f"/{path}", listing, methods=["GET"], summary=f"{kind.title()} requests of your party's channels")
    router.add_api_route(f"/{path}/{{{param}}}", one, methods=["GET"], summary=f"One {kind} request with its timeline")


_reads("call", "calls", "call_id")
_reads("explanation", "explanations", "explanation_id")


# --- live delivery -----------------------------------------------------------------------------

@router.get("/stream", summary="Live hotline traffic of your party (Server-Sent Events; resumes from Last-Event-ID)",
            response_class=StreamingResponse)
async def stream(request: Request, last_event_id: str | None = Header(default=None, max_length=20),
                 after: int | None = Query(default=None, ge=0, description="Start after this stream sequence"),
                 who: Principal = Depends(stream_reader)) -> StreamingResponse:  # bearer, or ?ticket= (adapters/http/tickets.py)
    start = after if after is not None else _sequence(last_event_id)
    if start is None:  # a new subscriber starts from now, not from the beginning of history
        start = await request.app.state.runtime.projector.checkpoint()
    return StreamingResponse(_events(request, _party(who), start), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sequence(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw.strip())


async def _events(request: Request, party: str | None, after: int) -> AsyncIterator[bytes]:
    engine = request.app.state.runtime.engine
    yield b"retry: 1000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        rows = await q.feed(engine, party=party, after=after, limit=200)
        for row in rows:
            after = row["seq"]
            payload = json.dumps(encode(row), separators=(",", ":"))
            yield f"id: {after}\nevent: {row['type']}\ndata: {payload}\n\n".encode()
        if rows:
            idle = 0.0
            continue
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield b": keep-alive\n\n"
