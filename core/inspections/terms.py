"""The inspection regime's terms: clocks, team sizes, quotas and notice rules, as data.

They live in an agreement's versioned `Terms.inspections` (a plain dict, so the agreement module
need not know this regime) and are parsed here; an empty dict means the defaults below, which are
the Vienna Document / Open Skies figures of shared/reference-domain.md. A request records the
section of its kind (`VisitTerms`) and the version number in its event, so every later decision on
that visit — deadlines, quota limits — is judged by the terms in force when it was requested, and
a terms change mid-year affects only later requests.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Kind(StrEnum):
    INSPECTION = "inspection"
    EVALUATION_VISIT = "evaluation_visit"
    OVERFLIGHT = "overflight"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _clock() -> Any:
    """An optional clock: None, or a positive duration of at most a year."""
    return Field(default=None, gt=timedelta(0), le=timedelta(days=366))


class UnitsQuota(_Model):
    """Evaluation visits: the quota follows the units a party reports (Vienna Document 1999
    paras 105–108): one visit per `units_per_visit` units or portion, at most `max_per_year`; from
    one requesting party at most 1/`requester_share_divisor` of the quota (rounded down), or
    `small_quota_requester_cap` when the quota is under `small_quota_below`."""

    units_per_visit: int = Field(default=60, ge=1)
    max_per_year: int = Field(default=15, ge=0)
    requester_share_divisor: int = Field(default=5, ge=1)
    small_quota_below: int = Field(default=5, ge=0)
    small_quota_requester_cap: int = Field(default=1, ge=0)

    def quota(self, units: int | None) -> int:
        if not units:
            return 0
        return min(-(-units // self.units_per_visit), self.max_per_year)

    def requester_cap(self, quota: int) -> int:
        if quota < self.small_quota_below:
            return self.small_quota_requester_cap
        return quota // self.requester_share_divisor


class VisitTerms(_Model):
    """The terms of one kind of visit. Clocks run from the request (`reply_within`,
    `entry_within`), from the expected arrival (`min_notice` before it, `arrival_tolerance` after
    it), from the actual arrival (`plan_within`, `duration`) or from a prohibition
    (`reasons_within`). A clock that is None does not apply to this kind."""

    reply_within: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0), le=timedelta(days=366))
    entry_within: timedelta | None = _clock()
    min_notice: timedelta | None = _clock()
    arrival_tolerance: timedelta | None = _clock()
    plan_within: timedelta | None = _clock()
    duration: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0), le=timedelta(days=366))
    reasons_within: timedelta = Field(default=timedelta(days=7), gt=timedelta(0), le=timedelta(days=366))
    max_team_size: int | None = Field(default=4, ge=1)
    #: Passive quota of each receiving party per calendar year (None: no quota), unless the party
    #: has its own figure in `passive_quotas` (Open Skies quotas differ per party).
    passive_quota: int | None = Field(default=3, ge=0)
    passive_quotas: dict[str, int] = Field(default_factory=dict)
    per_requester_cap: int | None = Field(default=1, ge=0)
    #: Visits a receiving party must host at the same time (None: no limit).
    concurrent_limit: int | None = Field(default=None, ge=1)
    #: When set, the quota comes from reported units instead of `passive_quota`.
    units_quota: UnitsQuota | None = None

    @model_validator(mode="after")
    def _sane(self) -> "VisitTerms":
        if any(value < 0 for value in self.passive_quotas.values()):
            raise ValueError("passive quotas cannot be negative")
        if self.entry_within is not None and self.entry_within < self.reply_within:
            raise ValueError(f"the entry clock ({self.entry_within}) cannot be shorter than the reply clock ({self.reply_within})")
        return self


def _inspection() -> VisitTerms:
    return VisitTerms(entry_within=timedelta(hours=36))


def _evaluation_visit() -> VisitTerms:
    return VisitTerms(entry_within=timedelta(hours=36), passive_quota=None, per_requester_cap=None,
                      concurrent_limit=1, units_quota=UnitsQuota())


def _overflight() -> VisitTerms:
    return VisitTerms(min_notice=timedelta(hours=72), arrival_tolerance=timedelta(hours=24),
                      plan_within=timedelta(hours=8), duration=timedelta(hours=96), max_team_size=None,
                      passive_quota=None, per_requester_cap=None)


class ActivityThreshold(_Model):
    """An activity at or above any one of these figures must be notified in advance (Vienna
    Document Chapter V); None: that figure does not make an activity notifiable."""

    troops: int | None = Field(default=9000, ge=1)
    tanks: int | None = Field(default=250, ge=1)
    armoured_combat_vehicles: int | None = Field(default=500, ge=1)
    artillery: int | None = Field(default=250, ge=1)
    aircraft: int | None = Field(default=None, ge=1)


class ActivityNotice(_Model):
    lead: timedelta = Field(default=timedelta(days=42), ge=timedelta(0), le=timedelta(days=3660))
    threshold: ActivityThreshold = Field(default_factory=ActivityThreshold)


class InspectionTerms(_Model):
    inspection: VisitTerms = Field(default_factory=_inspection)
    evaluation_visit: VisitTerms = Field(default_factory=_evaluation_visit)
    overflight: VisitTerms = Field(default_factory=_overflight)
    activities: ActivityNotice = Field(default_factory=ActivityNotice)

    def of(self, kind: Kind) -> VisitTerms:
        return getattr(self, Kind(kind).value)


def parse(raw: dict[str, Any]) -> InspectionTerms:
    """`Terms.inspections` as typed terms; a section left out keeps its defaults. A partly given
    section is completed from the defaults of its kind (so `{"inspection": {"passive_quota": 5}}`
    keeps the 24 h / 36 h / 48 h clocks). Raises ValueError with a readable message."""
    try:
        merged: dict[str, Any] = {}
        defaults = InspectionTerms()
        for key, value in raw.items():
            section = getattr(defaults, key, None)
            if isinstance(section, BaseModel) and isinstance(value, dict):
                value = {**section.model_dump(exclude_unset=False), **value}
            merged[key] = value
        return InspectionTerms.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'inspections'}: {item['msg']}" for item in error.errors()
        )
        raise ValueError(f"inspection terms: {problems}") from None
