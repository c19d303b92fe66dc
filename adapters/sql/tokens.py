"""API tokens: bearer secrets bound to an officer, a party and a role, stored only as hashes.

A token reads `prl_<id>_<secret>`. The id finds the row; the secret is compared by its SHA-256
(the secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force).
Tokens are not events: secrets must never enter the log, and tokens are local to a deployment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import api_tokens
from core.identity import Principal, Role

PREFIX = "prl_"


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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        token_id, _, secret = token[len(PREFIX):].partition("_")
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None
        info = _info(row)
        now = now or datetime.now(UTC)
        if info.revoked_at is not None or (info.expires_at is not None and info.expires_at <= now):
            return None
        return info

    async def list(self) -> list[TokenInfo]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))).all()
        return [_info(r) for r in rows]

    async def revoke(self, token_id: str, *, now: datetime | None = None) -> bool:
        """Revoke at once: every API process checks the table on each request."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now or datetime.now(UTC))
            )
        return result.rowcount > 0


class _RowLike:
    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)
