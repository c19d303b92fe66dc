"""`parley verify`'s check against a real JetStream stream: an intact signed history verifies;
each kind of tampering is named with its sequence and subject."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from adapters.integrity.stream_check import verify_stream
from adapters.jetstream.direct import StoredMessage
from adapters.jetstream.stream import StreamSpec
from core.integrity.notes import SignerKey
from core.integrity.signatures import sign_event
from core.envelope import Event
from tests.integration.integrity_history import History, build_history, copy_history, drop_streams, stored_messages


@pytest.fixture
async def history(nats_client: NATS, stream_spec: StreamSpec, tmp_path: Path) -> AsyncIterator[History]:
    built = await build_history(nats_client, stream_spec, tmp_path)
    yield built
    await built.audit.close()
    await built.store.close()
    await drop_streams(nats_client, stream_spec.name, built.audit.spec.name)


async def problems_of(nc: NATS, store, audit) -> list[str]:  # noqa: ANN001
    result = await verify_stream(nc, store, audit)
    return [str(p) for p in result.problems]


async def problems_of_copy(nc: NATS, history: History, transform) -> list[str]:  # noqa: ANN001
    store, audit = await copy_history(nc, history, transform)
    try:
        return await problems_of(nc, store, audit)
    finally:
        await audit.close()
        await store.close()
        await drop_streams(nc, store.spec.name, audit.spec.name)


async def test_an_intact_signed_history_verifies(nats_client: NATS, history: History) -> None:
    result = await verify_stream(nats_client, history.store, history.audit)
    assert result.problems == []
    assert result.checkpoints == 1
    messages = await stored_messages(history)
    unsigned = [m.seq for m in messages if "signature" not in json.loads(m.data)]
    assert unsigned == [1]  # only the system key's own publication: no key existed before it
    assert result.signed == len(messages) - 1


async def test_a_deleted_event_is_named_as_a_gap(nats_client: NATS, history: History) -> None:
    await nats_client.jetstream().delete_msg(history.spec.name, 4)
    problems = await problems_of(nats_client, history.store, history.audit)
    assert problems[0].startswith("seq 5 ") and "sequence 4 missing before it" in problems[0]
    assert any("covers sequence 4, which is missing" in p for p in problems)


async def test_a_deleted_last_event_is_named(nats_client: NATS, history: History) -> None:
    last = await history.store.last_seq()
    await nats_client.jetstream().delete_msg(history.spec.name, last)
    problems = await problems_of(nats_client, history.store, history.audit)
    assert f"seq {last}: sequences {last}..{last} were not readable (deleted from the stream)" in problems


async def test_one_changed_byte_is_named(nats_client: NATS, history: History) -> None:
    def change(messages: list[StoredMessage]) -> list[StoredMessage]:
        target = messages[-2]  # the incident report
        assert b'"cpa_m":' in target.data
        messages[-2] = replace(target, data=target.data.replace(b'"cpa_m":', b'"cpa_M":', 1))
        return messages

    problems = await problems_of_copy(nats_client, history, change)
    seq = len(await stored_messages(history)) - 1
    assert any(p.startswith(f"seq {seq} ") and ".ev.incident.inc-1" in p and "hash does not match" in p for p in problems)
    assert any(p.startswith(f"seq {seq} ") and "signature by USA" in p for p in problems)


async def test_two_swapped_events_of_different_aggregates_fail_the_checkpoint(nats_client: NATS, history: History) -> None:
    def swap(messages: list[StoredMessage]) -> list[StoredMessage]:
        # seq 2..: party USA registered, officer, key USA ... swap the USA party registration and the
        # RUS party registration: both chains stay intact, only the order in the stream changes
        subjects = [m.subject.split(".ev.")[1] for m in messages]
        a, b = subjects.index("party.USA"), subjects.index("party.RUS")
        messages[a], messages[b] = messages[b], messages[a]
        return messages

    problems = await problems_of_copy(nats_client, history, swap)
    assert any("root does not match the stream" in p for p in problems), problems
    assert not any("hash does not match" in p for p in problems)


async def test_an_event_resigned_with_a_wrong_key_is_named(nats_client: NATS, history: History) -> None:
    impostor = SignerKey.generate("RUS")

    def resign(messages: list[StoredMessage]) -> list[StoredMessage]:
        event = Event.from_json(messages[-1].data)
        messages[-1] = replace(messages[-1], data=sign_event(event, impostor).to_json())
        return messages

    problems = await problems_of_copy(nats_client, history, resign)
    last = len(await stored_messages(history))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"seq {last} ") and ".ev.incident.inc-1: " in problems[0]
    assert problems[0].endswith(f"signed with key RUS+{impostor.verifier.id_hex}, which RUS never published before this event")


async def test_a_dropped_and_renumbered_event_breaks_the_chain_and_the_checkpoint(nats_client: NATS, history: History) -> None:
    def drop(messages: list[StoredMessage]) -> list[StoredMessage]:
        del messages[-2]  # the incident report; the acknowledgement moves up to its sequence
        return messages

    problems = await problems_of_copy(nats_client, history, drop)
    seq = len(await stored_messages(history)) - 1
    assert any(p.startswith(f"seq {seq} ") and "aggversion 2 follows 0" in p for p in problems), problems
    assert any("cut from the end" in p for p in problems)
