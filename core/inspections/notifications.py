"""Notifications a party owes the others of an agreement: prior notice of a military activity
(Vienna Document Chapter V) and the annual report of units that sets its evaluation-visit quota.

One aggregate per notification, written once. An activity at or above the threshold of the terms
in force must be notified at least the terms' lead time before it starts; a shorter notice is
recorded as `late` in the event itself (the lateness is known the moment it is notified), with
the lead given and the lead required, so the lead-time metric needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.decider import Decider, Fact
from core.errors import Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.hotline.channel import Binding, acting, require, text
from core.identity import Principal, check_id
from core.inspections.area import check_area
from core.inspections.terms import ActivityThreshold

AGGREGATE = "notification"


class Scale(BaseModel):
    """The size of an activity; each figure is a count (0 when none take part)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    troops: int = Field(default=0, ge=0)
    tanks: int = Field(default=0, ge=0)
    armoured_combat_vehicles: int = Field(default=0, ge=0)
    artillery: int = Field(default=0, ge=0)
    aircraft: int = Field(default=0, ge=0)

    def reaches(self, threshold: ActivityThreshold) -> list[str]:
        """The figures at or above the threshold (empty: the activity is below it)."""
        return [name for name, limit in threshold.model_dump().items()
                if limit is not None and getattr(self, name) >= limit]


# --- events ------------------------------------------------------------------------------------

@register
class ActivityNotified(DomainEvent):
    TYPE = "parley.notification.activity-notified.v1"
    agreement_id: str
    party: str
    to_parties: list[str]
    title: str
    start: datetime
    end: datetime
    area: dict[str, Any]
    scale: Scale
    terms_version: int
    notifiable: list[str]  # figures at or above the threshold
    lead: timedelta
    required_lead: timedelta
    late: bool


@register
class UnitsReported(DomainEvent):
    """Units a party reports for a calendar year; its latest report sets its evaluation-visit quota."""

    TYPE = "parley.notification.units-reported.v1"
    agreement_id: str
    party: str
    to_parties: list[str]
    year: int
    units: int
    terms_version: int


# --- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _NotificationCommand:
    notification_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class NotifyActivity(_NotificationCommand):
    agreement_id: str
    title: str
    start: datetime
    end: datetime
    area: dict[str, Any] = field(default_factory=dict)
    scale: Scale = field(default_factory=Scale)
    binding: Binding | None = None


@dataclass(frozen=True, kw_only=True)
class ReportUnits(_NotificationCommand):
    agreement_id: str
    year: int
    units: int
    binding: Binding | None = None


Command = NotifyActivity | ReportUnits


# --- state -------------------------------------------------------------------------------------

class Notification(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agreement_id: str
    party: str
    to_parties: tuple[str, ...]
    notified_at: datetime
    terms_version: int
    kind: str  # "activity" | "units"
    late: bool = False
    title: str = ""
    start: datetime | None = None
    end: datetime | None = None
    area: dict[str, Any] | None = None
    scale: Scale | None = None
    notifiable: tuple[str, ...] = ()
    lead: timedelta | None = None
    required_lead: timedelta | None = None
    year: int | None = None
    units: int | None = None


def decide(state: Notification | None, command: Command) -> list[DomainEvent]:
    check_id(command.notification_id, what="notification id")
    if state is not None:
        raise Rejected(f"notification {command.notification_id} already exists; notify again under a new id")
    binding = require(command.binding)
    party = acting(command.by)
    if party not in binding.parties:
        raise NotFound(f"agreement {binding.agreement_id} does not exist or does not bind your party {party}")
    others = [p for p in binding.parties if p != party]
    match command:
        case NotifyActivity():
            for moment, what in ((command.start, "start"), (command.end, "end")):
                if moment.tzinfo is None:
                    raise Invalid(f"the {what} must include a time zone (e.g. 2026-05-01T06:00:00Z)")
            if command.end < command.start:
                raise Invalid("the activity cannot end before it starts")
            notice = binding.terms.terms.inspection_terms().activities
            notifiable = command.scale.reaches(notice.threshold)
            lead = command.start - command.at
            return [ActivityNotified(
                agreement_id=binding.agreement_id, party=party, to_parties=others,
                title=text(command.title, what="the title", limit=200), start=command.start, end=command.end,
                area=check_area(command.area), scale=command.scale, terms_version=binding.terms.version,
                notifiable=notifiable, lead=lead, required_lead=notice.lead,
                late=bool(notifiable) and lead < notice.lead,
            )]
        case ReportUnits():
            if isinstance(command.units, bool) or not isinstance(command.units, int) or not 0 <= command.units <= 1_000_000:
                raise Invalid("units must be a whole number from 0 to 1,000,000")
            this_year = command.at.astimezone(UTC).year
            if not this_year - 1 <= command.year <= this_year + 1:
                raise Invalid(f"units are reported for last, this or next year ({this_year - 1}–{this_year + 1})")
            return [UnitsReported(agreement_id=binding.agreement_id, party=party, to_parties=others,
                                  year=command.year, units=command.units, terms_version=binding.terms.version)]
    raise Invalid(f"unknown notification command {type(command).__name__}")


def evolve(state: Notification | None, event: DomainEvent, fact: Fact) -> Notification:
    match event:
        case ActivityNotified() if state is None:
            return Notification(id=fact.aggregate_id, agreement_id=event.agreement_id, party=event.party,
                                to_parties=tuple(event.to_parties), notified_at=fact.time,
                                terms_version=event.terms_version, kind="activity", late=event.late,
                                title=event.title, start=event.start, end=event.end, area=event.area,
                                scale=event.scale, notifiable=tuple(event.notifiable), lead=event.lead,
                                required_lead=event.required_lead)
        case UnitsReported() if state is None:
            return Notification(id=fact.aggregate_id, agreement_id=event.agreement_id, party=event.party,
                                to_parties=tuple(event.to_parties), notified_at=fact.time,
                                terms_version=event.terms_version, kind="units", year=event.year, units=event.units)
    raise ValueError(f"{type(event).__name__} cannot apply to notification {state!r}")


DECIDER: Decider[Notification, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
