"""The projection: from the current states and a batch of stored events to row operations.

Pure and deterministic — no I/O, no wall clock, only event data and stream sequence — so a
rebuild on SQLite and one on PostgreSQL write the same rows. `projector.Projector` does the
I/O around it: load the `Snapshot` of the aggregates a batch touches, call `project`, apply
the `RowChanges` and move the checkpoint in one transaction.

Every event lands in the `events` index. Incident and party events are also folded with their
deciders' `evolve` into their tables. Events nobody has taught the projector yet (aggregates
without tables here, types not in `core.events`' registry) stay in the index only; a *known*
event that cannot be decoded or folded means the history is inconsistent, and that stops the
projector (`IntegrityError`) rather than write read models that contradict the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Iterable, Sequence

from core import parties as p
from core.decider import Fact
from core.envelope import Event, parse_time
from core.errors import IntegrityError
from core.events import DomainEvent, decode, known_types, upcast
from core.incidents import decider as incident_decider
from core.incidents.events import AGGREGATE as INCIDENT
from core.incidents.state import Incident
from core.ports import StoredEvent
from adapters.sql.columns import as_utc
from adapters.sql.incident_rows import Row, changes_for, timeline_row
from adapters.sql.record_rows import VIEWS

PARTY = p.AGGREGATE


@dataclass(frozen=True, kw_only=True)
class IncidentSnapshot:
    state: Incident
    last_seq: int
    version: int


@dataclass(frozen=True, kw_only=True)
class PartySnapshot:
    state: p.Party
    registered_seq: int
    last_seq: int
    version: int


@dataclass(frozen=True, kw_only=True)
class RecordSnapshot:
    """A record aggregate's state (agreement, hotline…: see `record_rows.VIEWS`)."""

    state: Any
    last_seq: int
    version: int


RecordKey = tuple[str, str]  # (aggtype, id)


@dataclass(kw_only=True)
class Snapshot:
    """The read model's current state of the aggregates one batch touches (absent: new)."""

    incidents: dict[str, IncidentSnapshot] = field(default_factory=dict)
    parties: dict[str, PartySnapshot] = field(default_factory=dict)
    records: dict[RecordKey, RecordSnapshot] = field(default_factory=dict)

    def merge(self, loaded: "Snapshot") -> None:
        self.incidents.update(loaded.incidents)
        self.parties.update(loaded.parties)
        self.records.update(loaded.records)


@dataclass(frozen=True, kw_only=True)
class Touched:
    incident_ids: frozenset[str]
    party_codes: frozenset[str]
    records: frozenset[RecordKey] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.incident_ids or self.party_codes or self.records)


@dataclass(kw_only=True)
class RowChanges:
    """Rows to insert and rows to update (full rows, keyed by primary key), by table name,
    and the states the touched aggregates are in once they are written (`after`)."""

    inserts: dict[str, list[Row]] = field(default_factory=dict)
    updates: dict[str, list[Row]] = field(default_factory=dict)
    after: Snapshot = field(default_factory=Snapshot)
    last_seq: int = 0
    last_hash: str | None = None

    def add(self, op: str, table: str, row: Row) -> None:
        target = self.inserts if op == "insert" else self.updates
        target.setdefault(table, []).append(row)


def touched(batch: Iterable[StoredEvent]) -> Touched:
    """Which incidents and parties a batch may change (what the projector must load)."""
    incident_ids: set[str] = set()
    party_codes: set[str] = set()
    records: set[RecordKey] = set()
    for stored in batch:
        aggtype = stored.event.aggtype
        if aggtype == INCIDENT:
            incident_ids.add(stored.event.subject)
        elif aggtype == PARTY:
            party_codes.add(stored.event.subject)
        elif aggtype in VIEWS:
            records.add((aggtype, stored.event.subject))
    return Touched(incident_ids=frozenset(incident_ids), party_codes=frozenset(party_codes),
                   records=frozenset(records))


class StreamGap(IntegrityError):
    """Sequences `first`…`last` were not read. The projector asks the stream whether they exist:
    if they do, the reader dropped them (e.g. a slow consumer) and reading starts again from the
    checkpoint; if they do not, history has a hole and projecting stops."""

    def __init__(self, detail: str, *, first: int, last: int) -> None:
        super().__init__(detail)
        self.first = first
        self.last = last


