"""Agreements: conclude, amend terms, designate contacts, read; check calls of an agreement. The
reads also as of a past moment (`as_of`/`as_of_seq`, adapters/http/as_of.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from adapters.http import commands
from adapters.http.as_of import AsOfAsk, as_of_params, headers, read_list, read_one, reader, resolve
from adapters.http.auth import ANY_ROLE, Hidden, requires, visible_party
from adapters.http.hotline_schemas import AgreementIn, CheckCallAnswerIn, ContactsIn, TermsIn
from adapters.http.routes.reads import MinSeq, encode, wait_for
from adapters.sql import hotline_queries as q
from adapters.sql.as_of import Order
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
async def list_agreements(request: Request, min_seq: int | None = MinSeq, ask: AsOfAsk = Depends(as_of_params),
                          who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)

    def query(source: q.Source, until_seq: int | None = None) -> Any:
        return q.list_agreements(source, party=visible_party(who), until_seq=until_seq)

    rows, cut = await read_list(request, ask, ag.AGGREGATE, query, Order((("id", False),)))
    return JSONResponse(encode({"items": rows}), headers=headers(cut))


@router.get("/{agreement_id}", summary="One agreement: parties, contacts and every terms version")
async def get_agreement(request: Request, agreement_id: str, min_seq: int | None = MinSeq,
                        ask: AsOfAsk = Depends(as_of_params), who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    await _visible(request, agreement_id, who)
    found, cut = await read_one(request, ask, ag.AGGREGATE, agreement_id,
                                lambda source: q.get_agreement(source, agreement_id))
    if found is None:
        raise NotFound(f"agreement {agreement_id} is not projected yet: pass min_seq" if cut is None
                       else f"agreement {agreement_id} did not exist as of that moment")
    return JSONResponse(encode(found), headers=headers(cut, ETag=commands.etag(found["last_seq"])))


@router.get("/{agreement_id}/check-calls", summary="Recorded check calls, per-party streaks and the next slots")
async def list_check_calls(request: Request, agreement_id: str, min_seq: int | None = MinSeq,
                           limit: int = Query(default=200, ge=1, le=1000), ask: AsOfAsk = Depends(as_of_params),
                           who: Principal = Depends(requires(*ANY_ROLE))) -> JSONResponse:
    await wait_for(request, min_seq)
    found = await _visible(request, agreement_id, who)
    engine = request.app.state.runtime.engine
    if (cut := await resolve(request, ask)) is None:
        now = request.app.state.runtime.app.clock.now()
        items = await q.list_check_calls(engine, agreement_id, limit=limit)
        streaks = await q.check_call_streaks(engine, agreement_id)
    else:  # the agreement's terms, the recorded slots and the clock as they stood at the cut
        now = cut.moment
        async with reader(request, cut) as at:
            found = await at.state(ag.AGGREGATE, agreement_id)
            if found is None:
                raise NotFound(f"agreement {agreement_id} did not exist as of that moment")
            items = await at.listing(check_calls.AGGREGATE, lambda source, until: q.list_check_calls(
                source, agreement_id, limit=limit, until_seq=until), _SLOTS_NEWEST_FIRST, limit=limit)
            streaks = q.streaks(await at.listing(check_calls.AGGREGATE, lambda source, until: q.check_call_outcomes(
                source, agreement_id, until_seq=until), _SLOTS_BY_PARTY))
    try:
        upcoming = slots(found, start=now - timedelta(hours=12), end=now + timedelta(days=7))
    except OverflowError:  # only an as_of at the very edge of the calendar gets here
        raise Invalid("as_of is too close to the first or last day of the calendar to list upcoming check calls") from None
    return JSONResponse(encode({
        "items": items,
        "streaks": streaks,
        "upcoming": [{"slot_id": s.id, "slot_start": s.start, "window_end": s.window_end, "caller": s.caller,
                      "expected": list(s.expected), "terms_version": s.terms_version}
                     for s in upcoming if s.window_end > now],
    }), headers=headers(cut))


#: The orders of `hotline_queries.list_check_calls` and `check_call_outcomes`, for as-of merges.
_SLOTS_NEWEST_FIRST = Order((("slot_start", True), ("party", False)), ident=("slot_id", "party"))
_SLOTS_BY_PARTY = Order((("party", False), ("slot_start", False)), ident=("party", "slot_start"))


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


