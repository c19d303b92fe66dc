"""API tokens: admins create (the secret is shown once), list and revoke."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from adapters.http.auth import requires
from adapters.http.schemas import TokenIn
from adapters.sql.tokens import TokenInfo
from core.errors import Invalid, NotFound
from core.identity import Principal, Role

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
admin = requires(Role.ADMIN)
PARTY_ROLES = (Role.OFFICER, Role.OBSERVER, Role.IMPORTER)


def public(info: TokenInfo) -> dict[str, object]:
    return jsonable_encoder({
        "id": info.id, "role": info.role.value, "party": info.party, "officer_id": info.officer_id,
        "label": info.label, "created_at": info.created_at, "expires_at": info.expires_at,
        "revoked_at": info.revoked_at,
    })


async def issue(runtime, body: TokenIn) -> tuple[str, TokenInfo]:  # noqa: ANN001 - Runtime
    """Validate the binding (officer of that party for party roles) and create the token."""
    if body.role in PARTY_ROLES:
        if not body.party or not body.officer_id:
            raise Invalid(f"a {body.role.value} token needs party and officer_id")
        await runtime.app.officer(body.party, body.officer_id)
    elif body.role is Role.SYSTEM:
        raise Invalid("system tokens are not issued; the scheduler and notary run inside Parley")
    elif body.party:
        raise Invalid(f"a {body.role.value} token is not bound to a party; leave party out")
    return await runtime.tokens.create(
        role=body.role, party=body.party, officer_id=body.officer_id, label=body.label,
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )


@router.post("", status_code=201, summary="Create a token (the secret is returned once)")
async def create(request: Request, body: TokenIn, _: Principal = Depends(admin)) -> JSONResponse:
    secret, info = await issue(request.app.state.runtime, body)
    return JSONResponse({**public(info), "token": secret}, status_code=201)


@router.get("", summary="List tokens (never their secrets)")
async def list_tokens(request: Request, _: Principal = Depends(admin)) -> JSONResponse:
    return JSONResponse({"items": [public(t) for t in await request.app.state.runtime.tokens.list()]})


@router.delete("/{token_id}", status_code=204, summary="Revoke a token, effective immediately")
async def revoke(request: Request, token_id: str, _: Principal = Depends(admin)) -> JSONResponse:
    if not await request.app.state.runtime.tokens.revoke(token_id):
        raise NotFound(f"no active token {token_id}")
    return JSONResponse(None, status_code=204)
