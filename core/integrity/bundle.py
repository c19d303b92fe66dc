"""Evidence bundles: the events of a dispute with everything needed to check them offline.

A bundle is a set of files (a zip on disk):

    manifest.note          signed note (system key): canonical JSON of the manifest, then a newline
    checkpoint.note        the signed checkpoint the proofs lead to, with every witness co-signature
    events/<seq>.json      each event exactly as stored on the stream (bytes unchanged), for whole
                           aggregates only (every event of each, up to the checkpoint), so each
                           chain checks from its first event
    proofs.json            {"<seq>": [base64 hash, …]}: inclusion proof of each event at the checkpoint's size

The manifest names the incident, the origin and size, and the SHA-256 of every other file, so a
changed byte anywhere is found: in an event (hash, signature, proof), in a proof (root), in the
checkpoint (signature) or in the manifest itself (signature). The events include every key event
of the log up to the checkpoint, which is where the public keys come from; they are proven to be
in the same log. What the bundle cannot prove by itself is that the log key is the real one:
compare it with the key you pinned (`parley keys show system`, a witness's state file).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.envelope import canonical_json
from core.integrity.checkpoint import SignedCheckpoint, parse_checkpoint
from core.integrity.merkle import ProofError, event_leaf_hash, verify_inclusion
from core.integrity.notes import NoteError, SignerKey, VerifierKey, parse_note, sign_note
from core.integrity.verification import LogVerifier, Problem

FORMAT = "parley-evidence/v1"
MANIFEST = "manifest.note"
CHECKPOINT = "checkpoint.note"
PROOFS = "proofs.json"


def event_file(seq: int) -> str:
    return f"events/{seq:012d}.json"


def make_bundle(*, incident_id: str, created: str, checkpoint: SignedCheckpoint, events: Mapping[int, bytes],
                proofs: Mapping[int, list[bytes]], key: SignerKey, notes: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """The files of a bundle, its manifest signed by `key` (the system key)."""
    files: dict[str, bytes] = {CHECKPOINT: checkpoint.encode().encode()}
    for seq, data in sorted(events.items()):
        files[event_file(seq)] = data
    files[PROOFS] = canonical_json({str(seq): [base64.b64encode(h).decode() for h in proofs[seq]] for seq in sorted(proofs)})
    manifest = {
        "format": FORMAT, "incident_id": incident_id, "created": created, "origin": checkpoint.checkpoint.origin,
        "tree_size": checkpoint.checkpoint.size, "notes": dict(notes or {}),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files[MANIFEST] = sign_note(canonical_json(manifest).decode() + "\n", key).encode().encode()
    return files


@dataclass(kw_only=True)
class BundleReport:
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    log_key: VerifierKey | None = None
    cosigners: list[str] = field(default_factory=list)
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(files: Mapping[str, bytes], *, log_key: VerifierKey | None = None) -> BundleReport:
    """Check every byte of a bundle; `log_key` pins the log key (else the bundle's own is reported)."""
    report = BundleReport()

    def problem(what: str, where: str = "bundle", seq: int | None = None) -> None:
        report.problems.append(Problem(seq=seq, subject=where, what=what))

    try:
        manifest_note = parse_note(files[MANIFEST].decode())
        report.manifest = json.loads(manifest_note.text)
        signed = parse_checkpoint(files[CHECKPOINT].decode())
        proofs = {int(k): [base64.b64decode(h) for h in v] for k, v in json.loads(files[PROOFS]).items()}
    except (KeyError, ValueError, UnicodeDecodeError, NoteError) as err:
        problem(f"not a readable evidence bundle: {err}")
        return report
    if report.manifest.get("format") != FORMAT:
        problem(f"unknown format {report.manifest.get('format')!r}", MANIFEST)
    listed: dict[str, str] = report.manifest.get("files", {})
    for name in sorted(set(files) | set(listed)):
        if name == MANIFEST:
            continue
        if name not in listed:
            problem("is not listed in the manifest (added after the bundle was made)", name)
        elif name not in files:
            problem("is listed in the manifest but missing", name)
        elif hashlib.sha256(files[name]).hexdigest() != listed[name]:
            problem("changed: its SHA-256 differs from the manifest", name)

    event_files = []
    for name in files:
        if name.startswith("events/"):
            stem = name[len("events/"):].removesuffix(".json")
            if stem.isdigit() and name.endswith(".json"):
                event_files.append((int(stem), name))
            else:
                problem("is not an event file (events/<sequence>.json)", name)
    event_files.sort()
    verifier = LogVerifier()
    for seq, name in event_files:
        data = files[name]
        report.events += 1
        _check_one(verifier, seq, name, data)
        proof = proofs.get(seq)
        try:
            event = json.loads(data)
            leaf = event_leaf_hash(seq, str(event.get("hash")))
            if proof is None:
                raise ProofError("no inclusion proof")
            verify_inclusion(seq - 1, signed.checkpoint.size, leaf, proof, signed.checkpoint.root)
        except (ValueError, ProofError) as err:
            problem(f"not proven to be in the log at sequence {seq}: {err}", name, seq)
    report.problems.extend(verifier.problems)

    system_keys = [k for k in verifier.keys.system_keys() if k.name == signed.checkpoint.origin]
    if log_key is not None:
        if log_key.name != signed.checkpoint.origin:
            problem(f"the pinned log key is for {log_key.name!r}, the bundle for {signed.checkpoint.origin!r}", CHECKPOINT)
        system_keys = [log_key]
    signers = signed.signers(system_keys)
    if not signers:
        problem("the checkpoint is not signed by the log key" + (" you pinned" if log_key else " published in the bundle"), CHECKPOINT)
    else:
        report.log_key = signers[0]
        if not manifest_note.signed_by(signers[0]):
            problem("the manifest is not signed by the log key", MANIFEST)
    party_keys = [p for p in verifier.keys.periods.values() if p.holder != "system"]
    for line in signed.note.signatures:
        if line.name == signed.checkpoint.origin:
            continue
        period = next((p for p in party_keys if p.key.name == line.name and p.key.id == line.key_id), None)
        if period is None or not period.key.verify(signed.note.text.encode(), line.signature):
            problem(f"co-signature by {line.name}+{line.key_id.hex()} does not verify with a key in the bundle", CHECKPOINT)
        else:
            report.cosigners.append(period.holder)
    if report.manifest.get("tree_size") != signed.checkpoint.size or report.manifest.get("origin") != signed.checkpoint.origin:
        problem("names another checkpoint than the one included", MANIFEST)
    return report


def _check_one(verifier: LogVerifier, seq: int, name: str, data: bytes) -> None:
    """An event out of a selection: its own checks and signature (not the stream's sequence)."""
    if seq <= verifier.last_seq:
        return
    verifier.last_seq = seq - 1  # a bundle holds a selection: holes between events are expected
    verifier.add(seq, name, data)
