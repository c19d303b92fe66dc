"""API tokens: bearer secrets bound to an officer, a party and a role, stored only as hashes.

A token reads `prl_<id>_<secret>`. The id finds the row; the secret is compared by its SHA-256
(the secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force).
Tokens are not events: secrets must never enter the log, and tokens are local to a deployment.

API processes remember verified tokens for a few seconds (`adapters/token_cache.py`); a
revocation is announced over NATS so that every process forgets the token at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import single_statements
from adapters.sql.tables import api_tokens
from core.identity import Principal, Role

if TYPE_CHECKING:
    from adapters.token_cache import Revocations, TokenCache

PREFIX = "prl_"
log = structlog.get_logger("parley.tokens")


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    id: str
    role: Role
    party: str | None
    officer_id: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(actor=self.officer_id or self.id, role=self.role, party=self.party)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _info(row: sa.Row) -> TokenInfo:
    return TokenInfo(
        id=row.id, role=Role(row.role), party=row.party, officer_id=row.officer_id, label=row.label,
        created_at=_utc(row.created_at), expires_at=_utc(row.expires_at), revoked_at=_utc(row.revoked_at),
    )


class TokenStore:
    """`cache`: verified tokens this process remembers; `revocations`: where revoking announces
    it (both optional: a bare store reads the table on every `verify` and tells nobody)."""

    def __init__(self, engine: AsyncEngine, *, cache: TokenCache | None = None,
                 revocations: Revocations | None = None) -> None:
        self._engine = engine
        self.cache = cache
        self._revocations = revocations
        #: A look-up is one statement (autocommit on PostgreSQL: one round trip).
        self._lookups = single_statements(engine)
        self._by_id = sa.select(api_tokens).where(api_tokens.c.id == sa.bindparam("token_id"))

    async def create(
        self, *, role: Role, party: str | None, officer_id: str | None, label: str = "",
        expires_in: timedelta | None = None, now: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token; returns the full secret once (it cannot be recovered later)."""
        now = now or datetime.now(UTC)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = {
            "id": token_id, "secret_hash": _hash(secret), "officer_id": officer_id, "party": party,
            "role": role.value, "label": label, "created_at": now,
            "expires_at": now + expires_in if expires_in else None, "revoked_at": None,
        }
        async with self._engine.begin() as conn:
            await conn.execute(api_tokens.insert().values(**row))
        return f"{PREFIX}{token_id}_{secret}", _info(_RowLike(row))  # type: ignore[arg-type]

    async def verify(self, token: str, *, now: datetime | None = None) -> TokenInfo | None:
        """The token's info when it is genuine, unexpired and unrevoked; otherwise None."""
        if not token.startswith(PREFIX) or token.count("_") < 2:
            return None
        cache = self.cache if now is None else None  # an explicit `now` always reads the table
        if cache is not None and cache.get(token) is not None:
            await cache.settled()  # a revocation notice that came with this request goes first
            if (cached := cache.get(token)) is not None:
                return cached
        generation = cache.generation() if cache is not None else 0
        token_id, _, secret = token[len(PREFIX):].partition("_")
        async with self._lookups.connect() as conn:
            row = (await conn.execute(self._by_id, {"token_id": token_id})).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None
        info = _info(row)
        now = now or datetime.now(UTC)
        if info.revoked_at is not None or (info.expires_at is not None and info.expires_at <= now):
            return None
        if cache is not None:
            cache.put(token, info, generation)
        return info

    async def list(self) -> list[TokenInfo]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))).all()
        return [_info(r) for r in rows]

    async def revoke(self, token_id: str, *, now: datetime | None = None) -> bool:
        """Revoke at once: committed in the table, forgotten by this process's cache, then
        announced to the other processes (their caches drop it when the notice arrives)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now or datetime.now(UTC))
            )
        if self.cache is not None:
            self.cache.forget(token_id)
        revoked = result.rowcount > 0
        if revoked and self._revocations is not None:
            try:
                await self._revocations.announce(token_id)
            except Exception as error:  # noqa: BLE001 - revoked all the same; caches expire it
                log.warning("revocation not announced; other API processes drop the token when their cache"
                            " entry expires", token_id=token_id, error=f"{type(error).__name__}: {error}")
        return revoked


class _RowLike:
    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)
