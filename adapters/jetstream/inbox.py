"""Requests whose replies come back to one shared wildcard inbox subscription.

Why not `nc.request()` on the hot paths (every append's publish acknowledgement, every direct
get): nats-py draws each request's token from `secrets.token_hex` (an `os.urandom` system call)
and waits with `asyncio.wait_for` (a wrapper future, a callback and a timer each time); at
several thousand appends per second those two were ~9 % of the append path's CPU. Here a
request costs a counter increment, one future and one timer handle, and a reply is routed by
its last subject token. The subscription is made on first use and re-sent by nats-py after a
reconnect like any other; a reply that arrives after its request gave up is dropped.

A request may take several replies (a batched direct get streams messages, then a status):
`until` says which reply completes it.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


def first_reply(_: Msg) -> bool:
    """`until` for requests answered by one message."""
    return True


class ReplyInbox:
    """One connection's shared inbox for request/reply (see the module docstring)."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix: str | None = None
        self._sub: Subscription | None = None
        self._lock = asyncio.Lock()
        self._tokens = itertools.count(1)
        self._waiting: dict[str, tuple[list[Msg], Callable[[Msg], bool], asyncio.Future[list[Msg]]]] = {}

    async def request(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        until: Callable[[Msg], bool] = first_reply,
    ) -> list[Msg]:
        """Publish `payload` to `subject` with a reply subject in this inbox; return the replies
        up to and including the first one `until` accepts (by default: the first reply).

        Raises `nats.errors.TimeoutError` when that reply has not come within `timeout` seconds,
        and what `nc.publish` raises (connection closed, payload too large, ...)."""
        prefix = self._prefix or await self._subscribe()
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Msg]] = loop.create_future()
        self._waiting[token] = ([], until, done)
        expiry = loop.call_later(timeout, _expire, done)
        try:
            await self._nc.publish(subject, payload, reply=prefix + token, headers=headers)
            return await done
        finally:
            expiry.cancel()
            del self._waiting[token]

    async def close(self) -> None:
        """Drop the subscription (the connection itself belongs to the caller)."""
        sub, self._sub, self._prefix = self._sub, None, None
        if sub is not None and not self._nc.is_closed:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    async def _subscribe(self) -> str:
        async with self._lock:
            if self._prefix is None:
                inbox = self._nc.new_inbox()
                self._sub = await self._nc.subscribe(f"{inbox}.*", cb=self._route)
                self._prefix = f"{inbox}."
            return self._prefix

    async def _route(self, msg: Msg) -> None:
        waiting = self._waiting.get(msg.subject.rpartition(".")[2])
        if waiting is None:  # its request already gave up
            return
        replies, until, done = waiting
        if done.done():
            return
        replies.append(msg)
        if until(msg):
            done.set_result(replies)


def _expire(done: asyncio.Future[list[Msg]]) -> None:
    if not done.done():
        done.set_exception(nats.errors.TimeoutError())
