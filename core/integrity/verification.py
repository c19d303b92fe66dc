"""Checking a history from its stored bytes: what `parley verify` and `verify-bundle` run.

Fed every stored message in stream order (`add`), then the checkpoints (`check_checkpoint`), a
`LogVerifier` collects each problem with its sequence, subject and what is wrong:

- the bytes are a CloudEvent in RFC 8785 canonical form, on the subject its aggregate names;
- `hash` is the SHA-256 of the canonical event without `hash` and `signature`;
- each aggregate's events run `aggversion` 1, 2, 3 … with `prevhash` = the previous `hash`;
- stream sequences run 1, 2, 3 … without a hole, and no event id appears twice;
- a signed event's signature verifies with a key its party (or the system) had published before
  it and not retired; an unsigned event is a problem when its holder had such a key;
- every checkpoint is signed by a published system key, covers no more events than the stream
  holds, and its root equals the Merkle root recomputed from the stream at its size.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.envelope import UNHASHED, canonical_json
from core.integrity.checkpoint import SignedCheckpoint, parse_checkpoint
from core.integrity.keys import SYSTEM_HOLDER, KeyRing, holder_of
from core.integrity.merkle import MerkleTree, event_leaf, leaf_hash
from core.integrity.notes import NoteError
from core.integrity.signatures import EventSignature


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with the history, precise enough to find it."""

    seq: int | None
    subject: str
    what: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        return f"{where} {self.subject}: {self.what}" if self.subject else f"{where}: {self.what}"


def event_hash(event: dict[str, Any]) -> str:
    """What `hash` must be: SHA-256 hex of the canonical JSON without `hash` and `signature`."""
    return hashlib.sha256(canonical_json({k: v for k, v in event.items() if k not in UNHASHED})).hexdigest()


