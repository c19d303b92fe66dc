"""`parley verify` over a live JetStream: every stored message, then every published checkpoint."""

from __future__ import annotations

from contextlib import aclosing
from typing import Callable

from nats.aio.client import Client as NATS

from adapters.integrity.audit_stream import AuditLog
from adapters.jetstream.direct import DirectGet
from adapters.jetstream.store import JetStreamEventStore
from core.integrity.checkpoint import parse_checkpoint
from core.integrity.notes import NoteError
from core.integrity.verification import LogVerifier

Progress = Callable[[int, int], None]


async def verify_stream(nc: NATS, store: JetStreamEventStore, audit: AuditLog | None, *,
                        progress: Progress | None = None) -> LogVerifier:
    """Check the stream as stored (bytes, not parsed events) and the checkpoints against it."""
    spec = store.spec
    verifier = LogVerifier(subject_prefix=spec.subject_prefix)
    last = await store.last_seq()
    direct = DirectGet(nc, spec.name)
    try:
        # The last message that still exists: reading up to a deleted last sequence would wait forever.
        newest = await direct.last_for(spec.subjects)
    finally:
        await direct.close()
    end = newest.seq if newest is not None else 0
    if end:
        async with aclosing(store.read_raw(after=0, until=end)) as messages:
            async for message in messages:
                verifier.add(message.seq, message.subject, message.data)
                if progress is not None and (message.seq % 500 == 0 or message.seq == end):
                    progress(message.seq, last)
    verifier.finish(last_seq=last)
    if audit is not None:
        notes = []
        for message in await audit.all():
            label = "checkpoint" if message.subject == audit.spec.checkpoint_subject else \
                f"checkpoint co-signed by {message.subject.rsplit('.', 1)[-1]}"
            text = message.data.decode("utf-8", errors="replace")
            try:
                size = parse_checkpoint(text).checkpoint.size
            except NoteError:
                size = -1
            notes.append((size, message.seq, label, text))
        for _, audit_seq, label, text in sorted(notes):
            verifier.check_checkpoint(text, label=f"{label} (audit seq {audit_seq})")
    if progress is not None:
        progress(last, last)
    return verifier
