"""Ed25519 signatures of events: who asserted a fact, checkable by anyone with the public key.

What is signed: exactly the bytes `hash` covers — the RFC 8785 canonical JSON of the event without
`hash` and `signature` — so a signature also commits to the aggregate chain (`prevhash`).

The `signature` attribute is `<key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>`:
the same shape as a signed-note signature line without its dash, and the same key ids, so one party
key signs both its events and its witness co-signatures.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Mapping

from core.envelope import UNHASHED, Event, canonical_json, with_signature
from core.integrity.notes import NoteError, SignerKey, VerifierKey


def signed_bytes(event: Mapping[str, Any] | Event) -> bytes:
    """The canonical bytes a signature covers (the CloudEvent object without hash/signature)."""
    if isinstance(event, Event):
        return event.signed_bytes()
    return canonical_json({k: v for k, v in event.items() if k not in UNHASHED})


@dataclass(frozen=True, kw_only=True)
class EventSignature:
    name: str
    key_id: bytes
    signature: bytes

    def encode(self) -> str:
        return f"{self.name} {base64.b64encode(self.key_id + self.signature).decode()}"

    @classmethod
    def parse(cls, text: str) -> EventSignature:
        parts = text.split(" ")
        if len(parts) != 2 or not parts[0]:
            raise NoteError("an event signature is '<key name> <base64>'")
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError) as err:
            raise NoteError("the event signature is not base64") from err
        if len(raw) != 4 + 64:
            raise NoteError("an Ed25519 event signature is a 4-byte key id and 64 bytes")
        return cls(name=parts[0], key_id=raw[:4], signature=raw[4:])

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()


def sign_event(event: Event, key: SignerKey) -> Event:
    """`event` (already sealed) with its `signature` set by `key`."""
    signature = EventSignature(name=key.name, key_id=key.verifier.id, signature=key.sign(signed_bytes(event)))
    return with_signature(event, signature.encode())


def signature_valid(event: Mapping[str, Any] | Event, signature: EventSignature, key: VerifierKey) -> bool:
    return signature.name == key.name and signature.key_id == key.id and key.verify(signed_bytes(event), signature.signature)
