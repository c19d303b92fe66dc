"""Client signatures: a party signs its own events, so the server never needs the party's key.

Two round trips of the same write (carried over HTTP by `adapters/http/client_signatures.py`):

1. **Prepare.** The server decides the command on the stored history and seals the events it would
   append (ids, time, aggversion, prevhash, hash), signs nothing and appends nothing. The client
   gets those events and the bytes to sign, `signed_bytes(event)`, whose SHA-256 is the event's
   `hash`, so a client can check what it signs without trusting the server's rendering.
2. **Submit.** The same command again, pinned to the prepared event ids and time, with the hash
   the client signed and its signature for each event. Deciders are pure and the ids and time are
   pinned, so an aggregate that did not change gives byte-identical events. Each event's hash must
   equal the hash the client signed (else the aggregate or the decision changed: `Conflict`,
   prepare again), and each signature must verify with a key of the event's party that is published
   and not retired now (else `Invalid`). The events are appended with the client's signatures.

A client-signed event is an ordinary signed event: `parley verify` and `verify-bundle` check it
against the party key valid at its stream position, like any other. Nothing in the event says who
computed the signature, because nothing could prove it; what proves that the server did not sign is
a party key the server never held (`parley keys create USA --public usa.pub`).

Why the time is pinned and bounded: the signature covers `time`, so the submit cannot restamp it
with the server clock. But `time` is the business time every deadline is measured with (an
acknowledgement is late or not by it), so a client must not choose it freely: a pinned time may lie
at most `SIGNING_WINDOW` behind the server clock (the time a person has to review and sign; also
the most a party can move a fact back) and at most `CLOCK_SKEW` ahead (API servers' clocks differ
a little; prepare on one, submit on another). The stream's own timestamp still records when the
event was appended, so an auditor sees the gap. And it may never lie before the aggregate's last
event: an aggregate's history is in time order (an acknowledgement cannot precede the message,
as-of replays cut an aggregate by time), which a pinned time taken before a concurrent write would
otherwise break.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from core.envelope import Event, format_time, parse_time, with_signature
from core.errors import Conflict, Invalid
from core.integrity.keys import SYSTEM_HOLDER, Keys, holder_of
from core.integrity.notes import SignerKey, VerifierKey
from core.integrity.signatures import EventSignature, signed_bytes

#: How far a pinned event time may lie behind the server clock at submit: the time to sign.
SIGNING_WINDOW = timedelta(minutes=5)
#: How far a pinned event time may lie ahead of the server clock (clock skew between API servers).
CLOCK_SKEW = timedelta(minutes=1)


def check_pinned_time(pinned: datetime, *, now: datetime) -> None:
    """Refuse a pinned event time outside [now - SIGNING_WINDOW, now + CLOCK_SKEW]."""
    if pinned.tzinfo is None:
        raise Invalid("the pinned event time must include a time zone (send the `time` the prepare returned)")
    if pinned < now - SIGNING_WINDOW:
        raise Invalid(f"the prepared event time {format_time(pinned)} is more than {_minutes(SIGNING_WINDOW)} old"
                      f" (server time {format_time(now)}): prepare again and sign within {_minutes(SIGNING_WINDOW)}")
    if pinned > now + CLOCK_SKEW:
        raise Invalid(f"the pinned event time {format_time(pinned)} is in the future (server time {format_time(now)});"
                      " send the `time` the prepare returned")


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} minutes"


@dataclass(frozen=True, kw_only=True)
class PartyKeys:
    """The keys a holder may sign with now: published and not retired."""

    holder: str
    keys: tuple[VerifierKey, ...]

    @classmethod
    def of(cls, holder: str, state: Keys | None) -> PartyKeys:
        """From the holder's `key` aggregate; refuses a holder that cannot sign its own events."""
        if holder == SYSTEM_HOLDER:
            raise Invalid("only an officer of a party signs its own events; events without a party are signed"
                          " by the server's system key")
        active = tuple(state.keys[i] for i in state.active) if state is not None else ()
        if not active:
            raise Invalid(f"{holder} has no published signing key, so a signature by {holder} cannot be checked;"
                          f" publish its public key first (parley keys create {holder} --public {holder}.pub)")
        return cls(holder=holder, keys=active)

    def describe(self) -> list[dict[str, str]]:
        return [{"name": key.name, "key_id": key.id_hex, "verifier_key": key.encode()} for key in self.keys]


@dataclass(frozen=True, kw_only=True)
class Submitted:
    """What a client sends back for one prepared event: its id, the hash it signed, its signature."""

    event_id: str
    hash: str
    signature: EventSignature