def check_contiguous(batch: Sequence[StoredEvent], *, after: int) -> None:
    """Raise `IntegrityError` unless the batch's sequences are `after + 1, after + 2, …`."""
    expected = after + 1
    for stored in batch:
        if stored.seq != expected:
            if stored.seq > expected:
                missing = f"{expected}" if stored.seq == expected + 1 else f"{expected}–{stored.seq - 1}"
                raise StreamGap(
                    f"the event stream has a gap: sequence {missing} is missing (next event read is"
                    f" {stored.seq}); the read models stop at {expected - 1} rather than skip history",
                    first=expected, last=stored.seq - 1,
                )
            raise IntegrityError(
                f"the event stream went backwards: expected sequence {expected}, read {stored.seq}"
            )
        expected += 1


class _Folding:
    """Working states during one batch: snapshot values, replaced as events are folded."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.incidents: dict[str, tuple[Incident | None, int, int]] = {}
        self.parties: dict[str, tuple[p.Party | None, int, int, int]] = {}
        self.records: dict[RecordKey, tuple[Any, int, int]] = {}

    def incident(self, incident_id: str) -> tuple[Incident | None, int, int]:
        if incident_id not in self.incidents:
            known = self.snapshot.incidents.get(incident_id)
            self.incidents[incident_id] = (None, 0, 0) if known is None else (known.state, known.last_seq, known.version)
        return self.incidents[incident_id]

    def party(self, code: str) -> tuple[p.Party | None, int, int, int]:
        if code not in self.parties:
            known = self.snapshot.parties.get(code)
            self.parties[code] = (
                (None, 0, 0, 0) if known is None
                else (known.state, known.registered_seq, known.last_seq, known.version)
            )
        return self.parties[code]


def project(snapshot: Snapshot, batch: Sequence[StoredEvent]) -> RowChanges:
    """The row operations that apply `batch` (contiguous, in order) on top of `snapshot`."""
    changes = RowChanges()
    folding = _Folding(snapshot)
    registry = known_types()
    for stored in batch:
        envelope = stored.event
        fact = _fact(stored)
        changes.add("insert", "events", event_row(stored, fact.time))
        if envelope.aggtype not in (INCIDENT, PARTY) and envelope.aggtype not in VIEWS:
            continue
        domain = _decode(stored, registry)
        if domain is None:
            continue
        try:
            if envelope.aggtype == INCIDENT:
                _fold_incident(folding, domain, fact, changes, envelope)
            elif envelope.aggtype == PARTY:
                _fold_party(folding, domain, fact, changes, envelope)
            else:
                _fold_record(folding, domain, fact, changes, envelope)
        except (ValueError, KeyError) as error:
            raise IntegrityError(
                f"event {stored.seq} ({envelope.type}, {envelope.aggtype} {envelope.subject}) cannot be"
                f" applied to the aggregate's history: {error}"
            ) from error
    _finish(folding, changes)
    if batch:
        changes.last_seq = batch[-1].seq
        changes.last_hash = batch[-1].event.hash
    return changes


def _fact(stored: StoredEvent) -> Fact:
    try:
        return Fact.of(stored.event, seq=stored.seq)
    except ValueError as error:
        raise IntegrityError(f"event {stored.seq} has an unreadable time {stored.event.time!r}: {error}") from error


def _decode(stored: StoredEvent, registry: dict[str, type[DomainEvent]]) -> DomainEvent | None:
    envelope = stored.event
    try:
        return decode(envelope)
    except Exception as error:  # noqa: BLE001 - classified below
        try:
            current_type, _ = upcast(envelope.type, envelope.schemaversion, dict(envelope.data))
        except Exception:  # noqa: BLE001 - an upcaster choking on the payload is a bad payload
            current_type = envelope.type
        if current_type not in registry:
            return None  # not taught to this projector yet: the events index is enough
        raise IntegrityError(f"event {stored.seq} ({envelope.type}) does not match its schema: {error}") from error


def _fold_incident(
    folding: _Folding, event: DomainEvent, fact: Fact, changes: RowChanges, envelope: Event
) -> None:
    state, _, _ = folding.incident(fact.aggregate_id)
    after = incident_decider.evolve(state, event, fact)
    folding.incidents[fact.aggregate_id] = (after, fact.seq, envelope.aggversion)
    kind = type(event)
    as_stored = envelope.type == kind.TYPE and envelope.schemaversion == kind.SCHEMA_VERSION
    data = dict(envelope.data) if as_stored else event.payload()  # upcast events show the current shape
    changes.add("insert", "incident_timeline", timeline_row(event, fact, type_=kind.TYPE, after=after, data=data))


def _fold_party(folding: _Folding, event: DomainEvent, fact: Fact, changes: RowChanges, envelope: Event) -> None:
    state, registered_seq, _, _ = folding.party(fact.aggregate_id)
    after = p.evolve(state, event, fact)
    if isinstance(event, p.PartyRegistered):
        if event.code != fact.aggregate_id:
            raise ValueError(f"party {event.code} registered on the aggregate of {fact.aggregate_id}")
        registered_seq = fact.seq
    elif isinstance(event, p.OfficerRegistered):
        changes.add("insert", "officers", {
            "party_code": after.code,
            "id": event.officer_id,
            "name": event.name,
            "registered_at": fact.time.astimezone(UTC),
            "registered_seq": fact.seq,
        })
    folding.parties[fact.aggregate_id] = (after, registered_seq, fact.seq, envelope.aggversion)


def _fold_record(folding: _Folding, event: DomainEvent, fact: Fact, changes: RowChanges, envelope: Event) -> None:
    key = (envelope.aggtype, fact.aggregate_id)
    if key not in folding.records:
        known = folding.snapshot.records.get(key)
        folding.records[key] = (None, 0, 0) if known is None else (known.state, known.last_seq, known.version)
    view = VIEWS[envelope.aggtype]
    after = view.decider.evolve(folding.records[key][0], event, fact)
    folding.records[key] = (after, fact.seq, envelope.aggversion)
    if view.feed is not None:
        row = view.feed(event, after, fact)
        if row is not None:
            changes.add("insert", "hotline_feed", {**row, "aggtype": envelope.aggtype})


def _finish_records(folding: _Folding, changes: RowChanges) -> None:
    """Each touched record aggregate: its state row, and its view rows diffed with before."""
    for key in sorted(folding.records):
        after, last_seq, version = folding.records[key]
        if after is None:
            continue
        view = VIEWS[key[0]]
        known = folding.snapshot.records.get(key)
        changes.add("update" if known else "insert", "aggregate_states", {
            "aggtype": key[0], "id": key[1], "state": view.codec.dump_python(after, mode="json"),
            "last_seq": last_seq, "version": version,
        })
        before = view.rows(known.state, known.last_seq, known.version) if known else {}
        for table, rows in view.rows(after, last_seq, version).items():
            keys = _primary_keys(table)
            old = {tuple(row[k] for k in keys): row for row in before.get(table, [])}
            for row in rows:
                previous = old.get(tuple(row[k] for k in keys))
                if previous is None:
                    changes.add("insert", table, row)
                elif previous != row:
                    changes.add("update", table, row)
        changes.after.records[key] = RecordSnapshot(state=after, last_seq=last_seq, version=version)


def _primary_keys(table: str) -> tuple[str, ...]:
    from adapters.sql import tables as t

    return tuple(c.name for c in t.metadata.tables[table].primary_key.columns)


def _finish(folding: _Folding, changes: RowChanges) -> None:
    """Write each touched aggregate once, in a stable order (sorted ids)."""
    _finish_records(folding, changes)
    for code in sorted(folding.parties):
        party, registered_seq, last_seq, version = folding.parties[code]
        if party is None:
            continue
        row = {
            "code": party.code,
            "name": party.name,
            "registered_at": party.registered_at.astimezone(UTC),
            "registered_seq": registered_seq,
            "last_seq": last_seq,
            "version": version,
        }
        changes.add("update" if code in folding.snapshot.parties else "insert", "parties", row)
        changes.after.parties[code] = PartySnapshot(
            state=party, registered_seq=registered_seq, last_seq=last_seq, version=version
        )
    for incident_id in sorted(folding.incidents):
        after, last_seq, version = folding.incidents[incident_id]
        if after is None:
            continue
        known = folding.snapshot.incidents.get(incident_id)
        for op, table, row in changes_for(
            known.state if known else None, after, last_seq=last_seq, version=version
        ):
            changes.add(op, table, row)
        changes.after.incidents[incident_id] = IncidentSnapshot(state=after, last_seq=last_seq, version=version)


def event_row(stored: StoredEvent, time: datetime | None = None) -> Row:
    """The `events` index row: the envelope's attributes (its `data` stays on the stream)."""
    envelope = stored.event
    return {
        "seq": stored.seq,
        "event_id": envelope.id,
        "type": envelope.type,
        "aggtype": envelope.aggtype,
        "aggregate_id": envelope.subject,
        "aggversion": envelope.aggversion,
        "source": envelope.source,
        "time": as_utc(time or parse_time(envelope.time)),
        "recorded": _aware(stored.recorded),
        "party": envelope.party,
        "actor": envelope.actor,
        "schemaversion": envelope.schemaversion,
        "correlationid": envelope.correlationid,
        "causationid": envelope.causationid,
        "backfilled": envelope.backfilled,
        "hash": envelope.hash,
        "prevhash": envelope.prevhash,
    }


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else as_utc(moment)  # type: ignore[return-value]
