"""Signing keys as events: the `key` aggregate (one per holder), and which key was valid when.

A key's *holder* is a party code (its officers' events are signed with it, and it co-signs
checkpoints as a witness) or `system` (the server: admin and system events, and the log's
checkpoints). Publishing and retiring keys are events on `<prefix>.ev.key.<holder>`, so the
key history is part of the history it protects, and every copy of the log carries it.

Validity is by stream position: a key may sign the events stored after its `KeyPublished` and
before its `KeyRetired`. Positions, not clocks, because they are what an auditor can check
without trusting anyone's clock; the times in the events record when that happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping, Sequence

from core.decider import Decider, Fact
from core.envelope import Event, format_time
from core.errors import Invalid, Rejected
from core.events import DomainEvent, register
from core.identity import PARTY_CODE, Principal, Role
from core.integrity.notes import NoteError, SignerKey, VerifierKey
from core.integrity.signatures import sign_event

AGGREGATE = "key"
SYSTEM_HOLDER = "system"


def holder_of(event: Event | Mapping[str, Any]) -> str:
    """Whose key signs `event`: its party when a party asserted it, else the system."""
    party = event.party if isinstance(event, Event) else str(event.get("party", ""))
    return party if PARTY_CODE.match(party) else SYSTEM_HOLDER


def check_holder(holder: str) -> str:
    if holder != SYSTEM_HOLDER and not PARTY_CODE.match(holder):
        raise Invalid(f"a key belongs to a party code (e.g. USA) or to {SYSTEM_HOLDER!r}, not {holder!r}")
    return holder


# --- events ------------------------------------------------------------------------------------

@register
class KeyPublished(DomainEvent):
    TYPE = "parley.key.published.v1"
    holder: str
    name: str
    key_id: str
    algorithm: str = "ed25519"
    verifier_key: str  # C2SP verifier key string: <name>+<key id>+<base64(0x01 || public key)>
    valid_from: str


@register
class KeyRetired(DomainEvent):
    TYPE = "parley.key.retired.v1"
    holder: str
    key_id: str
    valid_until: str
    reason: str = ""


# --- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class PublishKey:
    holder: str
    verifier_key: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RetireKey:
    holder: str
    key_id: str
    reason: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Keys:
    """The key history of one holder: key id -> (verifier key, retired?)."""

    holder: str
    keys: dict[str, VerifierKey] = field(default_factory=dict)
    retired: frozenset[str] = frozenset()

    @property
    def active(self) -> list[str]:
        return [key_id for key_id in self.keys if key_id not in self.retired]


def decide(state: Keys | None, command: PublishKey | RetireKey) -> list[DomainEvent]:
    command.by.require(Role.ADMIN, Role.SYSTEM)
    holder = check_holder(command.holder)
    match command:
        case PublishKey():
            try:
                key = VerifierKey.parse(command.verifier_key)
            except NoteError as err:
                raise Invalid(f"the public key cannot be read: {err}") from None
            if state is not None and key.id_hex in state.keys:
                raise Rejected(f"key {key.id_hex} of {holder} is already published")
            return [KeyPublished(holder=holder, name=key.name, key_id=key.id_hex, verifier_key=key.encode(),
                                 valid_from=format_time(command.at))]
        case RetireKey():
            if state is None or command.key_id not in state.keys:
                raise Rejected(f"{holder} has no published key {command.key_id}")
            if command.key_id in state.retired:
                raise Rejected(f"key {command.key_id} of {holder} is already retired")
            return [KeyRetired(holder=holder, key_id=command.key_id, valid_until=format_time(command.at),
                               reason=command.reason[:200])]
    raise Invalid(f"unknown key command {type(command).__name__}")


def evolve(state: Keys | None, event: DomainEvent, fact: Fact) -> Keys:
    match event:
        case KeyPublished():
            current = state or Keys(holder=event.holder)
            return replace(current, keys={**current.keys, event.key_id: VerifierKey.parse(event.verifier_key)})
        case KeyRetired() if state is not None:
            return replace(state, retired=state.retired | {event.key_id})
    raise ValueError(f"{type(event).__name__} cannot apply to key state {state!r}")


DECIDER: Decider[Keys, PublishKey | RetireKey] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)


# --- validity over the log ----------------------------------------------------------------------

@dataclass(kw_only=True)
class KeyPeriod:
    holder: str
    key: VerifierKey
    published_seq: int
    retired_seq: int | None = None

    def valid_at(self, seq: int) -> bool:
        return self.published_seq < seq and (self.retired_seq is None or seq < self.retired_seq)


class KeyRing:
    """Every key the log has published so far, and from/until which sequence it was valid.

    Fed the events in stream order (`observe`), it answers "which key of this holder could sign
    the event at this sequence". Verifiers use it; so does an evidence bundle's offline check.
    """

    def __init__(self) -> None:
        self.periods: dict[tuple[str, str], KeyPeriod] = {}

    def observe(self, seq: int, event: Mapping[str, Any]) -> str | None:
        """Take note of a key event; returns a problem description when it is malformed."""
        if event.get("aggtype") != AGGREGATE:
            return None
        data = event.get("data") or {}
        try:
            if event.get("type") == KeyPublished.TYPE:
                key = VerifierKey.parse(str(data["verifier_key"]))
                holder = str(data["holder"])
                self.periods.setdefault((holder, key.id_hex), KeyPeriod(holder=holder, key=key, published_seq=seq))
            elif event.get("type") == KeyRetired.TYPE:
                period = self.periods.get((str(data["holder"]), str(data["key_id"])))
                if period is None:
                    return f"retires key {data['key_id']} that {data['holder']} never published"
                if period.retired_seq is None:
                    period.retired_seq = seq
        except (KeyError, NoteError) as err:
            return f"key event cannot be read: {err}"
        return None

    def key(self, holder: str, key_id_hex: str) -> KeyPeriod | None:
        return self.periods.get((holder, key_id_hex))

    def holder_has_key(self, holder: str, seq: int) -> bool:
        return any(p.holder == holder and p.valid_at(seq) for p in self.periods.values())

    def verifier_keys(self) -> list[VerifierKey]:
        return [p.key for p in self.periods.values()]

    def system_keys(self) -> list[VerifierKey]:
        return [p.key for p in self.periods.values() if p.holder == SYSTEM_HOLDER]


def signs_on_clients(holder: str, key_ids: Sequence[str]) -> Invalid:
    """The refusal of a server-side write for a party that signs its own events."""
    keys = ", ".join(key_ids)
    return Invalid(f"{holder} signs its own events (its published key {keys} is not held by this server), so this"
                   f" write would be stored unsigned in {holder}'s name: prepare it, sign it with {holder}'s key"
                   " and submit it (docs/key-management.md, \"Signing on the client\")")


@dataclass(frozen=True, kw_only=True)
class HeldKeys:
    """The private keys this server holds, by holder: the `core.ports.Signer` the command handler
    uses. An event whose holder has no key here stays unsigned, unless `client_held` names the
    holder: its published keys are held by its own officers, and `admit` refuses the write."""

    keys: Mapping[str, SignerKey]
    #: Holders that sign on their clients -> the ids of their published, unretired keys.
    client_held: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def sign(self, event: Event) -> Event:
        key = self.keys.get(holder_of(event))
        return sign_event(event, key) if key is not None else event

    async def admit(self, events: Sequence[Event]) -> None:
        for event in events:
            holder = holder_of(event)
            if event.signature is None and (key_ids := self.client_held.get(holder)):
                raise signs_on_clients(holder, key_ids)