@dataclass(frozen=True, kw_only=True)
class ClientSigning:
    """How `CommandHandler.execute` seals a client-signed command instead of signing it itself.

    `submitted` None is a prepare: the sealed, unsigned events are returned and nothing is appended.
    Otherwise one `Submitted` per event, in order."""

    keys: PartyKeys
    submitted: tuple[Submitted, ...] | None = None

    @property
    def prepare(self) -> bool:
        return self.submitted is None

    def admit(self, *, at: datetime, last_time: str | None, what: str) -> None:
        """The command's time may not lie before the aggregate's last event (see the module)."""
        if last_time is not None and at < parse_time(last_time):
            raise Invalid(f"the event time {format_time(at)} lies before the last event of {what} ({last_time});"
                          " prepare again")

    def apply(self, events: Sequence[Event], *, what: str, current_seq: int) -> list[Event]:
        """The sealed `events`, each with the client's signature, after checking it (submit);
        unchanged (prepare). `Conflict`: the events differ from those the client signed."""
        for event in events:
            if holder_of(event) != self.keys.holder:
                raise Invalid(f"event {event.id} is asserted by {holder_of(event)}, not by {self.keys.holder}")
        if self.submitted is None:
            return list(events)
        changed = (f"the events decided now differ from those you signed: {what} changed since you prepared"
                   " (or the request is not the same: body, X-Correlation-Id); prepare again and sign the new events")
        if [e.id for e in events] != [s.event_id for s in self.submitted]:
            raise Conflict(f"{changed} (now {len(events)} event(s), you signed {len(self.submitted)})", current_seq=current_seq)
        out = []
        for event, submitted in zip(events, self.submitted):
            if event.hash != submitted.hash:
                raise Conflict(f"{changed} (event {event.id} now hashes to {str(event.hash)[:12]}…,"
                               f" you signed {submitted.hash[:12]}…)", current_seq=current_seq)
            out.append(with_signature(event, self._verified(event, submitted.signature).encode()))
        return out

    def _verified(self, event: Event, signature: EventSignature) -> EventSignature:
        holder = self.keys.holder
        if signature.name != holder:
            raise Invalid(f"event {event.id} is signed with a key named {signature.name!r}; events of {holder}"
                          f" must be signed with a key of {holder}")
        key = next((k for k in self.keys.keys if k.id == signature.key_id), None)
        if key is None:
            known = ", ".join(f"{k.name}+{k.id_hex}" for k in self.keys.keys)
            raise Invalid(f"event {event.id} is signed with key {signature.name}+{signature.key_id_hex}, which is not"
                          f" a published, unretired key of {holder} (valid now: {known})")
        if not key.verify(signed_bytes(event), signature.signature):
            raise Invalid(f"the signature of event {event.id} does not verify with {holder} key {key.id_hex}"
                          " (it was made over other bytes or with another private key)")
        return signature


# --- the client's side ----------------------------------------------------------------------------

def sign_prepared(prepared: Mapping[str, Any], key: SignerKey) -> list[EventSignature]:
    """Sign the events of a prepare response with `key`, after checking each one: its `hash` is
    the SHA-256 of its canonical bytes, those are the bytes offered for signing, and it is asserted
    by the party the key belongs to. The client signs bytes it computed itself, never the server's."""
    items = prepared.get("events")
    if not isinstance(items, list) or not items:
        raise Invalid("the prepare response holds no events to sign")
    out = []
    for item in items:
        event = item.get("event") if isinstance(item, Mapping) else None
        if not isinstance(event, Mapping):
            raise Invalid("each prepared item must hold the `event` to sign")
        body = signed_bytes(event)
        if hashlib.sha256(body).hexdigest() != event.get("hash"):
            raise Invalid(f"event {event.get('id')}: its hash does not match its content; do not sign it")
        offered = item.get("signed_bytes")
        if offered is not None and base64.b64decode(str(offered)) != body:
            raise Invalid(f"event {event.get('id')}: the bytes offered for signing are not the event's canonical bytes")
        if holder_of(event) != key.name:
            raise Invalid(f"event {event.get('id')} is asserted by {holder_of(event)}; this is a key of {key.name}")
        out.append(EventSignature(name=key.name, key_id=key.verifier.id, signature=key.sign(body)))
    return out


def signatures_header(signatures: Sequence[EventSignature]) -> str:
    """The `Parley-Signature` value: one `<key name> <base64>` per event, in order, comma-separated."""
    return ", ".join(signature.encode() for signature in signatures)
