"""Who am I: the identity behind a token (for the web interface's header), and stream tickets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from adapters.http.auth import token_info
from adapters.http.tickets import tickets_of
from adapters.sql.tokens import TokenInfo
from core.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["session"])


@router.get("/whoami", summary="The role, party and officer of the calling token (never its secret)")
async def whoami(request: Request, info: TokenInfo = Depends(token_info)) -> JSONResponse:
    officer_name = None
    if info.party and info.officer_id:
        try:
            officer_name = await request.app.state.runtime.app.officer(info.party, info.officer_id)
        except NotFound:  # the name is a nicety; the binding is what matters
            officer_name = None
    return JSONResponse(jsonable_encoder({
        "token_id": info.id, "role": info.role.value, "party": info.party, "officer_id": info.officer_id,
        "officer_name": officer_name, "label": info.label, "expires_at": info.expires_at,
    }))


@router.post("/session/stream-ticket", status_code=201,
             summary="A short-lived ticket for GET /api/v1/hotline/stream?ticket=… (EventSource cannot send headers)")
async def stream_ticket(request: Request, _: TokenInfo = Depends(token_info)) -> JSONResponse:
    secret = request.headers["authorization"].split(" ", 1)[1].strip()
    tickets = tickets_of(request)
    return JSONResponse({"ticket": await tickets.issue(secret), "expires_in": tickets.ttl}, status_code=201)
