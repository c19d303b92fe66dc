"""Evidence bundles checked offline: an intact bundle verifies; any changed byte, dropped or
swapped event, or wrong key is reported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.integrity.bundle import MANIFEST, event_file, make_bundle, verify_bundle
from core.integrity.checkpoint import Checkpoint, sign_checkpoint
from core.integrity.notes import SignerKey
from core.integrity.signatures import sign_event
from core.envelope import Event
from tests.unit.test_log_verifier import ORIGIN, SYSTEM, USA, history, stored, verify


def bundle(*, cosign: bool = True) -> dict[str, bytes]:
    events = history()
    messages = stored(events)
    v = verify(messages)
    size = len(messages)
    checkpoint = sign_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=v.tree.root(size)), SYSTEM)
    if cosign:
        checkpoint = checkpoint.cosign(USA)
    return make_bundle(incident_id="i1", created="2026-01-01T00:00:00.000000Z", checkpoint=checkpoint,
                       events=dict(messages), proofs={seq: v.tree.inclusion_proof(seq - 1, size) for seq, _ in messages}, key=SYSTEM)


def test_an_intact_bundle_verifies_and_names_its_cosigners() -> None:
    report = verify_bundle(bundle())
    assert report.problems == []
    assert report.events == 7
    assert report.cosigners == ["USA"]
    assert report.log_key == SYSTEM.verifier


def test_a_pinned_log_key_that_differs_is_reported() -> None:
    report = verify_bundle(bundle(), log_key=SignerKey.generate(ORIGIN).verifier)
    assert [p.what for p in report.problems] == ["the checkpoint is not signed by the log key you pinned"]


FILES = sorted(bundle())


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(FILES), position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_changed_byte_is_reported(name: str, position: int, bit: int) -> None:
    files = bundle()
    data = bytearray(files[name])
    index = position % len(data)
    data[index] ^= 1 << bit
    files[name] = bytes(data)
    report = verify_bundle(files)
    assert not report.ok, (name, index, bit)


def test_a_changed_event_names_the_file_and_sequence() -> None:
    files = bundle()
    name = event_file(5)
    files[name] = files[name].replace(b'"n":5', b'"n":6')
    problems = [str(p) for p in verify_bundle(files).problems]
    assert f"log {name}: changed: its SHA-256 differs from the manifest" in problems
    assert any(p.startswith(f"seq 5 {name}: hash does not match") for p in problems)
    assert any(p.startswith(f"seq 5 {name}: signature by USA key") for p in problems)


def test_a_dropped_event_is_reported() -> None:
    files = bundle()
    del files[event_file(4)]
    problems = [str(p) for p in verify_bundle(files).problems]
    assert f"log {event_file(4)}: is listed in the manifest but missing" in problems


def test_two_swapped_events_are_reported() -> None:
    files = bundle()
    files[event_file(3)], files[event_file(4)] = files[event_file(4)], files[event_file(3)]
    problems = [str(p) for p in verify_bundle(files).problems]
    assert any(p.startswith(f"seq 3 {event_file(3)}: not proven") for p in problems)
    assert any(p.startswith(f"seq 4 {event_file(4)}: not proven") for p in problems)


def test_an_event_resigned_with_another_key_is_reported() -> None:
    files = bundle()
    name = event_file(6)
    files[name] = sign_event(Event.from_json(files[name]), SignerKey.generate("USA")).to_json()
    problems = [str(p) for p in verify_bundle(files).problems]
    assert any(p.startswith(f"seq 6 {name}: signed with key USA+") for p in problems)


def test_a_file_added_to_the_bundle_is_reported() -> None:
    files = bundle()
    files["events/000000000099.json"] = files[event_file(3)]
    files["events/notes.txt"] = b"x"
    problems = [str(p) for p in verify_bundle(files).problems]
    assert "log events/000000000099.json: is not listed in the manifest (added after the bundle was made)" in problems
    assert "log events/notes.txt: is not an event file (events/<sequence>.json)" in problems


@pytest.mark.parametrize("missing", [MANIFEST, "checkpoint.note", "proofs.json"])
def test_a_bundle_without_its_core_files_is_unreadable(missing: str) -> None:
    files = bundle()
    del files[missing]
    assert [p.what.split(":")[0] for p in verify_bundle(files).problems] == ["not a readable evidence bundle"]
