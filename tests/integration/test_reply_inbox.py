"""The shared reply inbox (adapters/jetstream/inbox.py) against a real nats-server: replies reach
their own request, several replies end where `until` says, a late reply is dropped after its
request timed out, and "no responders" comes back as the server's 503 status."""

from __future__ import annotations

import asyncio
import uuid

import nats.errors
import pytest
from nats.aio.msg import Msg

from adapters.jetstream.inbox import ReplyInbox


def _subject() -> str:
    return f"t{uuid.uuid4().hex[:12]}.echo"


async def test_many_concurrent_requests_each_get_their_own_reply(nats_client):
    subject = _subject()

    async def echo(msg: Msg) -> None:
        await msg.respond(b"re:" + msg.data)

    sub = await nats_client.subscribe(subject, cb=echo)
    inbox = ReplyInbox(nats_client)
    try:
        replies = await asyncio.gather(
            *(inbox.request(subject, str(i).encode(), timeout=5.0) for i in range(200))
        )
        assert [r[0].data for r in replies] == [b"re:" + str(i).encode() for i in range(200)]
        assert inbox._waiting == {}
    finally:
        await sub.unsubscribe()
        await inbox.close()


async def test_a_request_collects_replies_until_the_one_that_ends_it(nats_client):
    subject = _subject()

    async def three(msg: Msg) -> None:
        for part in (b"a", b"b", b"end"):
            await nats_client.publish(msg.reply, part)

    sub = await nats_client.subscribe(subject, cb=three)
    inbox = ReplyInbox(nats_client)
    try:
        replies = await inbox.request(subject, b"", timeout=5.0, until=lambda m: m.data == b"end")
        assert [r.data for r in replies] == [b"a", b"b", b"end"]
    finally:
        await sub.unsubscribe()
        await inbox.close()


async def test_a_late_reply_is_dropped_after_its_request_timed_out(nats_client):
    subject = _subject()
    release = asyncio.Event()

    async def slow(msg: Msg) -> None:
        if msg.data == b"slow":
            await release.wait()
        await msg.respond(msg.data)

    sub = await nats_client.subscribe(subject, cb=slow)
    inbox = ReplyInbox(nats_client)
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await inbox.request(subject, b"slow", timeout=0.2)
        assert inbox._waiting == {}
        release.set()  # the late reply arrives now, for a request that no longer waits
        await asyncio.sleep(0.1)
        assert (await inbox.request(subject, b"next", timeout=5.0))[0].data == b"next"
    finally:
        await sub.unsubscribe()
        await inbox.close()


async def test_no_responders_comes_back_as_the_servers_503_status(nats_client):
    inbox = ReplyInbox(nats_client)
    try:
        reply = (await inbox.request(_subject(), b"", timeout=5.0))[0]
        assert (reply.headers or {}).get("Status") == "503"
    finally:
        await inbox.close()
