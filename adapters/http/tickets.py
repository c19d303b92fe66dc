"""Stream tickets: how a browser's EventSource authenticates to the live hotline stream.

`EventSource` cannot send an `Authorization` header, and putting the bearer token itself in a
URL would leave a long-lived secret in access logs and browser history. Instead the page asks
`POST /api/v1/session/stream-ticket` (with its bearer token) for a ticket: a random value that
stands for that token for `TTL_SECONDS`, and that only the stream route accepts
(`GET /api/v1/hotline/stream?ticket=…`). The ticket may be used several times within its life (an
EventSource reconnects by itself); once it has expired, the page fetches a new one and resumes with
`after=<last event id>`.

Tickets live in a NATS KV bucket (`parley_stream_tickets`, memory storage, entries expire after
`TTL_SECONDS`), so behind a load balancer any API process redeems a ticket another one issued.
The bucket never holds a bearer secret in the clear: the entry's key is the SHA-256 of the ticket
and its value is the secret encrypted (AES-GCM) with the ticket itself as the key. Reading the
bucket therefore gives nothing without the ticket, and a ticket found in a log is worthless once
its entry has expired.

Redeeming a ticket verifies the underlying token again, so a revoked or expired token stops the
stream at its next connection, and the rate limit and denial logging of `token_info` apply as for
a bearer request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from adapters.http.auth import AccessDenied, PARTY_ROLES, bearer, token_info
from core.identity import Principal, Role

TTL_SECONDS = 60.0
#: The KV bucket of every Parley API process's stream tickets (its stream is `KV_parley_stream_tickets`).
TICKET_BUCKET = "parley_stream_tickets"
#: Who may read the live stream (the hotline's reading roles).
STREAM_ROLES = (*PARTY_ROLES, Role.AUDITOR)

_PREFIX = "tkt_"
_NONCE_BYTES = 12


class StreamTickets:
    """Issues and redeems tickets through the shared bucket (created on first use)."""

    def __init__(self, nc: NATS, *, ttl: float = TTL_SECONDS, replicas: int = 1, bucket: str = TICKET_BUCKET) -> None:
        self.ttl = ttl
        self._nc, self._replicas, self._bucket = nc, replicas, bucket
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def _store(self) -> KeyValue:
        async with self._opening:
            if self._kv is None:
                js = self._nc.jetstream(timeout=5.0)
                try:
                    self._kv = await js.key_value(self._bucket)
                except BucketNotFoundError:
                    self._kv = await js.create_key_value(KeyValueConfig(
                        bucket=self._bucket, history=1, ttl=self.ttl, storage=StorageType.MEMORY,
                        replicas=self._replicas, description="Parley stream tickets (adapters/http/tickets.py)"))
            return self._kv

    async def issue(self, secret: str) -> str:
        raw = secrets.token_bytes(32)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        body = json.dumps({"secret": secret, "until": time.time() + self.ttl}).encode()
        key = _entry_key(raw)
        await (await self._store()).put(key, nonce + AESGCM(raw).encrypt(nonce, body, key.encode()))
        return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    async def redeem(self, ticket: str) -> str | None:
        """The bearer secret the ticket stands for, or None when unknown, altered or expired."""
        raw = _ticket_bytes(ticket)
        if raw is None:
            return None
        key = _entry_key(raw)
        try:
            entry = await (await self._store()).get(key)
        except KeyNotFoundError:
            return None
        value = entry.value or b""
        try:
            body = json.loads(AESGCM(raw).decrypt(value[:_NONCE_BYTES], value[_NONCE_BYTES:], key.encode()))
        except (InvalidTag, ValueError):
            return None
        return str(body["secret"]) if float(body["until"]) > time.time() else None


def _entry_key(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _ticket_bytes(ticket: str) -> bytes | None:
    if not ticket.startswith(_PREFIX):
        return None
    text = ticket[len(_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def tickets_of(request: Request) -> StreamTickets:
    state = request.app.state
    found = getattr(state, "stream_tickets", None)
    if found is None:
        runtime = state.runtime
        found = state.stream_tickets = StreamTickets(runtime.nc, replicas=runtime.settings.stream_replicas)
    return found


async def stream_reader(
    request: Request,
    ticket: str | None = Query(default=None, max_length=100, description="A stream ticket (browsers: EventSource cannot send headers)"),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Principal:
    """Dependency of the live stream: a bearer token as everywhere, or a stream ticket."""
    if credentials is None and ticket is not None:
        secret = await tickets_of(request).redeem(ticket)
        # an unknown ticket is answered like a missing token: 401 from token_info
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret) if secret else None
    info = await token_info(request, credentials)
    if info.role not in STREAM_ROLES:
        raise AccessDenied(f"this action needs the role {', '.join(r.value for r in STREAM_ROLES)}; you are {info.role.value}")
    return info.principal
