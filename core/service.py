"""The command handler: load an aggregate, decide, seal the events, append with OCC.

How commands get current state fast: an in-process cache of each aggregate's folded state and
its last stream sequence. A cached state may be stale when another process wrote meanwhile;
the append's expected-sequence check (OCC) catches that, the entry is reloaded from the store and
the command is decided again. So the cache is an optimisation, never a source of truth: a
command can only be appended on top of the exact event its decision saw.

A command that creates its aggregate (decided on the initial state, e.g. `ReportIncident` with a
new id) is not preceded by a load when the cache has no entry: it is appended expecting
sequence 0, which the store itself checks, so an aggregate that exists after all surfaces as a
`Conflict` and the command is decided again on the loaded state. That saves a read round trip
on every new aggregate.

An aggregate this process has not cached yet may start from a `StateSource` (the SQL read
models: the state the projector folded, its last sequence and hash) instead of folding the
whole history from the stream. Such a state is treated exactly like a cached one: the append
expects its `last_seq`, so a read model that lags the stream makes the append fail with
`Conflict` and the command is decided again on the history loaded from the store; a refusal
decided on it is re-decided on the loaded history too. Idempotent retries (`retrying`) always
fold the stream, since only the stream knows every event id.

One command → one aggregate → one append. Per-aggregate locks serialise commands inside one
process so they do not conflict with each other needlessly.

A client-signed command (`signing`, `core.integrity.client_signing`) is always decided on the
history folded from the store, never on a cached state: what the client signs must be exactly what
would be appended, and a stale guess would only make its signature fail later. Its prepare returns
the sealed, unsigned events without appending; its submit attaches the client's signatures instead
of the server's, and a conflicting append is not retried (a new decision would not match them).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from core.decider import Decider, Fact
from core.envelope import Event, format_time, seal
from core.event_ids import new_event_id
from core.errors import Conflict, Rejected
from core.events import decode
from core.identity import Principal
from core.ports import AggregateRef, EventStore, Signer, StateSource

if TYPE_CHECKING:
    from core.integrity.client_signing import ClientSigning

MAX_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class Loaded:
    """An aggregate's folded state and where its history ends."""

    state: Any
    version: int = 0
    last_seq: int = 0
    last_hash: str | None = None
    #: `time` of the last event, when known (folded from the store; not from a state source).
    last_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What an accepted command did: the sealed events and the stream sequence of the last one.

    `prepared`: the events were decided and sealed for a client to sign, and not appended (`seq`
    is then the aggregate's current last sequence)."""

    aggregate_id: str
    seq: int
    events: tuple[Event, ...]
    state: Any
    duplicate: bool = False
    prepared: bool = False


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """Request-level facts stamped on every event of a command."""

    correlation_id: str | None = None
    causation_id: str | None = None
    backfilled: bool = False


class CommandHandler:
    #: Signs each sealed event for its party or the system (`core.integrity.keys.HeldKeys`); None: unsigned.
    signer: Signer | None = None

    def __init__(
        self,
        *,
        store: EventStore,
        new_id: Callable[[], str] = new_event_id,
        cache_size: int = 100_000,
        states: StateSource | None = None,
    ) -> None:
        self._store = store
        self._states = states
        self._new_id = new_id
        self._cache: OrderedDict[AggregateRef, Loaded] = OrderedDict()
        self._cache_size = cache_size
        self._locks: dict[AggregateRef, asyncio.Lock] = {}

    async def load(self, decider: Decider[Any, Any], aggregate_id: str, *, fresh: bool = False) -> Loaded:
        """The aggregate's current state: from the cache or the state source (either may be
        stale), or — `fresh` — folded from the store."""
        loaded, _ = await self._current(decider, AggregateRef(type=decider.type, id=aggregate_id), fresh=fresh)
        return loaded

    async def _current(self, decider: Decider[Any, Any], ref: AggregateRef, *, fresh: bool) -> tuple[Loaded, bool]:
        """The state to decide on, and whether it was just folded from the store (True) rather
        than taken from the cache or the state source (False: only OCC can prove it current)."""
        if not fresh:
            if (hit := self._cache.get(ref)) is not None:
                self._cache.move_to_end(ref)
                return hit, False
            if self._states is not None and (known := await self._states.snapshot(ref)) is not None:
                loaded = Loaded(state=known.state, version=known.version, last_seq=known.last_seq, last_hash=known.last_hash)
                self._remember(ref, loaded)
                return loaded, False
        loaded, _ = await self._fold(decider, ref)
        self._remember(ref, loaded)
        return loaded, True

    async def _fold(self, decider: Decider[Any, Any], ref: AggregateRef) -> tuple[Loaded, set[str]]:
        state, version, seq, last_hash, last_time, ids = decider.initial, 0, 0, None, None, set()
        for stored in await self._store.load(ref):
            envelope = stored.event
            state = decider.evolve(state, decode(envelope), Fact.of(envelope, seq=stored.seq))
            version, seq, last_hash, last_time = envelope.aggversion, stored.seq, envelope.hash, envelope.time
            ids.add(envelope.id)
        return Loaded(state=state, version=version, last_seq=seq, last_hash=last_hash, last_time=last_time), ids

    def _remember(self, ref: AggregateRef, loaded: Loaded) -> None:
        self._cache[ref] = loaded
        self._cache.move_to_end(ref)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, ref: AggregateRef) -> None:
        self._cache.pop(ref, None)

    async def execute(
        self,
        decider: Decider[Any, Any],
        aggregate_id: str,
        command: Any,
        *,
        expected_seq: int | None = None,
        event_ids: Sequence[str] = (),
        envelope: Envelope = Envelope(),
        retrying: bool = False,
        signing: ClientSigning | None = None,
    ) -> Outcome:
        """Decide `command` on the aggregate and append what it causes.

        `expected_seq` (from `If-Match`) pins the version the caller saw: any other version is a
        `Conflict`. Without it, a conflict caused by a concurrent writer is retried on fresh state.
        `event_ids` fixes the ids of the resulting events (idempotent retries); with `retrying`,
        an aggregate that already holds the first of them returns the original outcome.
        `signing`: a client signs the events (prepare: return them unappended; submit: append
        them with the client's checked signatures).
        """
        ref = AggregateRef(type=decider.type, id=aggregate_id)
        lock = self._locks.setdefault(ref, asyncio.Lock())
        async with lock:
            try:
                return await self._execute_locked(
                    decider, ref, command, expected_seq=expected_seq, event_ids=event_ids,
                    envelope=envelope, retrying=retrying, signing=signing,
                )
            finally:
                if not lock._waiters:  # type: ignore[attr-defined]
                    self._locks.pop(ref, None)

    async def _execute_locked(
        self, decider: Decider[Any, Any], ref: AggregateRef, command: Any, *,
        expected_seq: int | None, event_ids: Sequence[str], envelope: Envelope, retrying: bool,
        signing: ClientSigning | None = None,
    ) -> Outcome:
        if retrying and event_ids:
            loaded, ids = await self._fold(decider, ref)
            self._remember(ref, loaded)
            if event_ids[0] in ids:
                return Outcome(aggregate_id=ref.id, seq=loaded.last_seq, events=(), state=loaded.state, duplicate=True)
        fresh = signing is not None  # a client signs exactly what the stored history decides
        for attempt in range(1, MAX_ATTEMPTS + 1):
            created = None if fresh or expected_seq is not None else self._creates(decider, ref, command)
            if created is not None:  # appended expecting sequence 0: the store checks it is new
                loaded, domain_events = Loaded(state=decider.initial), created
            else:
                loaded, folded = await self._current(decider, ref, fresh=fresh)
                cached = not folded
                if expected_seq is not None and expected_seq != loaded.last_seq:
                    if not fresh:  # the cache may be stale: check the store before refusing
                        fresh = True
                        loaded = await self.load(decider, ref.id, fresh=True)
                    if expected_seq != loaded.last_seq:
                        raise Conflict(
                            f"the {ref.type} changed since you read it (your version {expected_seq},"
                            f" current {loaded.last_seq}); reload it and try again",
                            current_seq=loaded.last_seq,
                        )
                try:
                    domain_events = decider.decide(loaded.state, command)
                except Rejected:
                    if not cached or fresh:
                        raise
                    # a refusal decided on cached state may be stale (another process moved the
                    # aggregate on): refuse only what the current history refuses
                    fresh = True
                    loaded = await self.load(decider, ref.id, fresh=True)
                    domain_events = decider.decide(loaded.state, command)
            what = f"{ref.type} {ref.id}"
            if signing is not None:
                signing.admit(at=command.at, last_time=loaded.last_time, what=what)
            if not domain_events and (signing is None or signing.prepare):
                return Outcome(aggregate_id=ref.id, seq=loaded.last_seq, events=(), state=loaded.state,
                               prepared=signing is not None)
            sealed = self._seal(ref, loaded, domain_events, command, event_ids, envelope, signed=signing is None)
            if signing is None and self.signer is not None:
                await self.signer.admit(sealed)  # a party that signs on its clients: never unsigned
            if signing is not None:
                sealed = signing.apply(sealed, what=what, current_seq=loaded.last_seq)
                if signing.prepare:
                    return Outcome(aggregate_id=ref.id, seq=loaded.last_seq, events=tuple(sealed), state=loaded.state,
                                   prepared=True)
            try:
                seq = await self._store.append(ref, sealed, expected_seq=loaded.last_seq)
            except Conflict as conflict:
                self.forget(ref)
                if signing is not None:
                    raise Conflict(f"{what} changed since you prepared; prepare again and sign the new events",
                                   current_seq=conflict.current_seq) from conflict
                if expected_seq is not None or attempt == MAX_ATTEMPTS:
                    raise
                fresh = True
                continue
            except BaseException:
                self.forget(ref)  # the append may or may not have happened
                raise
            state = loaded.state
            for offset, (event, domain_event) in enumerate(zip(sealed, domain_events, strict=True)):
                # the decided event, not `decode(event)`: the same value (`payload()` round-trips,
                # checked on every command of the test suite: tests/conftest.py), without re-parsing
                fact = Fact.of(event, seq=seq - len(sealed) + 1 + offset)
                state = decider.evolve(state, domain_event, fact)
            self._remember(ref, Loaded(state=state, version=sealed[-1].aggversion, last_seq=seq, last_hash=sealed[-1].hash,
                                       last_time=sealed[-1].time))
            return Outcome(aggregate_id=ref.id, seq=seq, events=tuple(sealed), state=state)
        raise AssertionError("unreachable")

    def _creates(self, decider: Decider[Any, Any], ref: AggregateRef, command: Any) -> Sequence[Any] | None:
        """The events `command` causes on an aggregate without history, when the cache has no
        entry for it and it would be accepted there; else None (load, then decide)."""
        if ref in self._cache:
            return None
        try:
            return decider.decide(decider.initial, command) or None
        except Exception:  # noqa: BLE001 - decided again, for real, on the loaded state
            return None

    def _seal(
        self, ref: AggregateRef, loaded: Loaded, domain_events: Sequence[Any], command: Any,
        event_ids: Sequence[str], envelope: Envelope, *, signed: bool = True,
    ) -> list[Event]:
        by: Principal = command.by
        prevhash, version, out = loaded.last_hash, loaded.version, []
        for index, domain_event in enumerate(domain_events):
            version += 1
            event = Event(
                id=event_ids[index] if index < len(event_ids) else self._new_id(),
                type=domain_event.TYPE,
                source=by.source,
                subject=ref.id,
                time=format_time(command.at),
                aggtype=ref.type,
                aggversion=version,
                party=by.party or by.role.value,
                actor=by.actor,
                schemaversion=domain_event.SCHEMA_VERSION,
                correlationid=envelope.correlation_id,
                causationid=envelope.causation_id,
                backfilled=envelope.backfilled,
                data=domain_event.payload(),
            )
            sealed = seal(event, prevhash=prevhash)
            if signed and self.signer is not None:
                sealed = self.signer.sign(sealed)
            out.append(sealed)
            prevhash = sealed.hash
        return out
