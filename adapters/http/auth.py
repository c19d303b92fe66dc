"""Who may do what: bearer tokens, roles, party isolation and the per-token rate limit.

The token decides who acts, for which party, in which role; nothing in a body, query or header
can change that. Access decisions live here so every route states its rule in one word:

* `requires(*roles)` — the caller must hold one of `roles` (else 403 `access-denied`).
* `on_incident(*roles)` — the role, then the incident's visibility: the parties involved in it,
  auditors and admins. Anyone else gets the same 404 as for an incident that does not exist,
  decided before the body is read, so a third party learns nothing, not even that it exists.
  Records of other dyads (hotline, inspections) should follow the same pattern: a dependency
  raising `Hidden` (logged as a denial, answered like a missing record) before body validation.
* `visible_party(caller)` — the party a list must be confined to (None for auditors, admins).
* `party_member(caller, code)` — officer lists: the party's own members, auditors, admins.

Every refusal is logged with who (token id, role, party, officer), what (method, path) and why.
Tokens are Parley's own (`prl_…`, adapters/sql/tokens.py) or, when configured, OIDC JWTs
(adapters/http/oidc.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from adapters.http.oidc import OidcVerifier
from adapters.sql.tokens import PREFIX as TOKEN_PREFIX
from adapters.sql.tokens import TokenInfo
from core.errors import Forbidden, NotFound
from core.identity import Principal, Role
from core.incidents.decider import DECIDER as INCIDENTS

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer prl_…`")
log = structlog.get_logger("parley.access")

#: Roles that belong to a party and see only what their party may see.
PARTY_ROLES = (Role.OFFICER, Role.OBSERVER, Role.IMPORTER)
#: Roles that read everything.
READ_ALL = (Role.AUDITOR, Role.ADMIN)
#: Every role a token can carry.
ANY_ROLE = (*PARTY_ROLES, *READ_ALL)


class AccessDenied(Forbidden):
    """The caller's role may never do this (as opposed to a rule of the domain saying 'not now')."""


class Hidden(NotFound):
    """Answered exactly like a missing resource; logged as a denial for the operators."""

    def __init__(self, detail: str, *, why: str) -> None:
        super().__init__(detail)
        self.why = why


def who(request: Request) -> dict[str, Any]:
    """The caller, for log lines: never the secret, only the token's id and binding."""
    info: TokenInfo | None = getattr(request.state, "token", None)
    if info is None:
        return {"token_id": None, "role": None, "party": None}
    return {"token_id": info.id, "role": info.role.value, "party": info.party, "officer": info.officer_id}


def log_denied(request: Request, status: int, why: str) -> None:
    log.warning("denied", status=status, method=request.method, path=request.url.path, why=why, **who(request))


def _oidc(request: Request) -> OidcVerifier | None:
    """The OIDC verifier when `PARLEY_OIDC_JWKS_URL` is set (built once per app: it caches the JWKS)."""
    state = request.app.state
    if not hasattr(state, "oidc"):
        state.oidc = OidcVerifier.from_settings(state.runtime.settings)
    return state.oidc


def _unauthorized(request: Request, detail: str) -> HTTPException:
    log_denied(request, 401, detail)
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def token_info(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> TokenInfo:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized(request, "an API token is required (Authorization: Bearer prl_…)")
    runtime = request.app.state.runtime
    secret = credentials.credentials
    info = await runtime.tokens.verify(secret)
    if info is None and not secret.startswith(TOKEN_PREFIX) and (oidc := _oidc(request)) is not None:
        info = await oidc.verify(secret, runtime=runtime)
    if info is None:
        raise _unauthorized(request, "the API token is unknown, expired or revoked")
    request.state.token = info
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        wait = limiter.take(info.id)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            log_denied(request, 429, f"rate limit of token {info.id} exceeded")
            raise HTTPException(429, f"too many requests with this token; retry in {seconds} s",
                                headers={"Retry-After": str(seconds)})
    return info


async def principal(info: TokenInfo = Depends(token_info)) -> Principal:
    return info.principal


def requires(*roles: Role):  # noqa: ANN201 - a FastAPI dependency factory
    """Dependency: the caller must hold one of `roles`."""

    async def check(request: Request, caller: Principal = Depends(principal)) -> Principal:
        if caller.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise AccessDenied(f"this action needs the role {allowed}; you are {caller.role.value}")
        return caller

    return check


def sees_everything(caller: Principal) -> bool:
    return caller.role in READ_ALL


def visible_party(caller: Principal) -> str | None:
    """The party whose records the caller is confined to (None: no confinement)."""
    return None if sees_everything(caller) else caller.party


async def check_incident_visible(request: Request, incident_id: str, caller: Principal) -> None:
    """The incident's parties, auditors and admins pass; anyone else gets the very 404 of a
    missing incident. Decided from the event store (never stale)."""
    if sees_everything(caller):
        return
    handler = request.app.state.runtime.app.handler
    state = (await handler.load(INCIDENTS, incident_id)).state
    if state is None:  # never trust a cached "does not exist": another process may have filed it
        state = (await handler.load(INCIDENTS, incident_id, fresh=True)).state
    if state is not None and caller.party in getattr(state, "parties", ()):
        return
    # Missing and hidden incidents get the same answer, and get it before the body is looked
    # at: otherwise "404 here, 422 there" would tell a prober which incidents exist.
    if request.method != "GET":
        detail = f"incident {incident_id} has not been reported"
    elif request.url.path.endswith("/timeline"):
        detail = f"incident {incident_id} does not exist"
    else:
        detail = f"incident {incident_id} does not exist (or is not projected yet: pass min_seq)"
    if state is None:
        raise NotFound(detail)
    raise Hidden(detail, why=f"party {caller.party} is not involved in incident {incident_id}")


def on_incident(*roles: Role):  # noqa: ANN201 - a FastAPI dependency factory
    """Dependency of every `/incidents/{incident_id}` route: the role first (403), then the
    incident's visibility (404). Dependencies run before the body is validated, so a third
    party cannot probe an incident with bodies either."""

    async def check(request: Request, incident_id: str = Path(max_length=64),
                    caller: Principal = Depends(requires(*roles))) -> Principal:
        await check_incident_visible(request, incident_id, caller)
        return caller

    return check


def party_member(caller: Principal, code: str) -> None:
    """Officers of a party are listed to that party's members, auditors and admins."""
    if not sees_everything(caller) and caller.party != code:
        raise AccessDenied(f"officers of {code} are visible to {code}, auditors and admins only")
