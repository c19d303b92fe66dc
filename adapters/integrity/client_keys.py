"""Publishing a party key the server never holds: the party signs its own events (client signing).

`parley keys create USA --public usa.pub` appends `KeyPublished` with the party's public key and
writes no private key here. If this server held a key of the party, that key is moved to
`retired/` (so the server stops signing as the party) and retired in the log after the new one is
published; from then on only the party can produce a valid USA signature, and every USA event
must be client-signed (`core.integrity.client_signing`): the server refuses USA's unsigned writes
(`keystore.DirectorySigner.admit`), and `parley verify` reports any that reached the stream.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from adapters.integrity.keystore import KeyDirectory
from core.application import Application
from core.errors import Invalid
from core.identity import Principal
from core.integrity import keys as k
from core.integrity.notes import VerifierKey


@dataclass(frozen=True, kw_only=True)
class PublicKeyChange:
    holder: str
    key: VerifierKey
    published_seq: int
    retired: VerifierKey | None = None
    retired_seq: int | None = None


async def publish_public_key(app: Application, directory: KeyDirectory, *, holder: str, key: VerifierKey,
                             by: Principal) -> PublicKeyChange:
    """Publish `key` as `holder`'s signing key without holding its private half."""
    k.check_holder(holder)
    if holder == k.SYSTEM_HOLDER:
        raise Invalid("the system key signs checkpoints on this server, so the server must hold it;"
                      " only a party key can be public-only")
    if not await app.party_exists(holder):
        raise Invalid(f"party {holder} is not registered; register it before giving it a key")
    if key.name != holder:
        raise Invalid(f"the key is named {key.name!r}; {holder}'s key must be named {holder!r}")
    published = await app.handler.execute(
        k.DECIDER, holder, k.PublishKey(holder=holder, verifier_key=key.encode(), by=by, at=app.clock.now()))
    change = PublicKeyChange(holder=holder, key=key, published_seq=published.seq)
    held = directory.active(holder)
    if held is not None and held.verifier.id_hex != key.id_hex:
        retired_dir = directory.path / "retired"
        retired_dir.mkdir(mode=0o700, exist_ok=True)
        os.replace(directory.path / f"{holder}.key", retired_dir / f"{holder}-{held.verifier.id_hex}.key")
        (directory.path / f"{holder}.pub").unlink(missing_ok=True)
        retired = await app.handler.execute(k.DECIDER, holder, k.RetireKey(
            holder=holder, key_id=held.verifier.id_hex, reason=f"{holder} signs its own events with {key.id_hex}",
            by=by, at=app.clock.now()))
        change = PublicKeyChange(holder=holder, key=key, published_seq=published.seq, retired=held.verifier,
                                 retired_seq=retired.seq)
    return change
