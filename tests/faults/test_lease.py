"""The lease in NATS KV: one holder at a time, take-over when the holder dies, hand-over on release,
and a holder that loses NATS stops working rather than trusting a lease it cannot renew."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from nats.aio.client import Client as NATS

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.lease import Lease, lease_key, projector_lease_name

TTL = 2.0


def fresh_name() -> str:
    return lease_key("test", uuid.uuid4().hex[:10])


async def test_of_many_contenders_racing_for_a_free_lease_exactly_one_wins(app_nc: NATS) -> None:
    name = fresh_name()
    contenders = [Lease(app_nc, name=name, ttl=TTL, holder=f"c{i}") for i in range(8)]
    won = await asyncio.gather(*(lease.acquire() for lease in contenders))
    assert sum(won) == 1
    winner = contenders[won.index(True)]
    assert (await winner.current())[0] == winner.holder
    assert winner.held and winner.revision is not None
    assert not any(lease.held for lease in contenders if lease is not winner)


async def test_a_dead_holder_is_replaced_only_after_its_ttl(app_nc: NATS) -> None:
    name = fresh_name()
    dead, heir = Lease(app_nc, name=name, ttl=TTL, holder="dead"), Lease(app_nc, name=name, ttl=TTL, holder="heir")
    assert await dead.acquire()
    began = time.monotonic()
    while not await heir.acquire():  # `dead` never renews: it was SIGKILLed, as far as anyone knows
        assert time.monotonic() - began < TTL + 3, "the dead holder's lease never expired"
        await asyncio.sleep(0.05)
    waited = time.monotonic() - began
    assert waited >= TTL - 0.5, f"taken over after {waited:.2f}s, before the TTL ran out"
    assert not await dead.renew(), "the old holder must notice it lost the lease"
    first_revision = heir.revision
    assert await heir.renew() and heir.revision > first_revision  # the fencing token grows


async def test_release_hands_over_at_once_and_renewal_keeps_the_lease_past_its_ttl(app_nc: NATS) -> None:
    name = fresh_name()
    a, b = Lease(app_nc, name=name, ttl=TTL, holder="a"), Lease(app_nc, name=name, ttl=TTL, holder="b")
    assert await a.acquire()
    for _ in range(4):  # 2.4 s > TTL: renewals keep it
        await asyncio.sleep(TTL / 3)
        assert await a.renew()
        assert not await b.acquire()
    await a.release()
    assert await b.acquire()
    assert not a.held


async def test_hold_runs_work_on_one_instance_and_fails_over_when_it_stops(app_nc: NATS) -> None:
    name = fresh_name()
    active: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    running: set[str] = set()

    def worker(label: str):  # noqa: ANN202
        async def work(quit: asyncio.Event) -> None:
            running.add(label)
            if len(running) > 1:
                overlaps.append(tuple(sorted(running)))
            active.append(label)
            try:
                await quit.wait()
            finally:
                running.discard(label)
        return work

    stops = {label: asyncio.Event() for label in "ab"}
    leases = {label: Lease(app_nc, name=name, ttl=TTL, holder=label) for label in "ab"}
    tasks = {label: asyncio.create_task(leases[label].hold(worker(label), stops[label])) for label in "ab"}
    try:
        await _until(lambda: len(active) == 1, 5)
        await asyncio.sleep(TTL * 1.5)  # renewals keep the first one active; the other stands by
        assert len(active) == 1
        first = active[0]
        second = "b" if first == "a" else "a"
        began = time.monotonic()
        stops[first].set()  # a clean stop releases the lease: hand-over well before the TTL
        await _until(lambda: active[-1:] == [second], 5)
        assert time.monotonic() - began < TTL
        assert overlaps == []
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks.values()), 10)


async def test_a_holder_cut_off_from_nats_stops_working_and_work_resumes_when_nats_returns(
    private_nats: EmbeddedNatsServer, app_nc: NATS,
) -> None:
    name = fresh_name()
    lease = Lease(app_nc, name=name, ttl=TTL, holder="solo")
    stop = asyncio.Event()
    sessions: list[float] = []
    quits: list[float] = []

    async def work(quit: asyncio.Event) -> None:
        sessions.append(time.monotonic())
        await quit.wait()
        quits.append(time.monotonic())

    task = asyncio.create_task(lease.hold(work, stop))
    try:
        await _until(lambda: len(sessions) == 1, 5)
        await private_nats.stop()
        cut = time.monotonic()
        await _until(lambda: len(quits) == 1, TTL + 5)
        assert quits[0] - cut <= TTL + 1.0, "the holder kept working on a lease it could not renew"
        await private_nats.start()
        await _until(lambda: len(sessions) == 2, 30)  # reconnects, waits out the old TTL, holds again
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_work_that_fails_releases_the_lease_and_the_error_reaches_the_caller(app_nc: NATS) -> None:
    name = fresh_name()
    lease, other = Lease(app_nc, name=name, ttl=TTL, holder="failing"), Lease(app_nc, name=name, ttl=TTL, holder="next")

    async def work(quit: asyncio.Event) -> None:
        raise RuntimeError("a gap in the stream")

    with pytest.raises(RuntimeError, match="a gap in the stream"):
        await asyncio.wait_for(lease.hold(work, asyncio.Event()), 10)
    assert await other.acquire(), "the failed holder kept the lease until its TTL"


def test_projector_lease_names_differ_per_database_and_hide_passwords() -> None:
    one = projector_lease_name("PARLEY", "main", "postgresql://parley:secret@db1:5432/parley")
    other = projector_lease_name("PARLEY", "main", "postgresql://parley:secret@db2:5432/parley")
    same = projector_lease_name("PARLEY", "main", "postgresql://parley:changed@db1:5432/parley")
    assert one != other and one == same
    assert "secret" not in one and one.startswith("projector.PARLEY.main.")


async def _until(condition, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
