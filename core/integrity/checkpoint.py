"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed tree head of the log.

The body is three lines and optional extension lines, signed as a C2SP signed note:

    <origin>\n                    e.g. parley.example.org/PARLEY — names this log, and is the
                                  name of the key that signs it (the system key)
    <tree size>\n                 decimal, no leading zeros: events 1..size are covered
    <base64 root hash>\n          RFC 6962 root over the leaves of `merkle.event_leaf`
    [extension lines]\n

A party that checked a checkpoint is consistent with the last one it saw co-signs it (adds its
own signature line with its party key): a witness.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from core.integrity.merkle import HASH_SIZE
from core.integrity.notes import Note, NoteError, SignerKey, VerifierKey, parse_note, sign_note


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError("a checkpoint origin is one non-empty line")
        if self.size < 0:
            raise NoteError("a tree size cannot be negative")
        if len(self.root) != HASH_SIZE:
            raise NoteError("a root hash is 32 bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("a checkpoint body ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise NoteError("the checkpoint root hash is not base64") from err
        return cls(origin=origin, size=int(size_text), root=root, extensions=tuple(extensions))


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note

    def encode(self) -> str:
        return self.note.encode()

    def cosign(self, key: SignerKey) -> SignedCheckpoint:
        return SignedCheckpoint(checkpoint=self.checkpoint, note=self.note.with_signature(key))

    def signers(self, keys: list[VerifierKey]) -> list[VerifierKey]:
        """Those of `keys` that validly signed this checkpoint."""
        return [key for key in keys if self.note.signed_by(key)]


def sign_checkpoint(checkpoint: Checkpoint, key: SignerKey) -> SignedCheckpoint:
    if key.name != checkpoint.origin:
        raise NoteError(f"the log key must be named like the origin {checkpoint.origin!r}, not {key.name!r}")
    return SignedCheckpoint(checkpoint=checkpoint, note=sign_note(checkpoint.body(), key))


def parse_checkpoint(encoded: str) -> SignedCheckpoint:
    note = parse_note(encoded)
    return SignedCheckpoint(checkpoint=Checkpoint.parse_body(note.text), note=note)


def open_checkpoint(encoded: str, log_key: VerifierKey) -> SignedCheckpoint:
    """Parse and check the log's own signature; raises `NoteError` when it is missing or wrong."""
    signed = parse_checkpoint(encoded)
    if signed.checkpoint.origin != log_key.name:
        raise NoteError(f"checkpoint of {signed.checkpoint.origin!r}, expected {log_key.name!r}")
    if not signed.note.signed_by(log_key):
        raise NoteError(f"the checkpoint is not signed by the log key {log_key.name}+{log_key.id_hex}")
    return signed
