"""The quota ledger: every visit's status over time and every units report, folded from events.

Pure (`Ledger.apply` takes decoded events with their envelope facts), so the same fold answers a
reply's `QuotaUse`, the quota status of a party and year **as of any moment** (by business time,
so a past date shows what was true then, not now), and a unit test. `StreamLedger` keeps one
`Ledger` up to date from an `EventStore`, reading only the events appended since its last call,
so the application's snapshot at a reply includes every visit accepted up to that append.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from core.agreements.terms import TermsVersion
from core.decider import Fact
from core.events import DomainEvent, decode
from core.inspections import decider as visits
from core.inspections import notifications
from core.inspections.quota import QuotaState, QuotaUse, state as quota_state
from core.inspections.state import COUNTING, IN_PROGRESS, Visit
from core.inspections.terms import Kind
from core.ports import EventStore


@dataclass(kw_only=True)
class _Timeline:
    """One visit's states, each from the business time of the event that produced it."""

    states: list[tuple[datetime, Visit]] = field(default_factory=list)

    def at(self, moment: datetime) -> Visit | None:
        found = None
        for when, visit in self.states:
            if when <= moment:
                found = visit
        return found


@dataclass(frozen=True, kw_only=True)
class KindStatus:
    """The quota status of one party, kind and agreement in a year, as of a moment."""

    agreement_id: str
    kind: Kind
    quota: QuotaState
    by_requester: dict[str, int]


class Ledger:
    def __init__(self) -> None:
        self._visits: dict[str, _Timeline] = {}
        self._units: dict[tuple[str, str, int], list[tuple[datetime, int]]] = {}

    def apply(self, event: DomainEvent, fact: Fact) -> None:
        if isinstance(event, notifications.UnitsReported):
            self._units.setdefault((event.agreement_id, event.party, event.year), []).append((fact.time, event.units))
            return
        if type(event).TYPE.startswith("parley.inspection."):
            timeline = self._visits.setdefault(fact.aggregate_id, _Timeline())
            last = timeline.states[-1][1] if timeline.states else None
            timeline.states.append((fact.time, visits.evolve(last, event, fact)))

    def units(self, agreement_id: str, party: str, year: int, *, as_of: datetime) -> int | None:
        """The latest units report for the year made at or before `as_of` (of two at the same
        moment, the later in the stream)."""
        latest: tuple[datetime, int] | None = None
        for when, units in self._units.get((agreement_id, party, year), []):
            if when <= as_of and (latest is None or when >= latest[0]):
                latest = (when, units)
        return None if latest is None else latest[1]

    def visits(self, *, as_of: datetime) -> list[Visit]:
        out = []
        for timeline in self._visits.values():
            visit = timeline.at(as_of)
            if visit is not None:
                out.append(visit)
        return out

    def use(self, *, agreement_id: str, kind: Kind, receiving_party: str, requesting_party: str, year: int,
            as_of: datetime, excluding: str | None = None) -> QuotaUse:
        counted, mine, running = [], [], []
        for visit in self.visits(as_of=as_of):
            if (visit.id == excluding or visit.agreement_id != agreement_id or visit.kind != kind
                    or visit.receiving_party != receiving_party):
                continue
            if visit.status in IN_PROGRESS:
                running.append(visit.id)  # whatever its year: "one visit at a time"
            if visit.quota_year != year or visit.status not in COUNTING:
                continue
            counted.append(visit.id)
            if visit.requesting_party == requesting_party:
                mine.append(visit.id)
        return QuotaUse(as_of=as_of, counted=tuple(sorted(counted)), from_requester=tuple(sorted(mine)),
                        in_progress=tuple(sorted(running)),
                        reported_units=self.units(agreement_id, receiving_party, year, as_of=as_of))

    def status(self, party: str, year: int, *, as_of: datetime,
               terms_of: dict[str, TermsVersion]) -> list[KindStatus]:
        """Quota status of `party` for `year` under each agreement in `terms_of` (agreement id →
        the terms version in force at `as_of`), one row per kind."""
        out: list[KindStatus] = []
        for agreement_id in sorted(terms_of):
            version = terms_of[agreement_id].version
            regime = terms_of[agreement_id].terms.inspection_terms()
            for kind in Kind:
                use = self.use(agreement_id=agreement_id, kind=kind, receiving_party=party, requesting_party="",
                               year=year, as_of=as_of)
                by_requester: dict[str, int] = {}
                for visit in self.visits(as_of=as_of):
                    if visit.id in use.counted:
                        by_requester[visit.requesting_party] = by_requester.get(visit.requesting_party, 0) + 1
                recorded = quota_state(regime.of(kind), use, year=year, terms_version=version, receiving_party=party)
                out.append(KindStatus(agreement_id=agreement_id, kind=kind, quota=recorded,
                                      by_requester=dict(sorted(by_requester.items()))))
        return out


#: Aggregate types whose events the ledger folds.
FOLDED = frozenset({visits.AGGREGATE, notifications.AGGREGATE})


class StreamLedger:
    """`Ledger` kept current from an event store; `quota_use` is the application's port."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._ledger = Ledger()
        self._after = 0
        self._lock = asyncio.Lock()

    async def current(self) -> Ledger:
        async with self._lock:
            async for stored in self._store.read(after=self._after):
                envelope = stored.event
                if envelope.aggtype in FOLDED:
                    self._ledger.apply(decode(envelope), Fact.of(envelope, seq=stored.seq))
                self._after = stored.seq
            return self._ledger

    async def quota_use(self, *, agreement_id: str, kind: Kind, receiving_party: str, requesting_party: str,
                        year: int, as_of: datetime, excluding: str | None = None) -> QuotaUse:
        ledger = await self.current()
        return ledger.use(agreement_id=agreement_id, kind=kind, receiving_party=receiving_party,
                          requesting_party=requesting_party, year=year, as_of=as_of, excluding=excluding)


__all__ = ["FOLDED", "KindStatus", "Ledger", "StreamLedger"]
