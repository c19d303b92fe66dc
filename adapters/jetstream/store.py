"""The event store on NATS JetStream: `core.ports.EventStore` over one stream (DESIGN §3).

Each aggregate is one subject, `<prefix>.ev.<type>.<id>`, so the server itself enforces
optimistic concurrency: every append carries `Nats-Expected-Last-Subject-Sequence` and is
refused if the aggregate moved on. Every append also carries `Nats-Msg-Id` (the event id), so
a retry after a lost acknowledgement stores nothing twice.

Reads come in two shapes. Per aggregate (`load`, `last_subject_seq`, `get`, `seq_at`) we use
direct gets: one request/reply, no consumer. Over the whole stream (`read`, `follow`) we use an
ordered push consumer, which the client library keeps gap-free across reconnects.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import aclosing, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, AsyncIterator, Sequence

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from adapters.jetstream.direct import (
    TRANSIENT_ERRORS,
    DirectGet,
    StoredMessage,
    recorded_from_nanos,
)
from adapters.jetstream.inbox import ReplyInbox
from adapters.jetstream.stream import StreamSpec
from core import jsonio
from core.envelope import Event
from core.errors import Conflict, IntegrityError, Invalid, Unavailable
from core.ports import AggregateRef, StoredEvent

#: JetStream error code for a failed `Nats-Expected-Last-Subject-Sequence` check.
WRONG_LAST_SEQUENCE = 10071
_CURRENT_SEQ = re.compile(r"wrong last sequence: (\d+)")
_ONE_MICROSECOND = timedelta(microseconds=1)
_NANOS_FROM = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS_UNTIL = datetime(2262, 1, 1, tzinfo=UTC)


class JetStreamEventStore:
    """`EventStore` on one JetStream stream, over a connection the caller owns."""

    def __init__(
        self,
        *,
        nc: NATS,
        spec: StreamSpec,
        timeout: float = 5.0,
        load_batch: int = 1000,
        read_idle_timeout: float = 30.0,
        consumer_heartbeat: float = 1.0,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=timeout)
        self._spec = spec
        self._timeout = timeout
        self._load_batch = load_batch
        self._read_idle_timeout = read_idle_timeout
        self._consumer_heartbeat = consumer_heartbeat
        self._inbox = ReplyInbox(nc)
        self._direct = DirectGet(nc, spec.name, timeout=timeout, inbox=self._inbox)
        self._expected_stream = {"Nats-Expected-Stream": spec.name}

    @property
    def spec(self) -> StreamSpec:
        return self._spec

    async def close(self) -> None:
        """Release the store's own subscriptions; the connection stays the caller's."""
        await self._direct.close()
        await self._inbox.close()

    # -- writing -----------------------------------------------------------------------------

    async def append(self, ref: AggregateRef, events: Sequence[Event], *, expected_seq: int) -> int:
        """Publish `events` in order, each expecting the previous one's sequence.

        An empty `events` only checks `expected_seq` (raising `Conflict` if it is stale).
        The events of one call are not atomic: a crash between two of them leaves the first
        stored; retrying the same call (same event ids) completes it.
        """
        subject = self._spec.subject_for(ref)
        if expected_seq < 0:
            raise Invalid(f"expected sequence {expected_seq} is negative")
        for event in events:
            if event.aggtype != ref.type or event.subject != ref.id:
                raise Invalid(
                    f"event {event.id} belongs to {event.aggtype} {event.subject}, "
                    f"not to {ref.type} {ref.id}"
                )
        if not events:
            current = await self.last_subject_seq(ref)
            if current != expected_seq:
                raise _conflict(ref, expected_seq, current)
            return expected_seq
        seq = expected_seq
        for event in events:
            seq = await self._publish(ref, subject, event, expected=seq)
        return seq

    async def _publish(self, ref: AggregateRef, subject: str, event: Event, *, expected: int) -> int:
        headers = {
            "Nats-Msg-Id": event.id,
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            **self._expected_stream,
        }
        try:
            ack = await self._acknowledged(subject, event.to_json(), headers)
        except nats.errors.MaxPayloadError as err:
            raise Invalid(f"event {event.id} is larger than the server accepts") from err
        except ServiceUnavailableError as err:
            raise Unavailable(f"JetStream could not store event {event.id}; retry") from err
        except APIError as err:
            if err.err_code != WRONG_LAST_SEQUENCE:
                raise
            return await self._resolve_conflict(ref, subject, event, expected, err)
        except (NoStreamResponseError, *TRANSIENT_ERRORS) as err:
            raise Unavailable(
                f"the event store did not confirm event {event.id} ({type(err).__name__}); "
                "retrying the same command is safe"
            ) from err
        if ack.get("duplicate"):
            # The expected sequence held, so our event is not this subject's tail: another
            # stored event already has this id (an id a client pinned) and nothing was stored.
            raise Invalid(f"event id {event.id} is already used by the event at stream sequence {ack['seq']};"
                          " an event id must be new (prepare again for a fresh one)")
        return int(ack["seq"])

    async def _acknowledged(self, subject: str, payload: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """Publish and return JetStream's acknowledgement: what `js.publish` does, through the
        shared reply inbox (adapters/jetstream/inbox.py) — the same errors for the same replies:
        no responders → `NoStreamResponseError`, an error reply → nats-py's `APIError` subclass."""
        reply = (await self._inbox.request(subject, payload, timeout=self._timeout, headers=headers))[0]
        if reply.headers and reply.headers.get("Status") == "503":
            raise NoStreamResponseError
        ack = jsonio.loads(reply.data)
        if "error" in ack:
            APIError.from_error(ack["error"])  # raises the matching subclass
            raise AssertionError("unreachable: from_error raises")
        return ack

    async def _resolve_conflict(
        self, ref: AggregateRef, subject: str, event: Event, expected: int, err: APIError
    ) -> int:
        """Tell a retry of our own stored event from a genuine concurrent write.

        The server checks the expected sequence *before* deduplicating, so re-sending an
        event that was stored (but whose ack was lost) fails the check. If the message right
        after `expected` on this subject carries our event id, it is our event: success.
        """
        after = await self._direct.next_for(subject, from_seq=expected + 1)
        if after is not None and after.msg_id == event.id:
            return after.seq
        match = _CURRENT_SEQ.search(err.description or "")
        current = int(match.group(1)) if match else await self.last_subject_seq(ref)
        raise _conflict(ref, expected, current) from err

    # -- reading one aggregate or one message ------------------------------------------------

    async def load(self, ref: AggregateRef) -> list[StoredEvent]:
        subject = self._spec.subject_for(ref)
        messages = await self._direct.all_for(subject, batch=self._load_batch)
        return [_decode(message) for message in messages]

    async def last_subject_seq(self, ref: AggregateRef) -> int:
        last = await self._direct.last_for(self._spec.subject_for(ref))
        return last.seq if last is not None else 0

    async def get(self, seq: int) -> StoredEvent | None:
        """The event at stream sequence `seq` (None when there is none)."""
        message = await self.get_raw(seq)
        return _decode(message) if message is not None else None

    async def get_raw(self, seq: int) -> StoredMessage | None:
        """The message at `seq` exactly as stored: bytes and headers, for the raw feed."""
        return await self._direct.by_seq(seq) if seq >= 1 else None

    async def last_seq(self) -> int:
        """From stream info, which the stream leader answers: never behind our own appends."""
        try:
            info = await self._js.stream_info(self._spec.name)
        except (ServiceUnavailableError, *TRANSIENT_ERRORS) as err:
            raise Unavailable(f"NATS did not report the state of stream {self._spec.name}") from err
        return info.state.last_seq

    async def seq_at(self, moment: datetime) -> int:
        """Last sequence recorded at or before `moment` (microsecond resolution, like every
        `recorded` we hand out): one before the first message recorded after it."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        # The server keeps time as int64 nanoseconds since 1970 (years 1970..2262); outside
        # that range its comparison wraps around, so answer those moments here.
        if moment < _NANOS_FROM:
            return 0
        if moment >= _NANOS_UNTIL:
            return await self.last_seq()
        later = await self._direct.first_at_or_after(moment + _ONE_MICROSECOND)
        if later is not None:
            return later.seq - 1
        return await self.last_seq()

    # -- reading the whole stream ------------------------------------------------------------

    async def read(self, *, after: int = 0, until: int | None = None) -> AsyncIterator[StoredEvent]:
        async with aclosing(self.read_raw(after=after, until=until)) as messages:
            async for message in messages:
                yield _decode(message)

    async def read_batches(
        self, *, after: int = 0, until: int | None = None, size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        """`read` in lists of up to `size` events: what a batching reader (the projector) wants,
        without one async-generator step per event. A list is handed over as soon as it is full
        or the consumer has nothing more buffered, so a slow stream still flows."""
        after = max(after, 0)
        end = await self.last_seq()
        if until is not None:
            end = min(end, until)
        if end <= after:
            return
        consumed = self._consume_chunks(start=after + 1, idle_timeout=self._read_idle_timeout, size=size)
        async with aclosing(consumed) as chunks:
            async for chunk in chunks:
                events = []
                for seq, nanos, msg in chunk:
                    if seq > end:
                        break
                    events.append(_decode_delivery(seq, nanos, msg))
                if events:
                    yield events
                if events and events[-1].seq >= end or len(events) < len(chunk):
                    return

    async def read_raw(self, *, after: int = 0, until: int | None = None) -> AsyncIterator[StoredMessage]:
        """Messages with `after < seq <= until` as stored, ending at `until` or at the stream's
        last sequence when reading started (so a replay has a fixed end)."""
        after = max(after, 0)
        end = await self.last_seq()
        if until is not None:
            end = min(end, until)
        if end <= after:
            return
        consumed = self._consume(start=after + 1, idle_timeout=self._read_idle_timeout)
        async with aclosing(consumed) as messages:
            async for message in messages:
                yield message
                if message.seq >= end:
                    return

    async def follow(self, *, after: int = 0) -> AsyncIterator[StoredEvent]:
        """Every event after `after`, then each new one as it is stored; never ends by itself.
        The projector uses it; break out (or `aclose()`) to stop."""
        async with aclosing(self.follow_raw(after=after)) as messages:
            async for message in messages:
                yield _decode(message)

    async def follow_raw(self, *, after: int = 0) -> AsyncIterator[StoredMessage]:
        async with aclosing(self._consume(start=max(after, 0) + 1, idle_timeout=None)) as messages:
            async for message in messages:
                yield message

    async def _consume(self, *, start: int, idle_timeout: float | None) -> AsyncIterator[StoredMessage]:
        """An ordered push consumer from `start`, torn down however the reader stops."""
        async with aclosing(self._consume_chunks(start=start, idle_timeout=idle_timeout)) as chunks:
            async for chunk in chunks:
                for seq, nanos, msg in chunk:
                    yield _delivered(seq, nanos, msg)

    async def _consume_chunks(
        self, *, start: int, idle_timeout: float | None, size: int = 1000
    ) -> AsyncIterator[list[tuple[int, int, Msg]]]:
        """The ordered push consumer's deliveries from `start`, in order and without repeats,
        in lists of whatever has arrived (at most `size`) as (stream sequence, timestamp in ns,
        message); torn down however the reader stops.

        Why lists: nats-py's `next_msg` costs a task, a timer and a uuid per message (measured
        at about a third of reading the stream). Messages already in the subscription's queue
        are taken directly; only an empty queue is awaited through `next_msg`. After each chunk
        the consumer's pending flow-control reply is sent (`_answer_flow_control`), as
        `next_msg` does. This reaches into nats-py's subscription (`_pending_queue`,
        `_pending_size`, `_jsi`: the version is pinned); without them it falls back to one
        `next_msg` per message, which is correct, only slower."""
        try:
            sub = await self._js.subscribe(
                self._spec.subjects,
                stream=self._spec.name,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                config=ConsumerConfig(opt_start_seq=start),
                # nats-py recreates a lost ordered consumer (e.g. after a server restart) only
                # after two to three silent heartbeat periods; the default 5 s means ~20 s.
                idle_heartbeat=self._consumer_heartbeat,
            )
        except (ServiceUnavailableError, *TRANSIENT_ERRORS) as err:
            raise Unavailable(f"could not start reading stream {self._spec.name}") from err
        last = start - 1
        inner = getattr(sub, "_sub", None)
        queue: asyncio.Queue[Msg] | None = getattr(inner, "_pending_queue", None)
        try:
            while True:
                try:
                    first = await sub.next_msg(timeout=idle_timeout)
                except TRANSIENT_ERRORS as err:
                    raise Unavailable(
                        f"reading stream {self._spec.name} stalled after sequence {last}"
                    ) from err
                arrived = [first]
                if queue is not None:
                    while len(arrived) < size and not queue.empty():
                        msg = queue.get_nowait()
                        inner._pending_size -= len(msg.data)  # as `next_msg` does
                        queue.task_done()
                        arrived.append(msg)
                    await self._answer_flow_control(inner)
                chunk = []
                for msg in arrived:
                    seq, nanos = _ack_position(msg.reply)
                    if seq <= last:  # redelivered after a consumer reset
                        continue
                    last = seq
                    chunk.append((seq, nanos, msg))
                if chunk:
                    yield chunk
        finally:
            await self._release(sub)

    async def _answer_flow_control(self, inner: object) -> None:
        """Send the consumer's pending flow-control reply once everything received before it
        has been taken, as nats-py's `next_msg` would (otherwise the server would wait for
        nats-py's background check, up to 0.25 s, each time the flow-control window fills)."""
        jsi = getattr(inner, "_jsi", None)
        reply = getattr(jsi, "_fcr", None)
        if reply and jsi.get_js_delivered() >= jsi._fcd:  # type: ignore[union-attr]
            jsi._fcr = None  # type: ignore[union-attr]
            with suppress(nats.errors.Error):
                await self._nc.publish(reply)

    async def _release(self, sub: JetStreamContext.PushSubscription) -> None:
        """Unsubscribe and delete the consumer now rather than leaving it for the server's
        inactivity sweep; best effort, since the connection may already be gone."""
        if self._nc.is_closed:
            return
        consumer = getattr(sub, "_consumer", None)  # nats-py keeps the current name here
        # Bounded: a reader being torn down (e.g. a cancelled projector at shutdown) must never
        # wait on a connection that is itself closing; the server sweeps what is left.
        with suppress(nats.errors.Error, asyncio.TimeoutError):
            await asyncio.wait_for(sub.unsubscribe(), RELEASE_SECONDS)
        if consumer:
            with suppress(nats.errors.Error, asyncio.TimeoutError):
                await asyncio.wait_for(self._js.delete_consumer(self._spec.name, consumer), RELEASE_SECONDS)


