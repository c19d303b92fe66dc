"""`parley verify --api`: the same checks over the HTTP API, for auditors without NATS access.

The event feed serves each stored event parsed and re-rendered, so this path checks content
(hashes, chains, sequence holes, signatures, checkpoints) but cannot see a stored byte that was
changed without changing the content's meaning, such as reformatted JSON; `parley verify` against
NATS reads the stored bytes themselves.
"""

from __future__ import annotations

from typing import Callable

import httpx

from core.envelope import canonical_json
from core.integrity.checkpoint import parse_checkpoint
from core.integrity.notes import NoteError
from core.integrity.verification import LogVerifier

PAGE = 1000


class FeedError(Exception):
    """The API refused or failed a request."""


async def verify_over_http(client: httpx.AsyncClient, *, token: str,
                           progress: Callable[[int, int], None] | None = None) -> LogVerifier:
    headers = {"Authorization": f"Bearer {token}"}
    verifier = LogVerifier()
    after, last = 0, 0
    while True:
        response = await client.get("/api/v1/events", params={"after": after, "limit": PAGE}, headers=headers)
        page = _json(response, "reading the event feed")
        last = int(page["last_seq"])
        for item in page["items"]:
            event = item["event"]
            verifier.add(int(item["seq"]), f"ev.{event.get('aggtype')}.{event.get('subject')}", canonical_json(event))
        if not page["items"]:
            break
        after = int(page["next_after"])
        if progress is not None:
            progress(after, last)
    verifier.finish(last_seq=last)
    listing = _json(await client.get("/api/v1/audit/checkpoints", headers=headers), "reading the checkpoints")
    notes = []
    for item in listing["items"]:
        try:
            size = parse_checkpoint(item["note"]).checkpoint.size
        except NoteError:
            size = -1
        label = "checkpoint" if item["kind"] == "checkpoint" else f"checkpoint co-signed by {item['holder']}"
        notes.append((size, int(item["audit_seq"]), label, item["note"]))
    for _, audit_seq, label, note in sorted(notes):
        verifier.check_checkpoint(note, label=f"{label} (audit seq {audit_seq})")
    return verifier


def _json(response: httpx.Response, doing: str) -> dict:
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise FeedError(f"{doing}: HTTP {response.status_code}: {detail}")
    return response.json()
