"""Creating, rotating and retiring signing keys: a key file on disk plus a `key` event.

The order matters for `parley verify`: the new private key is written as *pending* (never used to
sign), its public key is appended as `KeyPublished`, and only then does the key become active
(`<holder>.key`); so no event is signed by a key the log does not know yet. Rotating publishes
the new key first, then retires the old one (`KeyRetired`).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.integrity.keystore import KeyDirectory
from core.application import Application
from core.errors import Invalid
from core.identity import Principal
from core.integrity import keys as k
from core.integrity.keys import SYSTEM_HOLDER
from core.integrity.notes import SignerKey


@dataclass(frozen=True, kw_only=True)
class KeyChange:
    holder: str
    key: SignerKey
    published_seq: int
    retired: SignerKey | None = None
    retired_seq: int | None = None


def key_name(holder: str, origin: str) -> str:
    """The system key is named like the checkpoint origin (C2SP); a party key like the party."""
    return origin if holder == SYSTEM_HOLDER else holder


async def create_key(app: Application, directory: KeyDirectory, *, holder: str, origin: str, by: Principal,
                     imported: SignerKey | None = None) -> KeyChange:
    """Create (or rotate) `holder`'s key: pending file, `KeyPublished`, active file, `KeyRetired` of the old one."""
    k.check_holder(holder)
    if holder != SYSTEM_HOLDER and not await app.party_exists(holder):
        raise Invalid(f"party {holder} is not registered; register it before giving it a key")
    name = key_name(holder, origin)
    if imported is not None:
        if imported.name != name:
            raise Invalid(f"the key is named {imported.name!r}; {holder}'s key must be named {name!r}")
        directory.import_key(holder, imported)
        key = imported
    else:
        key = directory.create_pending(holder, name)
    published = await app.handler.execute(
        k.DECIDER, holder, k.PublishKey(holder=holder, verifier_key=key.verifier.encode(), by=by, at=app.clock.now()))
    key, previous = directory.activate(holder)
    change = KeyChange(holder=holder, key=key, published_seq=published.seq)
    if previous is not None and previous.verifier.id_hex != key.verifier.id_hex:
        retired = await app.handler.execute(k.DECIDER, holder, k.RetireKey(
            holder=holder, key_id=previous.verifier.id_hex, reason=f"rotated to {key.verifier.id_hex}", by=by, at=app.clock.now()))
        change = KeyChange(holder=holder, key=key, published_seq=published.seq, retired=previous, retired_seq=retired.seq)
    return change


async def retire_key(app: Application, *, holder: str, key_id: str, reason: str, by: Principal) -> int:
    outcome = await app.handler.execute(
        k.DECIDER, holder, k.RetireKey(holder=holder, key_id=key_id, reason=reason, by=by, at=app.clock.now()))
    return outcome.seq


async def published_keys(app: Application, holder: str) -> k.Keys | None:
    return (await app.handler.load(k.DECIDER, holder, fresh=True)).state
