"""Optional OIDC bearer tokens: a JWT from the site's identity provider instead of a Parley token.

Enabled by `PARLEY_OIDC_JWKS_URL` (with `PARLEY_OIDC_ISSUER` and `PARLEY_OIDC_AUDIENCE`). The
signature is checked against the provider's JWKS, fetched once and cached
(`PARLEY_OIDC_JWKS_CACHE_SECONDS`), refetched when a token names a key id the cache does not
know (key rotation). `exp`, `iss`, `aud` and `sub` are required. Claims map to the principal:
`parley_role`, `parley_party`, `parley_officer` (names configurable); a party role must name an
officer registered with that party, exactly as for Parley's own tokens.

A JWT cannot be revoked before it expires: keep their lifetime short at the provider. The
`system` role is never accepted from outside.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import structlog

from adapters.settings import Settings
from adapters.sql.tokens import TokenInfo
from core.errors import ParleyError
from core.identity import PARTY_CODE, SAFE_ID, Role

log = structlog.get_logger("parley.oidc")
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
PARTY_ROLES = (Role.OFFICER, Role.OBSERVER, Role.IMPORTER)
OFFICER_CACHE_SECONDS = 60.0


class OidcVerifier:
    def __init__(self, *, jwks_url: str, issuer: str, audience: str, role_claim: str = "parley_role",
                 party_claim: str = "parley_party", officer_claim: str = "parley_officer", cache_seconds: int = 300,
                 refresh_cooldown_seconds: float = 30.0) -> None:
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.party_claim = party_claim
        self.officer_claim = officer_claim
        # an unknown key id refetches the set, at most once per cooldown (a flood of made-up key
        # ids must not turn into a flood of requests to the identity provider)
        self._jwks = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=cache_seconds, timeout=5,
                                     cooldown_duration=refresh_cooldown_seconds)
        self._officers: dict[tuple[str, str], float] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "OidcVerifier | None":
        if not settings.oidc_jwks_url:
            return None
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("PARLEY_OIDC_JWKS_URL needs PARLEY_OIDC_ISSUER and PARLEY_OIDC_AUDIENCE too")
        return cls(jwks_url=settings.oidc_jwks_url, issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                   role_claim=settings.oidc_role_claim, party_claim=settings.oidc_party_claim,
                   officer_claim=settings.oidc_officer_claim, cache_seconds=settings.oidc_jwks_cache_seconds)

    async def verify(self, token: str, *, runtime: Any) -> TokenInfo | None:
        """The principal of a genuine, unexpired JWT whose claims name a valid binding; else None."""
        try:
            # PyJWKClient fetches with urllib (blocking): off the event loop
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp", "iss", "aud", "sub"]}, leeway=30)
        except jwt.PyJWKClientError as error:
            log.warning("oidc keys unavailable", error=str(error))
            return None
        except jwt.PyJWTError as error:
            log.info("oidc token refused", why=str(error))
            return None
        return await self._principal(claims, runtime)

    async def _principal(self, claims: dict[str, Any], runtime: Any) -> TokenInfo | None:
        try:
            role = Role(str(claims.get(self.role_claim)))
        except ValueError:
            log.info("oidc token refused", why=f"claim {self.role_claim} is not a Parley role")
            return None
        party, officer = claims.get(self.party_claim), claims.get(self.officer_claim)
        if role is Role.SYSTEM:
            return None
        if role in PARTY_ROLES:
            if not (isinstance(party, str) and PARTY_CODE.match(party) and isinstance(officer, str) and SAFE_ID.match(officer)):
                log.info("oidc token refused", why="a party role needs valid party and officer claims")
                return None
            if not await self._registered(runtime, party, officer):
                log.info("oidc token refused", why=f"{officer} is not a registered officer of {party}")
                return None
        else:
            party, officer = None, None
        subject = hashlib.sha256(f"{claims['iss']}\n{claims['sub']}".encode()).hexdigest()[:12]
        issued = claims.get("iat")
        return TokenInfo(
            id=f"oidc-{subject}", role=role, party=party, officer_id=officer, label=f"oidc {str(claims['sub'])[:100]}",
            created_at=datetime.fromtimestamp(issued, UTC) if isinstance(issued, (int, float)) else datetime.now(UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC), revoked_at=None,
        )

    async def _registered(self, runtime: Any, party: str, officer: str) -> bool:
        checked = self._officers.get((party, officer))
        if checked is not None and time.monotonic() - checked < OFFICER_CACHE_SECONDS:
            return True
        try:
            await runtime.app.officer(party, officer)
        except ParleyError:
            return False
        self._officers[(party, officer)] = time.monotonic()
        return True
