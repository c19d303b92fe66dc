"""Bearer-token authentication: the token decides who acts, for which party, in which role."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from adapters.sql.tokens import TokenInfo
from core.identity import Principal, Role

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer prl_…`")


async def token_info(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> TokenInfo:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "an API token is required (Authorization: Bearer prl_…)",
                            headers={"WWW-Authenticate": "Bearer"})
    info = await request.app.state.runtime.tokens.verify(credentials.credentials)
    if info is None:
        raise HTTPException(401, "the API token is unknown, expired or revoked",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.token = info
    return info


async def principal(info: TokenInfo = Depends(token_info)) -> Principal:
    return info.principal


def requires(*roles: Role):  # noqa: ANN201 - a FastAPI dependency factory
    """Dependency: the caller must hold one of `roles`."""

    async def check(who: Principal = Depends(principal)) -> Principal:
        who.require(*roles)
        return who

    return check
