"""Incidents: file, act on the lifecycle, list, read, and follow the timeline — the reads also as
of a past moment (`as_of`/`as_of_seq`, adapters/http/as_of.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from adapters.http import client_signatures, commands
from adapters.http.as_of import AsOfAsk, as_of_params, headers, reader, resolve
from adapters.http.auth import ANY_ROLE, on_incident, requires, visible_party
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.http.schemas import (
    AccountIn, AcknowledgeIn, AmendIn, AnswerIn, Body, ClarificationIn, DisputeIn, ReasonIn,
    ReconcileIn, ReportIn, ResolveIn, ReviewIn,
)
from adapters.sql import queries
from core.errors import Invalid, NotFound
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.accounts import Kind
from core.incidents.events import AGGREGATE as INCIDENT
from core.incidents.state import Status
from core.service import Outcome

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
acting = requires(Role.OFFICER, Role.IMPORTER)
#: Writes on an incident: an officer or importer of a party involved in it (others: 404).
acting_on = on_incident(Role.OFFICER, Role.IMPORTER)
#: Reads of an incident: its parties' members, auditors and admins (others: 404).
reading = on_incident(*ANY_ROLE)


def _written(outcome: Outcome) -> dict[str, Any]:
    status = getattr(outcome.state, "status", None)
    return {
        "id": outcome.aggregate_id,
        "version": outcome.seq,
        "status": status.value if status is not None else None,
        "event_ids": [e.id for e in outcome.events],
    }


@router.post("", status_code=201, summary="File an incident report (your party's account)")
async def report(request: Request, body: ReportIn, who: Principal = Depends(acting)) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request,
        lambda incident_id: c.ReportIncident(
            incident_id=incident_id, by=who, at=at, parties=tuple(body.parties), account=body.account
        ),
        created=True, location="/api/v1/incidents", backfilled=backfilled, view=_written,
    )


def _action(path: str, model: type[Body], make: Callable[[str, Principal, datetime, Any], c.Command], summary: str) -> None:
    async def endpoint(request: Request, incident_id: str, body: model, who: Principal = Depends(acting_on)) -> JSONResponse:  # type: ignore[valid-type]
        at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
        return await commands.run(
            request, lambda _: make(incident_id, who, at, body), aggregate_id=incident_id, backfilled=backfilled, view=_written
        )

    endpoint.__annotations__["body"] = model  # resolved here: the closure's model, not a global name
    endpoint.__name__ = path.strip("/").replace("-", "_").replace("/", "_").replace("{", "").replace("}", "") or "action"
    router.add_api_route(f"/{{incident_id}}/{path}", endpoint, methods=["POST"], summary=summary)


_action("acknowledge", AcknowledgeIn, lambda i, w, t, b: c.AcknowledgeIncident(incident_id=i, by=w, at=t),
        "Acknowledge receipt of the report (counterparty)")
_action("counter-account", AccountIn, lambda i, w, t, b: c.FileCounterAccount(incident_id=i, by=w, at=t, account=b.account),
        "File your party's own account")
_action("amend", AmendIn, lambda i, w, t, b: c.AmendAccount(incident_id=i, by=w, at=t, account=b.account, reason=b.reason),
        "Amend your party's account (a new version)")
_action("retract", ReasonIn, lambda i, w, t, b: c.RetractIncident(incident_id=i, by=w, at=t, reason=b.reason),
        "Retract the incident (reporter)")
_action("reconcile", ReconcileIn, lambda i, w, t, b: c.AgreeReconciliation(
    incident_id=i, by=w, at=t, agreed_fields=tuple(b.agreed_fields), note=b.note), "Agree that the accounts are reconciled")
_action("dispute", DisputeIn, lambda i, w, t, b: c.DisputeIncident(
    incident_id=i, by=w, at=t, disputed_fields=tuple(b.disputed_fields), statement=b.statement), "Dispute the accounts")
_action("review", ReviewIn, lambda i, w, t, b: c.ReferToReview(incident_id=i, by=w, at=t, forum=b.forum),
        "Refer the dispute to a review forum")
_action("resolve", ResolveIn, lambda i, w, t, b: c.ResolveIncident(incident_id=i, by=w, at=t, finding=b.finding),
        "Record the review's finding")


@router.post("/{incident_id}/clarifications", summary="Ask another party for a clarification")
async def request_clarification(request: Request, incident_id: str, body: ClarificationIn, who: Principal = Depends(acting_on)) -> JSONResponse:
    app = request.app.state.runtime.app
    at, backfilled = app.time_for(who, body.time)
    # the first event's id: the same in a client-signed prepare and its submit (client_signatures)
    clarification_id = body.id or client_signatures.first_event_id(request, app.new_id)
    return await commands.run(
        request,
        lambda _: c.RequestClarification(incident_id=incident_id, by=who, at=at, clarification_id=clarification_id,
                                         to_party=body.to_party, question=body.question),
        aggregate_id=incident_id, backfilled=backfilled, view=lambda o: {**_written(o), "clarification_id": clarification_id},
    )


@router.post("/{incident_id}/clarifications/{clarification_id}/answer", summary="Answer a clarification")
async def answer_clarification(request: Request, incident_id: str, clarification_id: str, body: AnswerIn, who: Principal = Depends(acting_on)) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request,
        lambda _: c.ProvideClarification(incident_id=incident_id, by=who, at=at, clarification_id=clarification_id, answer=body.answer),
        aggregate_id=incident_id, backfilled=backfilled, view=_written,
    )


@router.get("", summary="List incidents (newest first), with filters and cursor pagination")
async def list_incidents(
    request: Request,
    party: str | None = Query(default=None, max_length=16, description="Involving this party"),
    kind: Kind | None = None,
    status: Status | None = None,
    since: datetime | None = Query(default=None, description="Incidents that started at or after"),
    until: datetime | None = Query(default=None, description="Incidents that started before"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=500),
    min_seq: int | None = MinSeq,
    ask: AsOfAsk = Depends(as_of_params),
    who: Principal = Depends(requires(*ANY_ROLE)),
) -> JSONResponse:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Invalid(f"{name} must include a time zone, e.g. 2024-01-01T00:00:00Z")
    await wait_for(request, min_seq)

    def query(source: queries.Source, until_seq: int | None = None) -> Any:
        return queries.list_incidents(
            source, party=party, kind=kind.value if kind else None,
            status=status.value if status else None, since=since, until=until, cursor=cursor, limit=limit,
            visible_to=visible_party(who),  # a party's members see only incidents involving their party
            until_seq=until_seq,
        )

    if (cut := await resolve(request, ask)) is None:
        page = await query(request.app.state.runtime.engine)
    else:
        async with reader(request, cut) as at:
            page = await at.incident_page(query, limit=limit)
    return JSONResponse(encode(page), headers=headers(cut))


@router.get("/{incident_id}", summary="One incident with every party's account")
async def get_incident(request: Request, incident_id: str, min_seq: int | None = MinSeq,
                       ask: AsOfAsk = Depends(as_of_params), _: Principal = Depends(reading)) -> Response:
    await wait_for(request, min_seq)
    engine = request.app.state.runtime.engine
    if (cut := await resolve(request, ask)) is None:
        found = await queries.get_incident(engine, incident_id)
    else:
        async with reader(request, cut) as at:
            found = await at.record(INCIDENT, incident_id, lambda source: queries.get_incident(source, incident_id))
    if found is None:
        raise NotFound(f"incident {incident_id} does not exist" + (
            " (or is not projected yet: pass min_seq)" if cut is None else " as of that moment"))
    body = encode(found)
    tag = commands.etag(body["last_seq"])
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers(cut, ETag=tag))
    return JSONResponse(body, headers=headers(cut, ETag=tag))


@router.get("/{incident_id}/timeline", summary="Every event of the incident, in order")
async def timeline(request: Request, incident_id: str, min_seq: int | None = MinSeq,
                   ask: AsOfAsk = Depends(as_of_params), _: Principal = Depends(reading)) -> JSONResponse:
    await wait_for(request, min_seq)
    cut = await resolve(request, ask)
    items = await queries.incident_timeline(request.app.state.runtime.engine, incident_id)
    if cut is not None:  # timeline rows are only ever added, each at its event's sequence
        items = [item for item in items if item.seq <= cut.seq]
    if not items:
        raise NotFound(f"incident {incident_id} does not exist" + ("" if cut is None else " as of that moment"))
    return JSONResponse({"items": encode(items)}, headers=headers(cut))
