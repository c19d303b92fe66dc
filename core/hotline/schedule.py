"""Which check-call slots an agreement's terms schedule, between two moments.

A slot belongs to the terms version in force at its start, so a schedule change at time T moves
only the slots after T. Times are local to the schedule's time zone (so 09:00 stays 09:00 across
daylight-saving changes); slots are returned in UTC order. Pure: the scheduler and the API both
call it, and an auditor can recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.agreements.agreement import Agreement


@dataclass(frozen=True, kw_only=True)
class Slot:
    agreement_id: str
    start: datetime
    window_end: datetime
    caller: str
    expected: tuple[str, ...]  # the parties that must answer
    terms_version: int

    @property
    def id(self) -> str:
        """The slot's aggregate id: agreement and UTC start, e.g. `A1-20261130T0900Z`."""
        return f"{self.agreement_id}-{self.start.astimezone(UTC):%Y%m%dT%H%MZ}"


def slots(agreement: Agreement, *, start: datetime, end: datetime) -> list[Slot]:
    """Slots with `start <= slot.start < end`, each under the terms in force at its start."""
    found: dict[datetime, Slot] = {}
    versions = agreement.versions
    for index, version in enumerate(versions):
        lower = max(start, version.effective_from)
        upper = min(end, versions[index + 1].effective_from) if index + 1 < len(versions) else end
        if lower >= upper:
            continue
        schedule = version.terms.hotline.check_calls
        caller = schedule.caller or agreement.parties[0]
        expected = tuple(p for p in agreement.parties if p != caller)
        zone = schedule.zone()
        day = lower.astimezone(zone).date() - timedelta(days=1)
        last = upper.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            for local in schedule.slots_on(day):
                moment = local.astimezone(UTC)
                if lower <= moment < upper:
                    found[moment] = Slot(
                        agreement_id=agreement.id, start=moment, window_end=moment + schedule.answer_window,
                        caller=caller, expected=expected, terms_version=version.version,
                    )
            day += timedelta(days=1)
    return [found[key] for key in sorted(found)]


def slot_at(agreement: Agreement, moment: datetime) -> Slot | None:
    """The slot starting exactly at `moment`, if the terms schedule one."""
    hits = slots(agreement, start=moment, end=moment + timedelta(seconds=1))
    return hits[0] if hits and hits[0].start == moment else None
