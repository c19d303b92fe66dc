"""Reading stored messages without a consumer: JetStream's DIRECT.GET API (ADR-31).

Loading an aggregate must be cheap — it happens on every command — and creating a consumer
per load costs several round trips and server state. A direct get is one request/reply, and a
*batched* direct get (`{"seq": 1, "next_by_subj": subject, "batch": N}`) streams up to N
messages of one subject to our inbox followed by an end-of-batch marker (status 204 `EOB`
with `Nats-Num-Pending`), so a whole aggregate usually loads in one round trip.

Replies are plain NATS messages: the payload exactly as stored, plus `Nats-Sequence`,
`Nats-Time-Stamp` and `Nats-Subject` headers; status 404 means "no such message".
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Mapping

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from adapters.jetstream.inbox import ReplyInbox, first_reply
from core.errors import Unavailable

#: Connection-level failures that mean "try again later", never "your request is wrong".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncio.TimeoutError,  # includes nats.errors.TimeoutError
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.FlushTimeoutError,
)

#: Headers the server adds to direct get replies; they describe the reply, not the message.
_REPLY_HEADERS = frozenset(
    {
        "Nats-Stream", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Subject",
        "Nats-Num-Pending", "Nats-Last-Sequence", "Nats-UpTo-Sequence",
    }
)  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? \+0000 UTC")


class DirectGetFailed(RuntimeError):
    """The server answered a direct get with an unexpected status (a bug, not an outage)."""


@dataclass(frozen=True, kw_only=True)
class StoredMessage:
    """One message exactly as the stream holds it (the raw event feed and the notary use it)."""

    seq: int
    subject: str
    recorded: datetime
    headers: Mapping[str, str]
    data: bytes

    @property
    def msg_id(self) -> str | None:
        """The `Nats-Msg-Id` it was published with: Parley's event id."""
        return self.headers.get("Nats-Msg-Id")


def recorded_from_nanos(nanos: int) -> datetime:
    """JetStream's nanosecond timestamp as an aware UTC datetime, truncated to microseconds.

    Truncation (never rounding, never float arithmetic) keeps every path — direct get headers,
    consumer ack subjects — agreeing on the same instant for the same message.
    """
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def parse_timestamp(text: str) -> datetime:
    """`Nats-Time-Stamp` (RFC 3339 with nanoseconds; older servers use Go's default format)."""
    match = _GO_TIME.fullmatch(text)
    if match:
        day, clock, fraction = match.groups()
        text = f"{day}T{clock}.{fraction or '0'}Z"
    head, _, fraction = text.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return whole + timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def format_start_time(moment: datetime) -> str:
    """An aware datetime as the RFC 3339 string `start_time` expects."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class DirectGet:
    """Direct gets against one stream over one connection.

    Every request's replies come back to one shared wildcard inbox (`ReplyInbox`), so a load
    costs no SUB/UNSUB traffic and a single get no per-request token or wrapper future.
    """

    def __init__(self, nc: NATS, stream: str, *, timeout: float = 5.0, inbox: ReplyInbox | None = None) -> None:
        self._api = f"$JS.API.DIRECT.GET.{stream}"
        self._stream = stream
        self._timeout = timeout
        self._owns_inbox = inbox is None
        self._inbox = inbox or ReplyInbox(nc)

    async def by_seq(self, seq: int) -> StoredMessage | None:
        return await self._one({"seq": seq})

    async def last_for(self, subject: str) -> StoredMessage | None:
        """The subject's newest message: an aggregate's current version."""
        return await self._one({"last_by_subj": subject})

    async def next_for(self, subject: str, *, from_seq: int) -> StoredMessage | None:
        """The subject's first message with a sequence >= `from_seq`."""
        return await self._one({"seq": max(from_seq, 1), "next_by_subj": subject})

    async def first_at_or_after(self, moment: datetime) -> StoredMessage | None:
        """The stream's first message recorded at or after `moment`."""
        return await self._one({"start_time": format_start_time(moment)})

    async def all_for(self, subject: str, *, from_seq: int = 1, batch: int = 1000) -> list[StoredMessage]:
        """Every message of `subject` from `from_seq` on, in order, `batch` per round trip.

        Repeats while the end-of-batch marker reports more pending. A server that ignores
        `batch` (older than 2.11) answers one message without `Nats-Num-Pending`; we then
        simply ask again from the next sequence, which is correct, only slower.
        """
        found: list[StoredMessage] = []
        start = max(from_seq, 1)
        while True:
            replies = await self._batch({"seq": start, "next_by_subj": subject, "batch": batch})
            more = False
            for reply in replies:
                status = _status(reply)
                if status == "404":
                    break
                if status == "204":  # end of batch
                    more = int(reply.headers.get("Nats-Num-Pending", "0")) > 0
                    break
                if status:
                    raise self._failure(reply)
                message = _stored(reply)
                found.append(message)
                start = message.seq + 1
                more = "Nats-Num-Pending" not in (reply.headers or {})
            if not more:
                return found

    async def close(self) -> None:
        """Drop the inbox if it is this reader's own (the connection belongs to the caller)."""
        if self._owns_inbox:
            await self._inbox.close()

    # -- internals ---------------------------------------------------------------------------

    async def _one(self, request: dict[str, Any]) -> StoredMessage | None:
        reply = (await self._request(request, until=first_reply))[0]
        status = _status(reply)
        if status == "404":
            return None
        if status:
            raise self._failure(reply)
        return _stored(reply)

    async def _batch(self, request: dict[str, Any]) -> list[Msg]:
        """Send one batched request; the replies up to the terminating status message (the
        whole batch must arrive within the timeout)."""
        return await self._request(request, until=_ends_batch)

    async def _request(self, request: dict[str, Any], *, until: Callable[[Msg], bool]) -> list[Msg]:
        try:
            return await self._inbox.request(self._api, json.dumps(request).encode(), timeout=self._timeout, until=until)
        except TRANSIENT_ERRORS as err:
            raise self._unavailable(err) from err

    def _unavailable(self, err: BaseException) -> Unavailable:
        if isinstance(err, nats.errors.NoRespondersError):
            return Unavailable(
                f"stream {self._stream} does not answer direct gets (is JetStream up, does the "
                "stream exist, is allow_direct on?)"
            )
        return Unavailable(f"NATS did not answer a read from stream {self._stream}: {type(err).__name__}")

    def _failure(self, reply: Msg) -> BaseException:
        status = _status(reply)
        if status == "503":
            return self._unavailable(nats.errors.NoRespondersError())
        description = (reply.headers or {}).get("Description", "")
        return DirectGetFailed(f"direct get on {self._stream} failed: {status} {description}".strip())


def _status(msg: Msg) -> str | None:
    return (msg.headers or {}).get("Status")


def _ends_batch(msg: Msg) -> bool:
    """A status (204 EOB, 404, 503) ends every batch; a pre-2.11 server sends one plain reply
    without `Nats-Num-Pending` and nothing after it."""
    return bool(_status(msg)) or "Nats-Num-Pending" not in (msg.headers or {})


def _stored(msg: Msg) -> StoredMessage:
    """The reply as the stored message: the server's reply-only headers are set apart, so
    `headers` are the ones the message was published with (as a consumer would deliver)."""
    headers = dict(msg.headers or {})
    return StoredMessage(
        seq=int(headers["Nats-Sequence"]),
        subject=headers["Nats-Subject"],
        recorded=parse_timestamp(headers["Nats-Time-Stamp"]),
        headers={k: v for k, v in headers.items() if k not in _REPLY_HEADERS},
        data=msg.data,
    )
