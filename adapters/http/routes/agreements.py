"""Agreements: conclude, amend terms, designate contacts, read; check calls of an agreement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from adapters.http import commands
from adapters.http.auth import ANY_ROLE, Hidden, requires, visible_party
from adapters.http.hotline_schemas import AgreementIn, CheckCallAnswerIn, ContactsIn, TermsIn
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.sql import hotline_queries as q
from core.agreements import agreement as ag
from core.errors import Invalid, NotFound
from core.hotline import check_calls
from core.hotline.schedule import slot_at, slots
from core.identity import Principal, Role
from core.service import Outcome

router = APIRouter(prefix="/api/v1/agreements", tags=["agreements"])
managing = requires(Role.ADMIN, Role.IMPORTER)


def _written(outcome: Outcome) -> dict[str, Any]:
    return {"id": outcome.aggregate_id, "version": outcome.seq, "event_ids": [e.id for e in outcome.events]}


async def _visible(request: Request, agreement_id: str, who: Principal) -> ag.Agreement:
    """The agreement, if the caller's party is bound by it (or the caller reads everything)."""
    try:
        found = await request.app.state.runtime.app.agreement(agreement_id)
    except NotFound:
        raise NotFound(f"agreement {agreement_id} does not exist") from None
    party = visible_party(who)
    if party is not None and party not in found.parties:
        raise Hidden(f"agreement {agreement_id} does not exist", why=f"{party} is not bound by {agreement_id}")
    return found


def on_agreement(*roles: Role):  # noqa: ANN201 - a FastAPI dependency factory
    """The role (403), then the agreement's visibility (404) — before the body is validated."""

    async def check(request: Request, agreement_id: str = Path(max_length=64),
                    who: Principal = Depends(requires(*roles))) -> tuple[ag.Agreement, Principal]:
        return await _visible(request, agreement_id, who), who

    return check


@router.post("", status_code=201, summary="Conclude an agreement between parties, with its first terms")
async def conclude(request: Request, body: AgreementIn, who: Principal = Depends(managing)) -> JSONResponse:
    app = request.app.state.runtime.app
    at, backfilled = app.time_for(who, body.time)
    return await commands.run(
        request, lambda agreement_id: ag.ConcludeAgreement(
            agreement_id=agreement_id, name=body.name, parties=tuple(body.parties), terms=body.terms,
            effective_from=body.effective_from, by=who, at=at),
        aggregate_id=body.id, created=True, location="/api/v1/agreements", backfilled=backfilled, view=_written,
    )


@router.post("/{agreement_id}/terms", summary="Amend the terms: a new version, effective from a moment")
async def amend(request: Request, agreement_id: str, body: TermsIn, who: Principal = Depends(managing)) -> JSONResponse:
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request, lambda _: ag.AmendTerms(agreement_id=agreement_id, terms=body.terms, effective_from=body.effective_from,
                                         reason=body.reason, by=who, at=at),
        aggregate_id=agreement_id, backfilled=backfilled, view=_written,
    )


@router.post("/{agreement_id}/contacts", summary="Designate a party's primary and alternate hotline contacts")
async def contacts(request: Request, agreement_id: str, body: ContactsIn,
                   seen: tuple[ag.Agreement, Principal] = Depends(on_agreement(Role.ADMIN, Role.OFFICER))) -> JSONResponse:
    who = seen[1]
    at, _ = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request, lambda _: ag.DesignateContacts(agreement_id=agreement_id, party=body.party, primary=body.primary,
                                                alternate=body.alternate, by=who, at=at),
        aggregate_id=agreement_id, view=_written,
    )


@router.get("", summary="Agreements (a party's members see those binding their party)")
async def list_agreements(request: Request, min_seq: int | None = MinSeq,
                          who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    rows = await q.list_agreements(request.app.state.runtime.engine, party=visible_party(who))
    return JSONResponse(encode({"items": rows}))


@router.get("/{agreement_id}", summary="One agreement: parties, contacts and every terms version")
async def get_agreement(request: Request, agreement_id: str, min_seq: int | None = MinSeq,
                        who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    await _visible(request, agreement_id, who)
    found = await q.get_agreement(request.app.state.runtime.engine, agreement_id)
    if found is None:
        raise NotFound(f"agreement {agreement_id} is not projected yet: pass min_seq")
    return JSONResponse(encode(found), headers={"ETag": commands.etag(found["last_seq"])})


@router.get("/{agreement_id}/check-calls", summary="Recorded check calls, per-party streaks and the next slots")
async def list_check_calls(request: Request, agreement_id: str, min_seq: int | None = MinSeq,
                           limit: int = Query(default=200, ge=1, le=1000),
                           who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    found = await _visible(request, agreement_id, who)
    engine = request.app.state.runtime.engine
    now = request.app.state.runtime.app.clock.now()
    upcoming = slots(found, start=now - timedelta(hours=12), end=now + timedelta(days=7))
    return JSONResponse(encode({
        "items": await q.list_check_calls(engine, agreement_id, limit=limit),
        "streaks": await q.check_call_streaks(engine, agreement_id),
        "upcoming": [{"slot_id": s.id, "slot_start": s.start, "window_end": s.window_end, "caller": s.caller,
                      "expected": list(s.expected), "terms_version": s.terms_version}
                     for s in upcoming if s.window_end > now],
    }))


@router.post("/{agreement_id}/check-calls/answer", summary="Answer a scheduled check call within its window")
async def answer_check_call(request: Request, agreement_id: str, body: CheckCallAnswerIn,
                            seen: tuple[ag.Agreement, Principal] = Depends(on_agreement(Role.OFFICER, Role.IMPORTER))) -> JSONResponse:
    found, who = seen
    slot = slot_at(found, body.slot_start)
    if slot is None:
        raise Invalid(f"no check call of agreement {agreement_id} is scheduled at {body.slot_start.isoformat()}")
    at, backfilled = request.app.state.runtime.app.time_for(who, body.time)
    return await commands.run(
        request, lambda _: check_calls.AnswerCheckCall(slot=slot, by=who, at=at),
        aggregate_id=slot.id, backfilled=backfilled, view=_written,
    )


