"""Making an evidence bundle (`core.integrity.bundle`) from the live stream.

Which events: every *whole* aggregate that bears on the incident, up to the checkpoint — the
incident itself; the parties named in it; every aggregate with an event that mentions the
incident's id (hotline messages, inspections, …); the agreements (the terms in force); and every
key event (the public keys the signatures are checked with). Whole aggregates so each hash chain
can be checked from its first event.
"""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import aclosing
from datetime import datetime

from adapters.integrity.audit_stream import AuditLog
from adapters.integrity.log_tree import LogTree
from adapters.integrity.notary import Notary
from adapters.jetstream.store import JetStreamEventStore
from core.envelope import format_time
from core.errors import NotFound
from core.integrity import bundle
from core.integrity.checkpoint import SignedCheckpoint, parse_checkpoint
from core.integrity.notes import Note, NoteError, SignerKey

ALWAYS = ("key", "agreement")


async def build_evidence(*, store: JetStreamEventStore, audit: AuditLog, key: SignerKey, origin: str,
                         incident_id: str, now: datetime) -> dict[str, bytes]:
    tree = LogTree(store)
    seqs: dict[tuple[str, str], list[int]] = {}
    wanted: set[tuple[str, str]] = set()
    parties: set[str] = set()
    needle = json.dumps(incident_id).encode()
    async with aclosing(store.read_raw()) as messages:
        async for message in messages:
            tree.add(message.seq, message.subject, message.data)
            event = json.loads(message.data)
            aggregate = (str(event["aggtype"]), str(event["subject"]))
            seqs.setdefault(aggregate, []).append(message.seq)
            if aggregate == ("incident", incident_id):
                wanted.add(aggregate)
                parties.add(str(event.get("party")))
                parties.update(str(p) for p in (event.get("data") or {}).get("parties", []) or [])
            elif aggregate[0] in ALWAYS or needle in message.data:
                wanted.add(aggregate)
    if ("incident", incident_id) not in wanted:
        raise NotFound(f"incident {incident_id} has no events in the log")
    wanted.update(("party", code) for code in parties if ("party", code) in seqs)
    checkpoint = await _covering_checkpoint(tree, audit, key, origin)
    size = checkpoint.checkpoint.size
    selected = sorted(seq for aggregate in wanted for seq in seqs[aggregate] if seq <= size)
    events: dict[int, bytes] = {}
    for seq in selected:
        raw = await store.get_raw(seq)
        if raw is None:
            raise NotFound(f"sequence {seq} disappeared from the stream while the bundle was made")
        events[seq] = raw.data
    proofs = {seq: tree.tree.inclusion_proof(seq - 1, size) for seq in selected}
    return bundle.make_bundle(
        incident_id=incident_id, created=format_time(now), checkpoint=checkpoint, events=events, proofs=proofs, key=key,
        notes={"selection": "whole aggregates: the incident, its parties, aggregates mentioning it, agreements, keys"},
    )


async def _covering_checkpoint(tree: LogTree, audit: AuditLog, key: SignerKey, origin: str) -> SignedCheckpoint:
    """The latest checkpoint when it covers the whole tree (with every co-signature of it);
    otherwise a new one, published like the notary's."""
    latest = await audit.latest_checkpoint() if await audit.exists() else None
    if latest is not None:
        signed = parse_checkpoint(latest)
        if signed.checkpoint.size == tree.size and tree.tree.root(tree.size) == signed.checkpoint.root:
            return _with_cosignatures(signed, await audit.all())
    notary = Notary(tree=tree, audit=audit, key=key, origin=origin)
    await audit.ensure()
    return await notary.publish()


def _with_cosignatures(signed: SignedCheckpoint, messages: list) -> SignedCheckpoint:  # noqa: ANN001
    lines = list(signed.note.signatures)
    for message in messages:
        try:
            other = parse_checkpoint(message.data.decode())
        except (NoteError, UnicodeDecodeError):
            continue
        if other.checkpoint == signed.checkpoint:
            lines.extend(s for s in other.note.signatures if s not in lines)
    return SignedCheckpoint(checkpoint=signed.checkpoint, note=Note(text=signed.note.text, signatures=tuple(lines)))


def to_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def from_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
