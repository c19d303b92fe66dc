"""Private signing keys on disk, and the `Signer` that signs events with the ones held here.

Layout of the keys directory (mode 0700; default `$PARLEY_HOME/keys`):

    <holder>.key             the active key of a party (`USA.key`) or of the system (`system.key`),
                             one line in C2SP signer-key form, mode 0600
    <holder>.pub             its verifier key (public; also published as a `key` event)
    <holder>.key.pending     a key created but not yet published (never used to sign)
    retired/<holder>-<id>.key  keys that were rotated out (kept for the record, never used)

Private keys never enter the stream or the database: only the `.pub` form is published.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from adapters.settings import Settings
from core.envelope import Event
from core.integrity.keys import DECIDER, SYSTEM_HOLDER, HeldKeys, check_holder, holder_of, signs_on_clients
from core.integrity.notes import SignerKey
from core.service import CommandHandler

PENDING = ".key.pending"


@dataclass(frozen=True)
class KeyDirectory:
    path: Path

    def _ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)

    def active(self, holder: str) -> SignerKey | None:
        file = self.path / f"{check_holder(holder)}.key"
        return SignerKey.parse(file.read_text()) if file.exists() else None

    def held(self) -> dict[str, SignerKey]:
        """Every active key here, by holder."""
        if not self.path.is_dir():
            return {}
        return {file.name[: -len(".key")]: SignerKey.parse(file.read_text()) for file in sorted(self.path.glob("*.key"))}

    def create_pending(self, holder: str, name: str) -> SignerKey:
        """A new key written as `<holder>.key.pending` (0600), not yet used to sign."""
        self._ensure()
        key = SignerKey.generate(name)
        _write_private(self.path / f"{check_holder(holder)}{PENDING}", key.encode() + "\n")
        return key

    def activate(self, holder: str) -> tuple[SignerKey, SignerKey | None]:
        """Make the pending key the active one; the previous active key moves to `retired/`.
        Returns (new key, retired key or None)."""
        pending = self.path / f"{holder}{PENDING}"
        key = SignerKey.parse(pending.read_text())
        previous = self.active(holder)
        if previous is not None:
            retired = self.path / "retired"
            retired.mkdir(mode=0o700, exist_ok=True)
            os.replace(self.path / f"{holder}.key", retired / f"{holder}-{previous.verifier.id_hex}.key")
        os.replace(pending, self.path / f"{holder}.key")
        (self.path / f"{holder}.pub").write_text(key.verifier.encode() + "\n")
        return key, previous

    def import_key(self, holder: str, key: SignerKey) -> None:
        """Place an externally made key as pending (e.g. a party generated it on its own machine)."""
        self._ensure()
        _write_private(self.path / f"{check_holder(holder)}{PENDING}", key.encode() + "\n")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


#: How long a holder's published keys, as read from the log, are trusted before they are read again.
PUBLISHED_KEYS_SECONDS = 5.0

PublishedKeys = Callable[[str], Awaitable[Sequence[str]]]


class DirectorySigner:
    """`core.ports.Signer` over a key directory; re-reads it when it changes, so a key created or
    rotated with `parley keys` while the server runs is used from then on without a restart.

    `published(holder)` gives the ids of the holder's published, unretired keys (the log's `key`
    aggregate). A party with such a key but none held here signs on its clients, so `admit`
    refuses a write of it that would stay unsigned. The answer is reused for
    `PUBLISHED_KEYS_SECONDS` (per party, not per write: most parties hold no key at all): a key
    published by another process is enforced here at most that long after."""

    def __init__(self, directory: KeyDirectory, *, published: PublishedKeys | None = None,
                 published_seconds: float = PUBLISHED_KEYS_SECONDS) -> None:
        self._directory = directory
        self._stamp: int | None = None
        self._held = HeldKeys(keys={})
        self._published = published
        self._published_seconds = published_seconds
        self._known: dict[str, tuple[float, tuple[str, ...]]] = {}

    def _refresh(self) -> None:
        try:
            stamp = self._directory.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        if stamp != self._stamp:
            self._held = HeldKeys(keys=self._directory.held())
            self._stamp = stamp

    def sign(self, event: Event) -> Event:
        self._refresh()
        return self._held.sign(event)

    async def admit(self, events: Sequence[Event]) -> None:
        if self._published is None:
            return
        for event in events:
            holder = holder_of(event)
            if event.signature is None and holder != SYSTEM_HOLDER and (key_ids := await self._published_keys(holder)):
                raise signs_on_clients(holder, key_ids)

    async def _published_keys(self, holder: str) -> tuple[str, ...]:
        now = time.monotonic()
        known = self._known.get(holder)
        if known is None or known[0] <= now:
            assert self._published is not None
            known = (now + self._published_seconds, tuple(await self._published(holder)))
            self._known[holder] = known
        return known[1]


def signer_for(settings: Settings, *, published: PublishedKeys | None = None) -> DirectorySigner:
    """The signer of a process configured by `settings` (keys in PARLEY_KEYS_DIR or PARLEY_HOME/keys)."""
    from adapters.integrity.settings import AuditSettings

    return DirectorySigner(KeyDirectory(AuditSettings().keys_path(settings)), published=published)


def published_keys(handler: CommandHandler) -> PublishedKeys:
    """The holder's published, unretired key ids, folded from the log."""
    async def active(holder: str) -> tuple[str, ...]:
        state = (await handler.load(DECIDER, holder, fresh=True)).state
        return tuple(state.active) if state is not None else ()

    return active
