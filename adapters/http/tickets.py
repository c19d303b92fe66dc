"""Stream tickets: how a browser's EventSource authenticates to the live hotline stream.

`EventSource` cannot send an `Authorization` header, and putting the bearer token itself in a
URL would leave a long-lived secret in access logs and browser history. Instead the page asks
`POST /api/v1/session/stream-ticket` (with its bearer token) for a ticket: a random value that
stands for that token for `TTL_SECONDS`, and that only the stream route accepts
(`GET /api/v1/hotline/stream?ticket=…`). The ticket may be used several times within its life (an
EventSource reconnects by itself); once it has expired, the page fetches a new one and resumes with
`after=<last event id>`.

Redeeming a ticket verifies the underlying token again, so a revoked or expired token stops the
stream at its next connection, and the rate limit and denial logging of `token_info` apply as for
a bearer request. Tickets live in this process's memory: behind a load balancer, send the ticket
request and the stream to the same process (or use a bearer header from a non-browser client).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from adapters.http.auth import AccessDenied, PARTY_ROLES, bearer, token_info
from core.identity import Principal, Role

TTL_SECONDS = 60.0
#: Who may read the live stream (the hotline's reading roles).
STREAM_ROLES = (*PARTY_ROLES, Role.AUDITOR)


@dataclass
class StreamTickets:
    """Ticket → (bearer secret, expiry on the monotonic clock). Expired tickets are swept on issue."""

    ttl: float = TTL_SECONDS
    _tickets: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, secret: str) -> str:
        now = time.monotonic()
        for key in [k for k, (_, until) in self._tickets.items() if until <= now]:
            del self._tickets[key]
        ticket = "tkt_" + secrets.token_urlsafe(24)
        self._tickets[ticket] = (secret, now + self.ttl)
        return ticket

    def redeem(self, ticket: str) -> str | None:
        """The bearer secret the ticket stands for, or None when unknown or expired."""
        found = self._tickets.get(ticket)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


def tickets_of(request: Request) -> StreamTickets:
    state = request.app.state
    found = getattr(state, "stream_tickets", None)
    if found is None:
        found = state.stream_tickets = StreamTickets()
    return found


async def stream_reader(
    request: Request,
    ticket: str | None = Query(default=None, max_length=100, description="A stream ticket (browsers: EventSource cannot send headers)"),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Principal:
    """Dependency of the live stream: a bearer token as everywhere, or a stream ticket."""
    if credentials is None and ticket is not None:
        secret = tickets_of(request).redeem(ticket)
        # an unknown ticket is answered like a missing token: 401 from token_info
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret) if secret else None
    info = await token_info(request, credentials)
    if info.role not in STREAM_ROLES:
        raise AccessDenied(f"this action needs the role {', '.join(r.value for r in STREAM_ROLES)}; you are {info.role.value}")
    return info.principal