class LogVerifier:
    def __init__(self, *, subject_prefix: str | None = None) -> None:
        self.subject_prefix = subject_prefix
        self.problems: list[Problem] = []
        self.tree = MerkleTree()
        self.keys = KeyRing()
        self.last_seq = 0
        self.first_gap: int | None = None
        self.events = 0
        self.signed = 0
        self.checkpoints = 0
        self._heads: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._ids: dict[str, int] = {}
        self._matching: set[int] = set()  # sizes of checkpoints whose root matched: they bound a mismatch

    @property
    def ok(self) -> bool:
        return not self.problems

    def _problem(self, seq: int | None, subject: str, what: str) -> None:
        self.problems.append(Problem(seq=seq, subject=subject, what=what))

    def add(self, seq: int, subject: str, data: bytes) -> None:
        """One stored message, in stream order."""
        if seq <= self.last_seq:
            self._problem(seq, subject, f"out of order: comes after sequence {self.last_seq}")
            return
        if seq != self.last_seq + 1:
            missing = f"{self.last_seq + 1}" if seq == self.last_seq + 2 else f"{self.last_seq + 1}..{seq - 1}"
            self._problem(seq, subject, f"sequence{'s' if '..' in missing else ''} {missing} missing before it (deleted from the stream)")
            self.first_gap = self.first_gap or self.last_seq + 1
        self.last_seq = seq
        self.events += 1
        try:
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            self._problem(seq, subject, f"not a JSON event: {err}")
            self.tree.append(seq.to_bytes(8, "big") + hashlib.sha256(data).digest())
            return
        self._check_event(seq, subject, data, event)

    def _check_event(self, seq: int, subject: str, data: bytes, event: dict[str, Any]) -> None:
        claimed = event.get("hash")
        try:
            self.tree.append_hash(leaf_hash(event_leaf(seq, str(claimed))))
        except ValueError:
            self._problem(seq, subject, f"hash {claimed!r} is not a SHA-256 hex digest")
            self.tree.append(seq.to_bytes(8, "big") + hashlib.sha256(data).digest())
        try:
            canonical = canonical_json(event)
        except Exception as err:  # noqa: BLE001 - any value JCS refuses is a problem to report
            self._problem(seq, subject, f"cannot be written as canonical JSON: {err}")
            return
        if canonical != data:
            self._problem(seq, subject, "stored bytes are not the canonical JSON of the event (bytes were changed)")
        body = canonical_json({k: v for k, v in event.items() if k not in UNHASHED})  # what hash and signature cover
        actual = hashlib.sha256(body).hexdigest()
        if claimed != actual:
            self._problem(seq, subject, f"hash does not match the content (stored {str(claimed)[:12]}…, content hashes to {actual[:12]}…)")
        aggtype, aggid = str(event.get("aggtype", "")), str(event.get("subject", ""))
        if self.subject_prefix is not None and subject != f"{self.subject_prefix}.ev.{aggtype}.{aggid}":
            self._problem(seq, subject, f"stored on the wrong subject for {aggtype} {aggid}")
        event_id = str(event.get("id", ""))
        if event_id in self._ids:
            self._problem(seq, subject, f"event id {event_id} was already stored at sequence {self._ids[event_id]}")
        self._ids.setdefault(event_id, seq)
        self._check_chain(seq, subject, event, (aggtype, aggid))
        self._check_signature(seq, subject, event, body)
        if (problem := self.keys.observe(seq, event)) is not None:
            self._problem(seq, subject, problem)

    def _check_chain(self, seq: int, subject: str, event: dict[str, Any], aggregate: tuple[str, str]) -> None:
        version, prevhash = self._heads.get(aggregate, (0, None))
        got_version, got_prev = event.get("aggversion"), event.get("prevhash")
        if got_version != version + 1:
            self._problem(seq, subject, f"aggversion {got_version} follows {version} of {aggregate[0]} {aggregate[1]} (want {version + 1}: an event is missing, repeated or reordered)")
        elif got_prev != prevhash:
            want = f"{prevhash[:12]}…" if prevhash else "none"
            self._problem(seq, subject, f"prevhash {str(got_prev)[:12]}… does not match the previous event's hash ({want}): the chain of {aggregate[0]} {aggregate[1]} is broken")
        self._heads[aggregate] = (int(got_version) if isinstance(got_version, int) else version + 1, event.get("hash"))

    def _check_signature(self, seq: int, subject: str, event: dict[str, Any], body: bytes) -> None:
        holder = holder_of(event)
        text = event.get("signature")
        if text is None:
            if self.keys.holder_has_key(holder, seq):
                self._problem(seq, subject, f"unsigned, although {holder} had a published signing key")
            return
        self.signed += 1
        try:
            signature = EventSignature.parse(str(text))
        except NoteError as err:
            self._problem(seq, subject, f"signature unreadable: {err}")
            return
        period = self.keys.key(holder, signature.key_id_hex)
        if period is None:
            self._problem(seq, subject, f"signed with key {signature.name}+{signature.key_id_hex}, which {holder} never published before this event")
        elif not period.valid_at(seq):
            until = f" until sequence {period.retired_seq}" if period.retired_seq else ""
            self._problem(seq, subject, f"signed with key {signature.key_id_hex} of {holder}, valid from sequence {period.published_seq + 1}{until}, not at {seq}")
        elif not (signature.name == period.key.name and period.key.verify(body, signature.signature)):
            self._problem(seq, subject, f"signature by {holder} key {signature.key_id_hex} does not verify (event changed, or signed with another key)")

    def finish(self, *, last_seq: int) -> None:
        """The stream says it ends at `last_seq`: anything not seen up to there is missing."""
        if last_seq > self.last_seq:
            self._problem(last_seq, "", f"sequences {self.last_seq + 1}..{last_seq} were not readable (deleted from the stream)")
            self.first_gap = self.first_gap or self.last_seq + 1

    def check_checkpoint(self, encoded: str, *, label: str = "checkpoint") -> SignedCheckpoint | None:
        """A checkpoint published for this log: signed by the system, matching the stream.
        Check them in ascending size: a mismatch is then narrowed to the sequences after the
        largest smaller checkpoint that matched."""
        self.checkpoints += 1
        try:
            signed = parse_checkpoint(encoded)
        except NoteError as err:
            self._problem(None, label, f"unreadable: {err}")
            return None
        size = signed.checkpoint.size
        where = f"{label} of size {size}"
        log_keys = [k for k in self.keys.system_keys() if k.name == signed.checkpoint.origin]
        if not signed.signers(log_keys):
            self._problem(None, where, f"not signed by a published system key named {signed.checkpoint.origin!r}")
        for line in signed.note.signatures:
            if line.name == signed.checkpoint.origin:
                continue  # the log's own signature: checked above
            period = next((p for p in self.keys.periods.values() if p.holder != SYSTEM_HOLDER
                           and p.key.name == line.name and p.key.id == line.key_id), None)
            if period is None:
                self._problem(None, where, f"co-signed by {line.name}+{line.key_id.hex()}, a key nobody published")
            elif not period.key.verify(signed.note.text.encode(), line.signature):
                self._problem(None, where, f"co-signature of {period.holder} does not verify")
        if size > self.last_seq:
            self._problem(size, where, f"certifies {size} events but the stream ends at {self.last_seq}: events were cut from the end")
        elif self.first_gap is not None and size >= self.first_gap:
            self._problem(size, where, f"covers sequence {self.first_gap}, which is missing")
        elif self.tree.root(size) != signed.checkpoint.root:
            good = max((s for s in self._matching if s < size), default=0)
            self._problem(size, where, f"root does not match the stream: an event in sequences {good + 1}..{size} was changed, replaced or reordered since it was certified")
        else:
            self._matching.add(size)
        return signed

    def summary(self) -> str:
        return (f"{self.events} events up to sequence {self.last_seq}, {self.signed} signed, "
                f"{len(self._heads)} aggregates, {self.checkpoints} checkpoints")
