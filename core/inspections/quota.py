"""Quota state at decision time, and which refusal grounds it supports.

A reply (accept or refuse) is decided on a `QuotaUse` snapshot — the receiving party's visits
of that kind in the quota year that count, those from the same requester, those in progress and
the units it reported — taken by the application from the ledger (`core.inspections.ledger`) and
passed in the command, because a decider cannot look anything up. The reply event records the
snapshot with the limits it implies (`QuotaState`), so anyone can recompute from the event alone
whether a stated ground held, without replaying the rest of the year.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from core.inspections.terms import VisitTerms


class Ground(StrEnum):
    QUOTA_EXHAUSTED = "quota_exhausted"
    SAME_REQUESTER_CAP = "same_requester_cap"
    CONCURRENT_VISIT = "concurrent_visit"
    FORCE_MAJEURE = "force_majeure"
    OTHER = "other"


#: Grounds the quota state can prove or disprove; the others are the refusing party's word.
CHECKABLE = frozenset({Ground.QUOTA_EXHAUSTED, Ground.SAME_REQUESTER_CAP, Ground.CONCURRENT_VISIT})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuotaUse(_Model):
    """What the ledger knew at `as_of`: ids of the receiving party's visits of this kind and quota
    year under this agreement that count against its quota (accepted, not prevented by force
    majeure nor prohibited), the subset from the requesting party, those accepted and not yet
    completed, and the units it reported for the year (evaluation visits)."""

    as_of: datetime
    counted: tuple[str, ...] = ()
    from_requester: tuple[str, ...] = ()
    in_progress: tuple[str, ...] = ()
    reported_units: int | None = None


class Limits(_Model):
    quota: int | None
    per_requester_cap: int | None
    concurrent_limit: int | None


def limits(terms: VisitTerms, *, receiving_party: str, reported_units: int | None) -> Limits:
    if terms.units_quota is not None:
        quota = terms.units_quota.quota(reported_units)
        cap: int | None = terms.units_quota.requester_cap(quota)
    else:
        quota = terms.passive_quotas.get(receiving_party, terms.passive_quota)
        cap = terms.per_requester_cap
    return Limits(quota=quota, per_requester_cap=cap, concurrent_limit=terms.concurrent_limit)


class QuotaState(_Model):
    """Recorded in every reply: the quota year, the terms version that set the limits, the
    limits, the use behind them (ids, so each can be checked) and the grounds that held."""

    year: int
    terms_version: int
    as_of: datetime
    quota: int | None
    per_requester_cap: int | None
    concurrent_limit: int | None
    reported_units: int | None = None
    used: int
    used_by_requester: int
    in_progress: int
    counted: list[str] = Field(default_factory=list)
    from_requester: list[str] = Field(default_factory=list)
    in_progress_ids: list[str] = Field(default_factory=list)
    grounds_holding: list[Ground] = Field(default_factory=list)

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(self.quota - self.used, 0)

    def holds(self, ground: Ground) -> bool | None:
        """Whether `ground` held at decision time; None when the quota state cannot tell."""
        if ground not in CHECKABLE:
            return None
        return ground in self.grounds_holding


def state(terms: VisitTerms, use: QuotaUse, *, year: int, terms_version: int, receiving_party: str) -> QuotaState:
    found = limits(terms, receiving_party=receiving_party, reported_units=use.reported_units)
    used, mine, running = len(use.counted), len(use.from_requester), len(use.in_progress)
    holding = [ground for ground, held in (
        (Ground.QUOTA_EXHAUSTED, found.quota is not None and used >= found.quota),
        (Ground.SAME_REQUESTER_CAP, found.per_requester_cap is not None and mine >= found.per_requester_cap),
        (Ground.CONCURRENT_VISIT, found.concurrent_limit is not None and running >= found.concurrent_limit),
    ) if held]
    return QuotaState(
        year=year, terms_version=terms_version, as_of=use.as_of, quota=found.quota,
        per_requester_cap=found.per_requester_cap, concurrent_limit=found.concurrent_limit,
        reported_units=use.reported_units, used=used, used_by_requester=mine, in_progress=running,
        counted=sorted(use.counted), from_requester=sorted(use.from_requester),
        in_progress_ids=sorted(use.in_progress), grounds_holding=holding,
    )
