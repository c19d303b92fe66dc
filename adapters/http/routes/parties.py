"""Parties and their officers: admins register, everyone authenticated reads (also as of a
past moment: `as_of`/`as_of_seq`, adapters/http/as_of.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from adapters.http import commands
from adapters.http.as_of import AsOfAsk, as_of_params, headers, read_list, read_one, reader, resolve
from adapters.http.auth import ANY_ROLE, party_member, requires
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.http.schemas import OfficerIn, PartyIn
from adapters.sql import queries
from adapters.sql.as_of import Order
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
async def list_parties(request: Request, min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params),
                       _: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    rows, cut = await read_list(request, ask, parties.AGGREGATE,
                             lambda source, until: queries.list_parties(source, until_seq=until),
                             Order((("code", False),), ident=("code",)))
    return JSONResponse({"items": encode(rows)}, headers=headers(cut))


@router.get("/{code}", summary="One party")
async def get_party(request: Request, code: str, min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params),
                    _: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    row, cut = await read_one(request, ask, parties.AGGREGATE, code, lambda source: queries.get_party(source, code))
    if row is None:
        raise NotFound(f"party {code} is not registered" + ("" if cut is None else " (as of that moment)"))
    return JSONResponse(encode(row), headers=headers(cut))


@router.post("/{code}/officers", status_code=201, summary="Register an officer of a party")
async def register_officer(request: Request, code: str, body: OfficerIn, who: Principal = Depends(requires(Role.ADMIN))) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request,
        lambda _: parties.RegisterOfficer(party=code, officer_id=body.id, name=body.name, by=who, at=at),
        aggregate_id=code, created=True, backfilled=backfilled, view=_written,
    )


@router.get("/{code}/officers", summary="Officers of a party")
async def list_officers(request: Request, code: str, min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params),
                        who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    party_member(who, code)
    await wait_for(request, min_seq)
    engine = request.app.state.runtime.engine
    if (cut := await resolve(request, ask)) is None:
        rows = await queries.list_officers(engine, code)
    else:  # officers belong to the party aggregate: its rows at the cut, live or rebuilt
        async with reader(request, cut) as at:
            party = await queries.get_party(engine, code)
            source = await at.source_for(parties.AGGREGATE, code, None if party is None else party.last_seq)
            rows = [] if source is None else await queries.list_officers(source, code)
    return JSONResponse({"items": encode(rows)}, headers=headers(cut))
