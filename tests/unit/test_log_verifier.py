"""`LogVerifier` on hand-built histories: each kind of tampering is named with its sequence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.envelope import Event, seal
from core.integrity.checkpoint import Checkpoint, sign_checkpoint
from core.integrity.keys import KeyPublished, KeyRetired
from core.integrity.notes import SignerKey
from core.integrity.signatures import sign_event
from core.integrity.verification import LogVerifier

ORIGIN = "parley.test/LOG"
SYSTEM = SignerKey.generate(ORIGIN)
USA = SignerKey.generate("USA")


def _event(n: int, *, aggtype: str, subject: str, version: int, prev: str | None, party: str, type_: str = "parley.test.v1", data: dict | None = None) -> Event:
    return seal(Event(id=f"e{n}", type=type_, source="/t", subject=subject, time="2026-01-01T00:00:00.000000Z",
                      aggtype=aggtype, aggversion=version, party=party, actor="a", data=data or {"n": n}), prevhash=prev)


def history() -> list[Event]:
    """1: system key published (unsigned: no key yet); 2: USA key (signed by system);
    3..6: USA incident events signed by USA; 7: an admin event signed by the system."""
    out: list[Event] = []
    sys_pub = KeyPublished(holder="system", name=ORIGIN, key_id=SYSTEM.verifier.id_hex, verifier_key=SYSTEM.verifier.encode(), valid_from="2026-01-01T00:00:00.000000Z")
    out.append(_event(1, aggtype="key", subject="system", version=1, prev=None, party="admin", type_=KeyPublished.TYPE, data=sys_pub.payload()))
    usa_pub = KeyPublished(holder="USA", name="USA", key_id=USA.verifier.id_hex, verifier_key=USA.verifier.encode(), valid_from="2026-01-01T00:00:00.000000Z")
    out.append(sign_event(_event(2, aggtype="key", subject="USA", version=1, prev=None, party="admin", type_=KeyPublished.TYPE, data=usa_pub.payload()), SYSTEM))
    for n in range(3, 7):
        out.append(_event(n, aggtype="incident", subject="i1" if n % 2 else "i2", version=0, prev=None, party="USA"))
    # chain them: i1 holds sequences 3 and 5, i2 holds 4 and 6
    chained: list[Event] = out[:2]
    heads: dict[str, tuple[int, str | None]] = {}
    for e in out[2:]:
        version, prev = heads.get(e.subject, (0, None))
        sealed = sign_event(seal(replace(e, aggversion=version + 1), prevhash=prev), USA)
        heads[e.subject] = (version + 1, sealed.hash)
        chained.append(sealed)
    chained.append(sign_event(_event(7, aggtype="party", subject="USA", version=1, prev=None, party="admin"), SYSTEM))
    return chained


def verify(messages: list[tuple[int, bytes]], checkpoints: list[str] = ()) -> LogVerifier:
    v = LogVerifier(subject_prefix=None)
    for seq, data in messages:
        v.add(seq, f"subject-{seq}", data)
    v.finish(last_seq=max((s for s, _ in messages), default=0))
    for c in checkpoints:
        v.check_checkpoint(c)
    return v


def stored(events: list[Event]) -> list[tuple[int, bytes]]:
    return [(i + 1, e.to_json()) for i, e in enumerate(events)]


def checkpoint_of(events: list[Event], size: int) -> str:
    v = verify(stored(events))
    return sign_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=v.tree.root(size)), SYSTEM).encode()


def test_an_intact_history_verifies() -> None:
    events = history()
    v = verify(stored(events), [checkpoint_of(events, 7), checkpoint_of(events, 4)])
    assert v.problems == []
    assert v.signed == 6


def test_a_changed_byte_is_named() -> None:
    messages = stored(history())
    seq, data = messages[3]
    messages[3] = (seq, data.replace(b'"n":4', b'"n":5'))
    problems = [str(p) for p in verify(messages).problems]
    assert any(p.startswith("seq 4 ") and "hash does not match" in p for p in problems)


def test_a_rewrite_with_a_fresh_hash_breaks_the_signature_and_the_chain() -> None:
    events = history()
    forged = seal(replace(events[2], data={"n": 99}), prevhash=events[2].prevhash)
    events[2] = replace(forged, signature=events[2].signature)
    problems = [str(p) for p in verify(stored(events)).problems]
    assert any(p.startswith("seq 3 ") and "does not verify" in p for p in problems)
    assert any(p.startswith("seq 5 ") and "chain" in p for p in problems)


def test_a_dropped_event_is_a_named_gap() -> None:
    messages = stored(history())
    del messages[4]
    problems = [str(p) for p in verify(messages).problems]
    assert any(p.startswith("seq 6 ") and "sequence 5 missing" in p for p in problems)


def test_two_events_of_different_aggregates_swapped_are_caught_by_the_checkpoint() -> None:
    events = history()
    checkpoints = [checkpoint_of(events, 3), checkpoint_of(events, 7)]
    events[3], events[4] = events[4], events[3]  # seq 4 (i2) and 5 (i1): chains per aggregate still fine
    v = verify(stored(events), checkpoints)
    assert [str(p) for p in v.problems] == [
        "seq 7 checkpoint of size 7: root does not match the stream: an event in sequences 4..7 was"
        " changed, replaced or reordered since it was certified"
    ]


def test_an_event_resigned_with_a_wrong_key_is_named() -> None:
    events = history()
    wrong = SignerKey.generate("USA")
    events[5] = sign_event(events[5], wrong)
    assert [str(p) for p in verify(stored(events)).problems] == [
        f"seq 6 subject-6: signed with key USA+{wrong.verifier.id_hex}, which USA never published before this event"
    ]


def test_an_unsigned_event_of_a_party_with_a_key_is_named() -> None:
    events = history()
    events[4] = replace(events[4], signature=None)
    assert [str(p) for p in verify(stored(events)).problems] == ["seq 5 subject-5: unsigned, although USA had a published signing key"]


def test_a_retired_key_cannot_sign_later_events() -> None:
    events = history()
    retired = KeyRetired(holder="USA", key_id=USA.verifier.id_hex, valid_until="2026-01-01T00:00:00.000000Z")
    events.insert(2, sign_event(_event(30, aggtype="key", subject="USA", version=2, prev=events[1].hash, party="admin", type_=KeyRetired.TYPE, data=retired.payload()), SYSTEM))
    problems = [str(p) for p in verify(stored(events)).problems]
    assert problems and all("valid from sequence 3 until sequence 3" in p for p in problems)


def test_cutting_the_end_is_caught_by_a_checkpoint() -> None:
    events = history()
    checkpoint = checkpoint_of(events, 7)
    problems = [str(p) for p in verify(stored(events[:5]), [checkpoint]).problems]
    assert problems == ["seq 7 checkpoint of size 7: certifies 7 events but the stream ends at 5: events were cut from the end"]


def test_a_checkpoint_signed_by_an_unknown_key_is_named() -> None:
    events = history()
    v = verify(stored(events))
    fake = sign_checkpoint(Checkpoint(origin=ORIGIN, size=7, root=v.tree.root(7)), SignerKey.generate(ORIGIN)).encode()
    problems = [str(p) for p in verify(stored(events), [fake]).problems]
    assert problems == [f"log checkpoint of size 7: not signed by a published system key named {ORIGIN!r}"]


@pytest.mark.parametrize("swap", [(2, 4), (3, 5)])
def test_reordering_within_one_aggregate_breaks_its_chain(swap: tuple[int, int]) -> None:
    events = history()
    a, b = swap
    events[a], events[b] = events[b], events[a]
    problems = verify(stored(events)).problems
    assert any(p.seq == a + 1 and ("aggversion" in p.what or "chain" in p.what) for p in problems)