#: How long tearing down a reader may wait for the server before leaving the rest to it.
RELEASE_SECONDS = 5.0


def _conflict(ref: AggregateRef, expected: int, current: int) -> Conflict:
    return Conflict(
        f"{ref.type} {ref.id} changed since it was read (expected its last event at sequence "
        f"{expected}, it is now at {current}); reload it and try again",
        current_seq=current,
    )


def _delivered(seq: int, nanos: int, msg: Msg) -> StoredMessage:
    """A consumer delivery as the stored message; the ack subject carries its position."""
    return StoredMessage(
        seq=seq,
        subject=msg.subject,
        recorded=recorded_from_nanos(nanos),
        headers=dict(msg.headers or {}),
        data=msg.data,
    )


def _ack_position(reply: str) -> tuple[int, int]:
    """(stream sequence, timestamp in ns) from `$JS.ACK.[<domain>.<hash>.]<stream>.<consumer>.
    <delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]`. Parsed here because nats-py's
    `metadata.timestamp` goes through a float and can be off by a microsecond."""
    tokens = reply.split(".")
    if len(tokens) > 9:  # the v2 form adds domain and account hash after `$JS.ACK`
        tokens = tokens[:2] + tokens[4:]
    if len(tokens) < 9 or tokens[:2] != ["$JS", "ACK"]:
        raise IntegrityError(f"not a JetStream delivery (reply subject {reply!r})")
    return int(tokens[5]), int(tokens[7])


def _decode_delivery(seq: int, nanos: int, msg: Msg) -> StoredEvent:
    """A consumer delivery straight to the stored event (no `StoredMessage` in between).
    The payload goes to `core.jsonio.loads` (orjson) as bytes: UTF-8 is checked there."""
    try:
        event = Event.from_dict(jsonio.loads(msg.data))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise IntegrityError(f"stream message {seq} on {msg.subject} is not a Parley event: {err}") from err
    return StoredEvent(seq=seq, recorded=recorded_from_nanos(nanos), event=event)


def _decode(message: StoredMessage) -> StoredEvent:
    try:
        event = Event.from_json(message.data)
    except (ValueError, KeyError, TypeError) as err:
        raise IntegrityError(
            f"stream message {message.seq} on {message.subject} is not a Parley event: {err}"
        ) from err
    return StoredEvent(seq=message.seq, recorded=message.recorded, event=event)
