"""C2SP signed notes and tlog-checkpoints, checked against Go's sumdb/note reference example."""

from __future__ import annotations

import base64

import pytest

from core.integrity.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint, sign_checkpoint
from core.integrity.notes import NoteError, SignerKey, VerifierKey, parse_note, sign_note

# golang.org/x/mod/sumdb/note note_test.go
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIGNED = TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_reference_keys_parse_and_match() -> None:
    signer = SignerKey.parse(SKEY)
    verifier = VerifierKey.parse(VKEY)
    assert signer.verifier == verifier
    assert signer.encode() == SKEY
    assert verifier.encode() == VKEY
    assert verifier.id_hex == "c74f20a3"


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    assert sign_note(TEXT, SignerKey.parse(SKEY)).encode() == SIGNED


def test_reference_note_verifies_and_a_changed_byte_does_not() -> None:
    key = VerifierKey.parse(VKEY)
    assert parse_note(SIGNED).signed_by(key)
    assert not parse_note(SIGNED.replace("cryptography", "cryptographY")).signed_by(key)


@pytest.mark.parametrize("bad", [
    VKEY.replace("c74f20a3", "c74f20a4"), VKEY[:-4], "PeterNeumann+c74f20a3", "Peter Neumann+c74f20a3+ARpc",
    VKEY.replace("+ARpc", "+AhZc"),
])
def test_mangled_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(bad)


@pytest.mark.parametrize("bad", ["no blank line\n", TEXT + "\n", TEXT + "\nnot a signature\n", TEXT + "\n\u2014 X abc!\n"])
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        parse_note(bad)


def test_checkpoint_round_trip_and_cosignature() -> None:
    log = SignerKey.generate("parley.test/PARLEY")
    witness = SignerKey.generate("USA")
    checkpoint = Checkpoint(origin="parley.test/PARLEY", size=42, root=bytes(range(32)))
    assert checkpoint.body() == f"parley.test/PARLEY\n42\n{base64.b64encode(bytes(range(32))).decode()}\n"
    signed = sign_checkpoint(checkpoint, log).cosign(witness)
    opened = open_checkpoint(signed.encode(), log.verifier)
    assert opened.checkpoint == checkpoint
    assert [k.name for k in opened.signers([log.verifier, witness.verifier])] == ["parley.test/PARLEY", "USA"]
    with pytest.raises(NoteError):
        open_checkpoint(signed.encode().replace("\n42\n", "\n43\n"), log.verifier)
    with pytest.raises(NoteError):
        open_checkpoint(signed.encode(), SignerKey.generate("parley.test/PARLEY").verifier)


@pytest.mark.parametrize("body", ["o\n01\nAAAA\n", "o\n-1\nAAAA\n", "o\n1\n!!\n", "o\n1\n", "o\n1\nAAAA"])
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_body(body)


def test_checkpoint_must_be_signed_by_a_key_named_like_the_origin() -> None:
    with pytest.raises(NoteError):
        sign_checkpoint(Checkpoint(origin="a/b", size=0, root=bytes(32)), SignerKey.generate("other"))
    assert parse_checkpoint(sign_checkpoint(Checkpoint(origin="a/b", size=0, root=bytes(32)), SignerKey.generate("a/b")).encode())
