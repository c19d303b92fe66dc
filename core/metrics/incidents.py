"""Incident metrics (docs/metrics.md §0, §6, §7): counts for analysts, the reporter's timeliness,
and the counterparty's responsiveness.

Counts read the reporter's account as it stood at the as-of moment; timeliness reads the account
as first filed (amending the end time later does not make a late report punctual).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

from core.agreements.terms import IncidentTerms
from core.metrics import METRICS_VERSION
from core.metrics.figures import Latency, Rate, latency, rate
from core.metrics.records import IncidentRecord, known
from core.metrics.scope import Scope

UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class IncidentDeadlines:
    """The incident clocks of docs/metrics.md §6–§7; by default those of `IncidentTerms()`."""

    report_within: timedelta
    acknowledge_within: timedelta
    counter_account_within: timedelta

    @classmethod
    def of(cls, terms: IncidentTerms | None = None) -> "IncidentDeadlines":
        terms = terms or IncidentTerms()
        return cls(report_within=terms.report_within, acknowledge_within=terms.acknowledge_within,
                   counter_account_within=terms.counter_account_within)


@dataclass(frozen=True, kw_only=True)
class IncidentFilter:
    """Narrows the counts; every given criterion must hold (empty tuple: no restriction)."""

    kinds: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    reporters: tuple[str, ...] = ()
    include_retracted: bool = False


@dataclass(frozen=True, kw_only=True)
class IncidentCounts:
    metric: str
    total: int
    ids: tuple[str, ...]
    by_party: dict[str, int]
    by_ordered_pair: dict[str, int]  # "INITIATOR->OTHER"; "unknown->OTHER" when the initiator is unknown
    by_unordered_pair: dict[str, int]  # "A-B", codes sorted
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    by_status: dict[str, int]
    casualties_known: int
    casualties_unknown: int
    casualties_total: int  # sum over the incidents whose casualties are known
    version: str = METRICS_VERSION
    filters: dict[str, object] = field(default_factory=dict)


def incident_counts(
    incidents: Iterable[IncidentRecord], scope: Scope, *, where: IncidentFilter = IncidentFilter(),
) -> IncidentCounts:
    """§0: incidents whose start (reporter's account at as-of) falls in the window, reported by as-of.

    `scope.party` keeps incidents involving that party; with `scope.counterpart`, involving both.
    """
    chosen: list[tuple[IncidentRecord, str, str, int, int | None]] = []
    for incident in incidents:
        if incident.reported_at > scope.as_of:
            continue
        account = incident.account(incident.reporter, scope.as_of)
        if account is None or not scope.window.holds(account.started_at):
            continue
        status = incident.status(scope.as_of)
        if (scope.party is not None and scope.party not in incident.parties) or (
                scope.counterpart is not None and scope.counterpart not in incident.parties):
            continue
        if (status == "retracted" and not where.include_retracted) or (where.statuses and status not in where.statuses):
            continue
        if (where.kinds and account.kind not in where.kinds) or (where.severities and account.severity not in where.severities):
            continue
        if where.reporters and incident.reporter not in where.reporters:
            continue
        chosen.append((incident, account.initiator, account.kind, account.severity, account.casualties))
    by_party: Counter[str] = Counter()
    ordered: Counter[str] = Counter()
    unordered: Counter[str] = Counter()
    for incident, initiator, *_ in chosen:
        by_party.update(set(incident.parties))
        for a, b in combinations(sorted(set(incident.parties)), 2):
            unordered[f"{a}-{b}"] += 1
        source = initiator if initiator in incident.parties else UNKNOWN
        for other in sorted(set(incident.parties) - {source}):
            ordered[f"{source}->{other}"] += 1
    known_casualties = [c for *_, c in chosen if c is not None]
    return IncidentCounts(
        metric="incident_counts", total=len(chosen), ids=tuple(sorted(i.id for i, *_ in chosen)),
        by_party=dict(sorted(by_party.items())), by_ordered_pair=dict(sorted(ordered.items())),
        by_unordered_pair=dict(sorted(unordered.items())),
        by_kind=dict(sorted(Counter(k for _, _, k, _, _ in chosen).items())),
        by_severity={str(s): n for s, n in sorted(Counter(s for *_, s, _ in chosen).items())},
        by_status=dict(sorted(Counter(i.status(scope.as_of) for i, *_ in chosen).items())),
        casualties_known=len(known_casualties), casualties_unknown=len(chosen) - len(known_casualties),
        casualties_total=sum(known_casualties),
        filters={k: v for k, v in vars(where).items() if v not in ((), False)},
    )


@dataclass(frozen=True, kw_only=True)
class Timeliness:
    share: Rate  # reported within `report_within` of the end
    delay: Latency  # report time − end time, seconds (never censored: an unreported incident is unknown)
    version: str = METRICS_VERSION


def reporting_timeliness(
    incidents: Iterable[IncidentRecord], scope: Scope, *, deadlines: IncidentDeadlines | None = None,
) -> Timeliness:
    """§6: over incidents reported by `scope.party` in the window (naming `scope.counterpart`)."""
    deadlines = deadlines or IncidentDeadlines.of()
    delays: list[tuple[str, float]] = []
    for incident in incidents:
        if incident.reported_at > scope.as_of or not scope.window.holds(incident.reported_at):
            continue
        if scope.party is not None and incident.reporter != scope.party:
            continue
        if scope.counterpart is not None and scope.counterpart not in incident.parties:
            continue
        first = incident.first_account(incident.reporter)
        if first is None:
            continue
        delays.append((incident.id, (incident.reported_at - first.ended_at).total_seconds()))
    limit = deadlines.report_within.total_seconds()
    return Timeliness(
        share=rate("reporting_timeliness", ((i, d <= limit) for i, d in delays)),
        delay=latency("reporting_delay", delays),
    )


def _met(moment: datetime | None, due: datetime, as_of: datetime) -> bool:
    done = known(moment, as_of)
    return done is not None and done <= due


def counterparty_responsiveness(
    incidents: Iterable[IncidentRecord], scope: Scope, *, deadlines: IncidentDeadlines | None = None,
) -> Rate:
    """§7: for each incident reported by another party and involving `scope.party`, did that party
    acknowledge within `acknowledge_within` and file its own account within
    `counter_account_within` of the report? Counted once both deadlines have passed; record id
    `incident/party`. Breakdown: `acknowledged` and `counter_account` separately.
    """
    deadlines = deadlines or IncidentDeadlines.of()
    both: list[tuple[str, bool]] = []
    acks: list[tuple[str, bool]] = []
    accounts: list[tuple[str, bool]] = []
    for incident in incidents:
        if not scope.window.holds(incident.reported_at):
            continue
        ack_due = incident.reported_at + deadlines.acknowledge_within
        account_due = incident.reported_at + deadlines.counter_account_within
        last_due = max(ack_due, account_due)
        if last_due > scope.as_of:
            continue
        retracted = incident.retracted_at(scope.as_of)
        if retracted is not None and retracted < last_due:
            continue  # withdrawn before the counterparty's time was up: no obligation survives
        for party in incident.parties:
            if party == incident.reporter or not scope.pair(party, incident.reporter):
                continue
            first = incident.first_account(party)
            acked = _met(incident.acknowledged_at(party, scope.as_of), ack_due, scope.as_of)
            filed = _met(first.recorded_at if first else None, account_due, scope.as_of)
            key = f"{incident.id}/{party}"
            both.append((key, acked and filed))
            acks.append((key, acked))
            accounts.append((key, filed))
    return rate("counterparty_responsiveness", both, breakdown={
        "acknowledged": rate("counterparty_acknowledged", acks),
        "counter_account": rate("counterparty_counter_account", accounts),
    })
