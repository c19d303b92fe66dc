"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and their key strings.

Why this format: it is what transparency-log tooling (Go's `sumdb/note`, witnesses, Sigsum,
Tessera) reads, so a checkpoint Parley signs can be checked with tools that are not Parley's.

A note is UTF-8 text ending in a newline, then a blank line, then one line per signature:

    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>

The key id is the first 4 bytes of SHA-256(<key name> || "\n" || 0x01 || public key); 0x01 is
the Ed25519 algorithm byte. A verifier key is written `<name>+<key id hex>+<base64(0x01 ||
public key)>`, a signer key `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat, NoEncryption

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key string or signature is malformed or does not verify."""


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key called `name`."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True, kw_only=True)
class VerifierKey:
    """A named Ed25519 public key: who may sign notes (and events) under that name."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise NoteError(f"key name {self.name!r} must be non-empty, without '+' or spaces")
        if len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")

    @cached_property
    def id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @cached_property
    def _public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    def encode(self) -> str:
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.id_hex}+{blob}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, hex_id, blob = _split_key(text.strip(), parts=3)
        raw = _b64(blob, what="verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        key = cls(name=name, public_key=raw[1:])
        if key.id_hex != hex_id:
            raise NoteError(f"verifier key id {hex_id} does not match the key (want {key.id_hex})")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, kw_only=True)
class SignerKey:
    """A named Ed25519 private key. Lives only in a 0600 file outside the stream and database."""

    name: str
    seed: bytes

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise NoteError(f"key name {self.name!r} must be non-empty, without '+' or spaces")
        if len(self.seed) != 32:
            raise NoteError("an Ed25519 private key seed is 32 bytes")

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name=name, seed=seed)

    @cached_property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @cached_property
    def verifier(self) -> VerifierKey:
        public = self._private.public_key()
        return VerifierKey(name=self.name, public_key=public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def encode(self) -> str:
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id_hex}+{blob}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        text = text.strip()
        if not text.startswith("PRIVATE+KEY+"):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, hex_id, blob = _split_key(text[len("PRIVATE+KEY+"):], parts=3)
        raw = _b64(blob, what="signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the signer key is not an Ed25519 key")
        key = cls(name=name, seed=raw[1:])
        if key.verifier.id_hex != hex_id:
            raise NoteError(f"signer key id {hex_id} does not match the key")
        return key


@dataclass(frozen=True, kw_only=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True, kw_only=True)
class Note:
    """A note's text (ending in a newline) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def signed_by(self, key: VerifierKey) -> bool:
        """True when one of the signatures is a valid signature by `key`."""
        message = self.text.encode()
        return any(
            s.name == key.name and s.key_id == key.id and key.verify(message, s.signature)
            for s in self.signatures
        )

    def with_signature(self, key: SignerKey) -> Note:
        """The note with `key`'s signature appended (a co-signature if it is already signed)."""
        verifier = key.verifier
        line = NoteSignature(name=key.name, key_id=verifier.id, signature=key.sign(self.text.encode()))
        others = tuple(s for s in self.signatures if not (s.name == key.name and s.key_id == verifier.id))
        return Note(text=self.text, signatures=others + (line,))


def sign_note(text: str, key: SignerKey) -> Note:
    _check_text(text)
    return Note(text=text).with_signature(key)


def parse_note(encoded: str) -> Note:
    """Split a signed note into text and signature lines (does not verify signatures)."""
    split = encoded.rfind("\n\n")
    if split < 0 or not encoded.endswith("\n"):
        raise NoteError("a signed note is text, a blank line and signature lines, ending in a newline")
    text, block = encoded[: split + 1], encoded[split + 2:]
    _check_text(text)
    signatures = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line!r}")
        parts = line[len(SIGNATURE_PREFIX):].split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise NoteError(f"malformed signature line: {line!r}")
        raw = _b64(parts[1], what="signature")
        if len(raw) < 5:
            raise NoteError(f"signature of {parts[0]} is too short")
        signatures.append(NoteSignature(name=parts[0], key_id=raw[:4], signature=raw[4:]))
    if not signatures:
        raise NoteError("the note has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return Note(text=text, signatures=tuple(signatures))


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


def _split_key(text: str, *, parts: int) -> list[str]:
    pieces = text.split("+", parts - 1)
    if len(pieces) != parts or not _valid_name(pieces[0]) or len(pieces[1]) != 8:
        raise NoteError(f"malformed key string {text[:40]!r}")
    return pieces


def _b64(text: str, *, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise NoteError(f"the {what} is not valid base64") from err
