"""Inspections, evaluation visits and overflights; activity notifications and units reports; quota
status per party and year, as of any moment.

A visit is visible only to its two parties and to auditors (a third party's officer gets the 404
of a missing record); a notification to its notifier, its addressees and auditors; a party's quota
only under agreements that bind the caller's party too.

Visits and notifications also read as of a past moment (`as_of`/`as_of_seq`: only what had been
recorded then, adapters/http/as_of.py). The quota route's `as_of` is older and different: the
quota in force at a *business* moment, computed from the current read models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from adapters.http import commands
from adapters.http.as_of import AsOfAsk, as_of_params, headers, read_list, read_one
from adapters.http.auth import PARTY_ROLES, requires
from adapters.http.visibility import on_record
from adapters.http.hotline_schemas import Empty, Id, Short
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.http.schemas import Body, Code
from adapters.sql import inspection_queries as q
from adapters.sql.as_of import Order
from core.errors import Invalid, NotFound
from core.identity import Principal, Role
from core.inspections import commands as c
from core.inspections.decider import AGGREGATE as INSPECTION, DECIDER as INSPECTIONS
from core.inspections import notifications as n
from core.inspections.quota import Ground
from core.inspections.state import Status
from core.inspections.terms import Kind
from core.service import Outcome

router = APIRouter(tags=["inspections"])
acting = requires(Role.OFFICER, Role.IMPORTER)
reading = requires(*PARTY_ROLES, Role.AUDITOR)
LongText = Annotated[str, Field(min_length=1, max_length=100_000)]
Reasons = Annotated[str, Field(min_length=1, max_length=20_000)]


# --- bodies ------------------------------------------------------------------------------------

class InspectionIn(Body):
    id: Id | None = Field(default=None, description="Chosen by the server when left out")
    agreement_id: Id
    kind: Kind
    to_party: Code = Field(description="The receiving (inspected) party")
    reasons: Annotated[str, Field(min_length=1, max_length=5000)]
    area: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (or a Feature holding one)")
    point_of_entry: Short
    expected_arrival: AwareDatetime
    team_size: int = Field(ge=1, le=1000)


class RefuseIn(Body):
    ground: Ground
    text: Annotated[str, Field(max_length=5000)] = ""


class FlightPlanIn(Body):
    plan: Annotated[str, Field(max_length=20_000)] = ""


class InspectionReportIn(Body):
    findings: LongText


class CommentsIn(Body):
    comments: LongText


class ProhibitIn(Body):
    reasons: Annotated[str, Field(max_length=20_000)] | None = Field(
        default=None, description="Written reasons; when left out they are due within the terms' clock")


class ReasonsIn(Body):
    reasons: Reasons


class ForceMajeureIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class ActivityIn(Body):
    id: Id | None = None
    agreement_id: Id
    title: Short
    start: AwareDatetime
    end: AwareDatetime
    area: dict[str, Any]
    scale: n.Scale = Field(default_factory=n.Scale)


class UnitsIn(Body):
    id: Id | None = None
    agreement_id: Id
    year: int = Field(ge=1900, le=3000)
    units: int = Field(ge=0, le=1_000_000)


# --- writes ------------------------------------------------------------------------------------

def _party(who: Principal) -> str | None:
    return None if who.role is Role.AUDITOR else who.party


def _written(outcome: Outcome) -> dict[str, Any]:
    status = getattr(outcome.state, "status", None)
    out: dict[str, Any] = {"id": outcome.aggregate_id, "version": outcome.seq,
                           "status": getattr(status, "value", status), "event_ids": [e.id for e in outcome.events]}
    if outcome.events:
        out["recorded"] = encode(outcome.events[-1].data)  # e.g. the quota state a reply recorded
    return out


async def _create(request: Request, who: Principal, body: Any, make: Callable[[str, datetime], Any], path: str) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(request, lambda record_id: make(record_id, at), aggregate_id=body.id, created=True,
                              location=path, backfilled=backfilled, view=_written)


_visit = on_record(INSPECTIONS, "inspection_id", caller=acting,
                   ends=lambda visit: (visit.requesting_party, visit.receiving_party))


def _action(name: str, model: type[Body], make: Callable[[str, Principal, datetime, Any], Any], summary: str) -> None:
    async def endpoint(request: Request, body: model, record: tuple[str, Principal] = Depends(_visit)) -> JSONResponse:  # type: ignore[valid-type]
        inspection_id, who = record
        at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
        return await commands.run(request, lambda _: make(inspection_id, who, at, body), aggregate_id=inspection_id,
                                  backfilled=backfilled, view=_written)

    endpoint.__annotations__["body"] = model
    endpoint.__name__ = "inspection_" + name.replace("-", "_")
    router.add_api_route(f"/api/v1/inspections/{{inspection_id}}/{name}", endpoint, methods=["POST"], summary=summary)


@router.post("/api/v1/inspections", status_code=201,
             summary="Request an inspection, evaluation visit or overflight of another party")
async def request_inspection(request: Request, body: InspectionIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: c.RequestInspection(
        inspection_id=i, agreement_id=body.agreement_id, kind=body.kind, to_party=body.to_party, reasons=body.reasons,
        area=body.area, point_of_entry=body.point_of_entry, expected_arrival=body.expected_arrival,
        team_size=body.team_size, by=who, at=at), "/api/v1/inspections")


_action("accept", Empty, lambda i, w, t, b: c.AcceptInspection(inspection_id=i, by=w, at=t),
        "Accept the request (receiving party); the quota state at this moment is recorded")
_action("refuse", RefuseIn, lambda i, w, t, b: c.RefuseInspection(inspection_id=i, by=w, at=t, ground=b.ground, text=b.text),
        "Refuse with a ground (receiving party); a ground the quota state disproves is recorded unsubstantiated")
_action("team-entered", Empty, lambda i, w, t, b: c.RecordTeamEntered(inspection_id=i, by=w, at=t),
        "Record the team's arrival at the point of entry (either party)")
_action("flight-plan", FlightPlanIn, lambda i, w, t, b: c.AgreeFlightPlan(inspection_id=i, by=w, at=t, plan=b.plan),
        "Record the agreed flight plan of an overflight (either party)")
_action("start", Empty, lambda i, w, t, b: c.StartInspection(inspection_id=i, by=w, at=t),
        "Start the inspection or flight (inspecting party)")
_action("complete", Empty, lambda i, w, t, b: c.CompleteInspection(inspection_id=i, by=w, at=t),
        "Complete the inspection or flight (inspecting party)")
_action("report", InspectionReportIn, lambda i, w, t, b: c.SubmitReport(inspection_id=i, by=w, at=t, findings=b.findings),
        "Submit the report (inspecting party)")
_action("comments", CommentsIn, lambda i, w, t, b: c.SubmitComments(inspection_id=i, by=w, at=t, comments=b.comments),
        "Comment on the report (inspected party)")
_action("prohibit", ProhibitIn, lambda i, w, t, b: c.ProhibitInspection(inspection_id=i, by=w, at=t, reasons=b.reasons),
        "Prohibit the visit (receiving party); written reasons are due within the terms' clock")
_action("prohibition-reasons", ReasonsIn,
        lambda i, w, t, b: c.GiveProhibitionReasons(inspection_id=i, by=w, at=t, reasons=b.reasons),
        "Give the written reasons for a prohibition (receiving party)")
_action("force-majeure", ForceMajeureIn, lambda i, w, t, b: c.DeclarePrevented(inspection_id=i, by=w, at=t, text=b.text),
        "Declare that force majeure prevented an accepted visit (either party); it does not count")


# --- reads -------------------------------------------------------------------------------------

#: The order of `inspection_queries.list_inspections` and `list_notifications`, for as-of merges.
_NEWEST_FIRST = Order((("last_seq", True),))


@router.get("/api/v1/inspections", summary="Visits your party requested or receives, newest first")
async def list_inspections(
    request: Request, kind: Kind | None = None, status: Status | None = None,
    agreement_id: str | None = Query(default=None, max_length=64), year: int | None = Query(default=None, ge=1900, le=3000),
    role: str | None = Query(default=None, pattern="^(requesting|receiving)$"),
    unsubstantiated: bool | None = Query(default=None, description="Only refusals flagged (or not) unsubstantiated"),
    before_seq: int | None = Query(default=None, ge=1), limit: int = Query(default=100, ge=1, le=500),
    min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading),
) -> JSONResponse:
    await wait_for(request, min_seq)

    def query(source: q.Source, until_seq: int | None = None) -> Any:
        return q.list_inspections(
            source, party=_party(who), kind=kind.value if kind else None,
            status=status.value if status else None, agreement_id=agreement_id, year=year, role=role,
            unsubstantiated=unsubstantiated, before_seq=before_seq, limit=limit, until_seq=until_seq,
        )

    rows, cut = await read_list(request, ask, INSPECTION, query, _NEWEST_FIRST, limit=limit)
    return JSONResponse(encode({"items": rows, "next_before_seq": rows[-1]["last_seq"] if len(rows) == limit else None}),
                        headers=headers(cut))


@router.get("/api/v1/inspections/{inspection_id}", summary="One visit: clocks, steps, recorded quota state, timeline")
async def get_inspection(request: Request, inspection_id: str, min_seq: int | None = MinSeq,
                         ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading)) -> JSONResponse:
    await wait_for(request, min_seq)
    found, cut = await read_one(request, ask, INSPECTION, inspection_id,
                                     lambda source: q.get_inspection(source, inspection_id, party=_party(who)))
    if found is None:
        raise NotFound(f"inspection {inspection_id} not found" + ("" if cut is None else " as of that moment"))
    return JSONResponse(encode(found), headers=headers(cut, ETag=commands.etag(found["last_seq"])))


@router.get("/api/v1/quotas/{party}/{year}", summary="A party's passive quotas for a year, per agreement and kind")
async def quota_status(
    request: Request, party: str, year: int,
    as_of: AwareDatetime | None = Query(default=None, description="Quota status as it stood then (default: now)"),
    min_seq: int | None = MinSeq, who: Principal = Depends(reading),
) -> JSONResponse:
    await wait_for(request, min_seq)
    if not 1900 <= year <= 3000:
        raise Invalid("year must be from 1900 to 3000")
    runtime = request.app.state.runtime
    moment = as_of or runtime.app.clock.now()
    rows = await q.quota_status(runtime.engine, party, year, as_of=moment, viewer=_party(who))
    if not rows:
        raise NotFound(f"no agreement binding {party} and your party has quotas to show")
    return JSONResponse(encode({"party": party, "year": year, "as_of": moment, "items": rows}))


# --- notifications -----------------------------------------------------------------------------

@router.post("/api/v1/notifications/activities", status_code=201,
             summary="Notify a military activity in advance (late when under the terms' lead time and threshold)")
async def notify_activity(request: Request, body: ActivityIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: n.NotifyActivity(
        notification_id=i, agreement_id=body.agreement_id, title=body.title, start=body.start, end=body.end,
        area=body.area, scale=body.scale, by=who, at=at), "/api/v1/notifications")


@router.post("/api/v1/notifications/units", status_code=201,
             summary="Report your party's units for a year (sets its evaluation-visit quota)")
async def report_units(request: Request, body: UnitsIn, who: Principal = Depends(acting)) -> JSONResponse:
    return await _create(request, who, body, lambda i, at: n.ReportUnits(
        notification_id=i, agreement_id=body.agreement_id, year=body.year, units=body.units, by=who, at=at),
        "/api/v1/notifications")


@router.get("/api/v1/notifications", summary="Notifications your party sent or was sent, newest first")
async def list_notifications(
    request: Request, kind: str | None = Query(default=None, pattern="^(activity|units)$"),
    from_party: str | None = Query(default=None, max_length=16), agreement_id: str | None = Query(default=None, max_length=64),
    late: bool | None = None, before_seq: int | None = Query(default=None, ge=1),
    limit: int = Query(default=100, ge=1, le=500), min_seq: int | None = MinSeq,
    ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading),
) -> JSONResponse:
    await wait_for(request, min_seq)

    def query(source: q.Source, until_seq: int | None = None) -> Any:
        return q.list_notifications(source, party=_party(who), kind=kind, from_party=from_party,
                                    agreement_id=agreement_id, late=late, before_seq=before_seq, limit=limit,
                                    until_seq=until_seq)

    rows, cut = await read_list(request, ask, n.AGGREGATE, query, _NEWEST_FIRST, limit=limit)
    return JSONResponse(encode({"items": rows, "next_before_seq": rows[-1]["last_seq"] if len(rows) == limit else None}),
                        headers=headers(cut))


@router.get("/api/v1/notifications/{notification_id}", summary="One notification")
async def get_notification(request: Request, notification_id: str, min_seq: int | None = MinSeq,
                           ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(reading)) -> JSONResponse:
    await wait_for(request, min_seq)
    found, cut = await read_one(request, ask, n.AGGREGATE, notification_id,
                                     lambda source: q.get_notification(source, notification_id, party=_party(who)))
    if found is None:
        raise NotFound(f"notification {notification_id} not found" + ("" if cut is None else " as of that moment"))
    return JSONResponse(encode(found), headers=headers(cut, ETag=commands.etag(found["last_seq"])))

