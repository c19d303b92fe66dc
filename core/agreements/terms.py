"""The terms of an agreement: every clock and schedule Parley enforces, as data.

Nothing in the code hard-codes a deadline: a hotline message's acknowledgement deadline, a check
call's answer window or an incident's reporting delay all come from the `Terms` version in force
when the fact happened, and the resulting events record that version. The defaults are the
regimes' usual figures (see shared/reference-domain.md) so an agreement can be concluded with
`Terms()` and adjusted field by field.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from core.inspections.terms import InspectionTerms


class Precedence(StrEnum):
    """Hotline message precedence, most urgent first (military message handling)."""

    FLASH = "FLASH"
    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"


#: Precedences whose missed acknowledgement escalates to the receiving party's alternate contact.
ESCALATING = frozenset({Precedence.FLASH, Precedence.IMMEDIATE})

_Positive = Field(gt=timedelta(0), le=timedelta(days=366))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrecedenceClocks(_Model):
    """One duration per precedence."""

    FLASH: timedelta = _Positive
    IMMEDIATE: timedelta = _Positive
    PRIORITY: timedelta = _Positive
    ROUTINE: timedelta = _Positive

    def of(self, precedence: Precedence) -> timedelta:
        return getattr(self, precedence.value)


def _ack_defaults() -> PrecedenceClocks:
    return PrecedenceClocks(FLASH=timedelta(minutes=10), IMMEDIATE=timedelta(minutes=30),
                            PRIORITY=timedelta(hours=3), ROUTINE=timedelta(hours=6))


def _answer_defaults() -> PrecedenceClocks:
    return PrecedenceClocks(FLASH=timedelta(hours=1), IMMEDIATE=timedelta(hours=2),
                            PRIORITY=timedelta(hours=12), ROUTINE=timedelta(hours=24))


class CheckCallSchedule(_Model):
    """Scheduled check calls: at each `times` on each of `weekdays` (0 = Monday) in `timezone`,
    every party of the agreement except `caller` must answer within `answer_window`."""

    times: tuple[time, ...] = (time(9, 0), time(17, 0))
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    timezone: str = "UTC"
    answer_window: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0), le=timedelta(hours=12))
    caller: str | None = None  # None: the first party of the agreement places the calls
    enabled: bool = True

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= day <= 6 for day in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @field_validator("times")
    @classmethod
    def _times(cls, value: tuple[time, ...]) -> tuple[time, ...]:
        if any(t.tzinfo is not None for t in value):
            raise ValueError("check-call times are local times of `timezone`, without an offset")
        return tuple(sorted(set(value)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Vienna)") from error
        return value

    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def slots_on(self, day: date) -> list[datetime]:
        """The slot start times (aware) of one local calendar day."""
        if not self.enabled or day.weekday() not in self.weekdays:
            return []
        return [datetime.combine(day, t, tzinfo=self.zone()) for t in self.times]


class HotlineTerms(_Model):
    acknowledge: PrecedenceClocks = Field(default_factory=_ack_defaults)
    answer: PrecedenceClocks = Field(default_factory=_answer_defaults)
    check_calls: CheckCallSchedule = Field(default_factory=CheckCallSchedule)
    call_request_response: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0))
    explanation_reply: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0))
    meeting_after_failed_explanation: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0))


class IncidentTerms(_Model):
    report_within: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))
    acknowledge_within: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0))
    counter_account_within: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))


class Terms(_Model):
    """One version of an agreement's terms. `inspections` is kept as the inspection regime's own
    data (validated by core.inspections when that regime is in use)."""

    hotline: HotlineTerms = Field(default_factory=HotlineTerms)
    incidents: IncidentTerms = Field(default_factory=IncidentTerms)
    inspections: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sane(self) -> "Terms":
        ack, answer = self.hotline.acknowledge, self.hotline.answer
        for precedence in Precedence:
            if answer.of(precedence) < ack.of(precedence):
                raise ValueError(
                    f"the {precedence.value} answer deadline ({answer.of(precedence)}) cannot be"
                    f" shorter than its acknowledgement deadline ({ack.of(precedence)})"
                )
        if self.inspections:
            self.inspection_terms()  # raises ValueError when the regime's terms do not parse
        return self

    def inspection_terms(self) -> "InspectionTerms":
        """`inspections` as typed terms (core.inspections.terms; defaults when empty)."""
        from core.inspections.terms import parse

        return parse(self.inspections)


class TermsVersion(_Model):
    """A version of the terms and the moment it takes effect."""

    version: int = Field(ge=1)
    effective_from: datetime
    terms: Terms
