"""Parties and their officers: admins register, everyone authenticated reads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from adapters.http import commands
from adapters.http.auth import ANY_ROLE, party_member, requires
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.http.schemas import OfficerIn, PartyIn
from adapters.sql import queries
from core import parties
from core.errors import NotFound
from core.identity import Principal, Role
from core.service import Outcome

router = APIRouter(prefix="/api/v1/parties", tags=["parties"])


def _written(outcome: Outcome) -> dict[str, object]:
    return {"id": outcome.aggregate_id, "version": outcome.seq, "event_ids": [e.id for e in outcome.events]}


@router.post("", status_code=201, summary="Register a party")
async def register_party(request: Request, body: PartyIn, who: Principal = Depends(requires(Role.ADMIN))) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request, lambda _: parties.RegisterParty(code=body.code, name=body.name, by=who, at=at),
        aggregate_id=body.code, created=True, backfilled=backfilled, view=_written,
    )


@router.get("", summary="List parties")
async def list_parties(request: Request, min_seq: int | None = MinSeq, _: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    rows = await queries.list_parties(request.app.state.runtime.engine)
    return JSONResponse({"items": encode(rows)})


@router.get("/{code}", summary="One party")
async def get_party(request: Request, code: str, min_seq: int | None = MinSeq, _: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    row = await queries.get_party(request.app.state.runtime.engine, code)
    if row is None:
        raise NotFound(f"party {code} is not registered")
    return JSONResponse(encode(row))


@router.post("/{code}/officers", status_code=201, summary="Register an officer of a party")
async def register_officer(request: Request, code: str, body: OfficerIn, who: Principal = Depends(requires(Role.ADMIN))) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request,
        lambda _: parties.RegisterOfficer(party=code, officer_id=body.id, name=body.name, by=who, at=at),
        aggregate_id=code, created=True, backfilled=backfilled, view=_written,
    )


@router.get("/{code}/officers", summary="Officers of a party")
async def list_officers(request: Request, code: str, min_seq: int | None = MinSeq, who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    party_member(who, code)
    await wait_for(request, min_seq)
    rows = await queries.list_officers(request.app.state.runtime.engine, code)
    return JSONResponse({"items": encode(rows)})
